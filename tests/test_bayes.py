"""Bayesian random-effects posterior (analysis.bayes) against bayesmeta's published numbers
and an independent brute-force quadrature of the joint posterior."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from analysis.bayes import TauPrior, bayes_meta_analysis
from tests.tolerances import TOL, printed

# Rubin (1981) eight schools, as bayesmeta's data("Rubin1981") (Gelman et al. 1997 p.143).
SCHOOLS_Y = np.array([28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16])
SCHOOLS_SE = np.array([14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6])
# Crins et al. (2014) log odds ratios as printed in the bayesmeta vignette (escalc, 4 decimals).
CRINS_Y = np.array([-2.3097, -0.4595, -2.3026, -1.7579, -1.2585, -2.4179])
CRINS_V = np.array([0.3594, 0.3096, 0.7750, 0.2078, 0.4122, 2.3373])


@pytest.fixture(scope="module")
def schools_1():
    """bayesmeta vignette (version 3.4, "Bayesian random-effects meta-analysis using the
    bayesmeta R package", section "Example: 8 schools"): half-Cauchy(25) prior for tau,
    normal(0, 50) prior for mu."""
    return bayes_meta_analysis(SCHOOLS_Y, SCHOOLS_SE ** 2, prior=TauPrior("half_cauchy", scale=25),
                               mu_prior=(0.0, 50.0), labels=list("ABCDEFGH"))


def test_tau_posterior_matches_bayesmeta_vignette(schools_1):
    # print(schools.example.1): "marginal posterior summary", tau column (6 decimals printed);
    # bayesmeta integrates tau's marginal directly, so every printed digit must agree.
    tau = schools_1.tau
    np.testing.assert_allclose(
        [tau.median, tau.mean, tau.sd], [4.758539, 5.884511, 4.869904], **printed(6))
    # schools.example.1$post.interval(tau.level=0.95) (shortest): [0, 15.16589]
    np.testing.assert_allclose(schools_1.interval("tau"), [0.0, 15.16589], **printed(5))
    # $qposterior(tau.p=c(0.025, 0.975)): 0.2199559 18.0531718
    np.testing.assert_allclose([tau.ci_low, tau.ci_high], [0.2199559, 18.0531718], **printed(7))


def test_uniform_prior_tau_matches_bayesmeta_vignette():
    # print(schools.example.2$summary), tau column: default (uniform) prior, flat mu prior.
    res = bayes_meta_analysis(SCHOOLS_Y, SCHOOLS_SE ** 2, prior=TauPrior("uniform"))
    np.testing.assert_allclose([res.tau.median, res.tau.mean, res.tau.sd],
                               [5.227732, 6.585992, 5.685974], **printed(6))
    np.testing.assert_allclose(res.interval("tau")[1], 17.265797, **printed(6))


def test_mu_and_prediction_match_bayesmeta_within_its_discretisation(schools_1):
    # mu and theta columns of print(schools.example.1$summary). bayesmeta evaluates these
    # from its DIRECT mixture, which bounds a divergence (delta = 0.01; Röver & Friede 2017)
    # rather than the printed digits; agreement is therefore to 2e-3 posterior SDs, while the
    # brute-force tests below hold this module's values to 1e-6.
    mu, new = schools_1.mu, schools_1.theta_new
    atol_mu = 2e-3 * mu.sd
    np.testing.assert_allclose([mu.median, mu.mean], [7.962961, 7.985729], rtol=0, atol=atol_mu)
    np.testing.assert_allclose(mu.sd, 4.995762, rtol=0, atol=atol_mu)
    np.testing.assert_allclose(schools_1.interval("mu"), [-1.823353, 17.824562], rtol=0, atol=atol_mu)
    np.testing.assert_allclose(new.mean, 7.985729, rtol=0, atol=atol_mu)
    np.testing.assert_allclose(new.sd, 9.126767, rtol=0, atol=2e-3 * new.sd)
    np.testing.assert_allclose(schools_1.interval("theta_new"), [-10.623526, 26.827377], rtol=0,
                               atol=3e-3 * new.sd)
    # 1 - schools.example.1$pposterior(mu=0) = 0.9487521
    assert schools_1.prob_mu_above(0.0) == pytest.approx(0.9487521, abs=1e-4)
    # shrinkage of school A: mean 11.095255, sd 7.901084 ($theta[, "A"])
    a = schools_1.shrinkage().set_index("label").loc["A"]
    assert a["mean"] == pytest.approx(11.095255, abs=2e-3 * a["sd"])
    assert a["sd"] == pytest.approx(7.901084, abs=2e-3 * a["sd"])


def _brute_force(y, v, log_prior_tau, mu_prior=None):
    """Joint posterior p(mu, tau | y) from the product of normal densities (no conditional
    formulas): 1,500-point Gauss-Legendre over mu on each side of 0, inside scipy's adaptive
    quad over tau."""
    lo = float(y.min()) - 20 * math.sqrt(v.max()) - 10
    hi = float(y.max()) + 20 * math.sqrt(v.max()) + 10
    x, w = np.polynomial.legendre.leggauss(1500)
    halves = [((b - a) / 2 * x + (a + b) / 2, (b - a) / 2 * w) for a, b in ((lo, 0.0), (0.0, hi))]
    mus = np.concatenate([h[0] for h in halves])
    wmu = np.concatenate([h[1] for h in halves])
    above = mus > 0
    log_mu_prior = 0.0 if mu_prior is None else stats.norm.logpdf(mus, *mu_prior)

    def joint(tau):  # density on the mu nodes at this tau
        s = np.sqrt(v + tau * tau)
        lp = stats.norm.logpdf(y[None, :], mus[:, None], s[None, :]).sum(axis=1)
        return np.exp(lp + log_mu_prior + log_prior_tau(tau) + 10)

    def over_tau(g, upper=np.inf):
        # over u = log tau on (-300, log upper), with the Jacobian tau
        top = min(math.log(upper), 8.0)
        return integrate.quad(lambda u: math.exp(u) * float(np.sum(wmu * g(math.exp(u))
                                                                   * joint(math.exp(u)))),
                              -300.0, top, epsabs=0, epsrel=1e-10, limit=400,
                              points=[-5.0, -2.0, 0.0] if top > 0 else None)[0]

    z = over_tau(lambda t: 1.0)
    return {
        "mu_mean": over_tau(lambda t: mus) / z,
        "p_mu_above_0": over_tau(lambda t: above) / z,
        "tau_mean": over_tau(lambda t: t) / z,
        "cdf_tau_0.3": over_tau(lambda t: 1.0, upper=0.3) / z,
        # a new study's true effect: theta_new | mu, tau ~ N(mu, tau²)
        "p_new_above_0": over_tau(lambda t: stats.norm.sf(0.0, mus, max(t, 1e-300))) / z,
    }


@pytest.mark.parametrize("prior, log_prior", [
    (TauPrior("half_normal", scale=0.5), lambda t: stats.halfnorm.logpdf(t, scale=0.5)),
    # Turner et al. (2015) log-normal for tau² (-2.56, 1.74²) as a prior for tau: LN(-1.28, 0.87²)
    (TauPrior("log_normal", location=-2.56, scale=1.74),
     lambda t: stats.lognorm.logpdf(t, s=0.87, scale=math.exp(-1.28)) if t > 0 else -np.inf),
])
def test_posterior_matches_brute_force_quadrature(prior, log_prior):
    res = bayes_meta_analysis(CRINS_Y, CRINS_V, prior=prior)
    ref = _brute_force(CRINS_Y, CRINS_V, log_prior)
    got = {"mu_mean": res.mu.mean, "p_mu_above_0": res.prob_mu_above(0.0),
           "tau_mean": res.tau.mean, "cdf_tau_0.3": res.cdf_tau(0.3),
           "p_new_above_0": res.prob_new_above(0.0)}
    for name, value in ref.items():
        assert got[name] == pytest.approx(value, abs=1e-6, rel=0), name


def test_log_t_prior_and_normal_mu_prior_match_brute_force():
    # Rhodes et al. (2015) general log-t5 prior for tau² (-3.44, 2.59): tau ~ log-t5(-1.72, 1.295)
    prior = TauPrior("log_t", location=-3.44, scale=2.59, df=5)
    y, v = CRINS_Y[:3], CRINS_V[:3]
    res = bayes_meta_analysis(y, v, prior=prior, mu_prior=(0.0, 2.0))

    def log_prior(t):
        return stats.t.logpdf(math.log(t), 5, loc=-1.72, scale=1.295) - math.log(t) if t > 0 else -np.inf
    ref = _brute_force(y, v, log_prior, mu_prior=(0.0, 2.0))
    assert res.mu.mean == pytest.approx(ref["mu_mean"], abs=1e-6)
    assert res.tau.mean == pytest.approx(ref["tau_mean"], abs=1e-6)
    assert res.cdf_tau(0.3) == pytest.approx(ref["cdf_tau_0.3"], abs=1e-6)


def test_quantiles_invert_the_cdf_and_weights_sum_to_one(schools_1):
    assert schools_1.weights.sum() == pytest.approx(1.0, abs=1e-14)
    for p in (0.025, 0.5, 0.975):
        assert schools_1.cdf_tau(schools_1.quantile_tau(p)) == pytest.approx(p, abs=1e-10)
    assert schools_1.prob_mu_above(schools_1.mu.median) == pytest.approx(0.5, abs=1e-10)


def test_improper_posterior_is_refused():
    with pytest.raises(ValueError, match="improper"):
        bayes_meta_analysis([0.1, 0.3], [0.01, 0.02], prior=TauPrior("uniform"))
    with pytest.raises(ValueError, match="scale"):
        TauPrior("half_normal")


def test_one_study_posterior_of_tau_is_the_prior():
    # With k = 1 and a flat mu prior the data carry no information on tau.
    res = bayes_meta_analysis([0.2], [0.04], prior=TauPrior("half_normal", scale=0.5))
    assert res.tau.median == pytest.approx(0.5 * stats.norm.ppf(0.75), abs=1e-8)
    np.testing.assert_allclose(res.tau.mean, 0.5 * math.sqrt(2 / math.pi), **TOL["iterative_tau2"])
