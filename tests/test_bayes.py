"""Bayesian random-effects posterior (analysis.engine.bayes) against bayesmeta's published numbers
and an independent brute-force quadrature of the joint posterior."""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from analysis.engine.bayes import TauPrior, bayes_meta_analysis
from tests.tolerances import TOL, bayesmeta_mixture, printed

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
    # rather than the printed digits; agreement is therefore to 1e-2 posterior SDs, while the
    # brute-force tests below hold this module's values to 1e-6.
    mu, new = schools_1.mu, schools_1.theta_new
    tol_mu, tol_new = bayesmeta_mixture(mu.sd), bayesmeta_mixture(new.sd)
    np.testing.assert_allclose([mu.median, mu.mean, mu.sd], [7.962961, 7.985729, 4.995762], **tol_mu)
    np.testing.assert_allclose(schools_1.interval("mu"), [-1.823353, 17.824562], **tol_mu)
    np.testing.assert_allclose([new.mean, new.sd], [7.985729, 9.126767], **tol_new)
    np.testing.assert_allclose(schools_1.interval("theta_new"), [-10.623526, 26.827377], **tol_new)
    # 1 - schools.example.1$pposterior(mu=0) = 0.9487521
    assert schools_1.prob_mu_above(0.0) == pytest.approx(0.9487521, abs=1e-4)
    # shrinkage of school A: mean 11.095255, sd 7.901084 ($theta[, "A"])
    a = schools_1.shrinkage().set_index("label").loc["A"]
    np.testing.assert_allclose([a["mean"], a["sd"]], [11.095255, 7.901084], **bayesmeta_mixture(a["sd"]))


def _brute_force(y, v, log_prior_tau, mu_prior=None):
    """Joint posterior p(mu, tau | y) from the product of normal densities (no conditional
    formulas): 600-point Gauss-Legendre over mu on each side of 0, on a range that widens
    with tau, inside scipy's adaptive quad over log tau."""
    x, w = np.polynomial.legendre.leggauss(600)
    centre = float(np.mean(y))

    def mu_nodes(tau):
        half = 20 * math.sqrt(v.max()) + 10 + 12 * tau
        lo, hi = centre - half - abs(centre), centre + half + abs(centre)
        parts = [((b - a) / 2 * x + (a + b) / 2, (b - a) / 2 * w) for a, b in ((lo, 0.0), (0.0, hi))]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def joint(mus, tau):  # density on the mu nodes at this tau
        s = np.sqrt(v + tau * tau)
        lp = stats.norm.logpdf(y[None, :], mus[:, None], s[None, :]).sum(axis=1)
        if mu_prior is not None:
            lp = lp + stats.norm.logpdf(mus, *mu_prior)
        return np.exp(lp + log_prior_tau(tau) + 10)

    def over_tau(g, upper=np.inf):
        # over u = log tau on (-300, log upper), with the Jacobian tau
        top = min(math.log(upper), 8.0)

        def f(u):
            tau = math.exp(u)
            mus, wmu = mu_nodes(tau)
            return tau * float(np.sum(wmu * g(tau, mus) * joint(mus, tau)))
        return integrate.quad(f, -300.0, top, epsabs=0, epsrel=1e-9, limit=400,
                              points=[-5.0, -2.0, 0.0] if top > 0 else None)[0]

    z = over_tau(lambda t, m: 1.0)
    return {
        "mu_mean": over_tau(lambda t, m: m) / z,
        "p_mu_above_0": over_tau(lambda t, m: m > 0) / z,
        "tau_mean": over_tau(lambda t, m: t) / z,
        "cdf_tau_0.3": over_tau(lambda t, m: 1.0, upper=0.3) / z,
        # a new study's true effect: theta_new | mu, tau ~ N(mu, tau²)
        "p_new_above_0": over_tau(lambda t, m: stats.norm.sf(0.0, m, max(t, 1e-300))) / z,
    }


@pytest.mark.parametrize("prior, log_prior", [
    (TauPrior("half_normal", scale=0.5), lambda t: stats.halfnorm.logpdf(t, scale=0.5)),
    (TauPrior("uniform"), lambda t: 0.0),
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
        np.testing.assert_allclose(got[name], value, **TOL["posterior_quadrature"], err_msg=name)


def test_log_t_prior_and_normal_mu_prior_match_brute_force():
    # Rhodes et al. (2015) general log-t5 prior for tau² (-3.44, 2.59): tau ~ log-t5(-1.72, 1.295)
    prior = TauPrior("log_t", location=-3.44, scale=2.59, df=5)
    y, v = CRINS_Y[:3], CRINS_V[:3]
    res = bayes_meta_analysis(y, v, prior=prior, mu_prior=(0.0, 2.0))

    def log_prior(t):
        return stats.t.logpdf(math.log(t), 5, loc=-1.72, scale=1.295) - math.log(t) if t > 0 else -np.inf
    ref = _brute_force(y, v, log_prior, mu_prior=(0.0, 2.0))
    np.testing.assert_allclose([res.mu.mean, res.tau.mean, res.cdf_tau(0.3), res.prob_new_above(0.0)],
                               [ref["mu_mean"], ref["tau_mean"], ref["cdf_tau_0.3"], ref["p_new_above_0"]],
                               **TOL["posterior_quadrature"])


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


BM = json.loads((Path(__file__).parent / "reference" / "bayes_bayesmeta.json").read_text())
PRIORS_CSV = {row["prior_id"]: row for row in
              csv.DictReader((Path(__file__).parents[1] / "data" / "priors.csv").open(encoding="utf-8"))}
BM_PRIORS = {
    "half_normal": TauPrior("half_normal", scale=0.5),
    "half_cauchy": TauPrior("half_cauchy", scale=0.5),
    "turner": TauPrior("log_normal", location=BM["turner_parameters"]["meanlog_tau2"],
                       scale=BM["turner_parameters"]["sdlog_tau2"]),
    "rhodes": TauPrior("log_t", location=BM["rhodes_parameters"]["location_tau2"],
                       scale=BM["rhodes_parameters"]["scale_tau2"], df=5),
    "uniform": TauPrior("uniform"),
}


@pytest.mark.parametrize("name", list(BM["fits"]))
def test_posterior_matches_bayesmeta_run(name):
    """tests/reference/bayes_bayesmeta.json: bayesmeta 3.4 on the Crins et al. data."""
    ref = BM["fits"][name]
    res = bayes_meta_analysis(BM["yi"], BM["vi"], prior=BM_PRIORS[name])
    if "error" in ref:
        # bayesmeta's integrate() gives up on the log-t prior (density infinite at tau = 0);
        # integration over log tau does not, and matches the brute-force quadrature above.
        assert name == "rhodes" and "integrand" in ref["error"]
        assert 0 < res.tau.median < res.tau.ci_high
        return
    tau = res.tau
    np.testing.assert_allclose([tau.median, tau.mean, tau.sd, tau.ci_low, tau.ci_high, res.cdf_tau(0.3)],
                               [ref["tau"]["median"], ref["tau"]["mean"], ref["tau"]["sd"],
                                *ref["tau"]["central"], ref["cdf_tau_0.3"]], **TOL["bayesmeta_tau"])
    mu = res.mu
    np.testing.assert_allclose([mu.median, mu.mean, mu.sd, mu.ci_low, mu.ci_high],
                               [ref["mu"]["median"], ref["mu"]["mean"], ref["mu"]["sd"],
                                *ref["mu"]["central"]], **bayesmeta_mixture(mu.sd))
    np.testing.assert_allclose(res.prob_mu_above(0.0), ref["mu"]["p_above_0"], rtol=0, atol=1e-4)
    np.testing.assert_allclose([res.theta_new.mean, res.theta_new.sd],
                               [ref["theta"]["mean"], ref["theta"]["sd"]],
                               **bayesmeta_mixture(res.theta_new.sd))


def test_empirical_priors_in_the_data_are_bayesmeta_tables():
    # data/priors.csv against bayesmeta's copies of Turner et al. (2015) Table IV and
    # Rhodes et al. (2015) Table 3, read by TurnerEtAlPrior() / RhodesEtAlPrior().
    turner = PRIORS_CSV["turner2015_process_nonpharm_vs_control"]
    rhodes = PRIORS_CSV["rhodes2015_subjective_nonpharm"]
    assert float(turner["location"]) == BM["turner_parameters"]["meanlog_tau2"]
    assert float(turner["scale"]) == BM["turner_parameters"]["sdlog_tau2"]
    assert float(rhodes["location"]) == BM["rhodes_parameters"]["location_tau2"]
    assert float(rhodes["scale"]) == BM["rhodes_parameters"]["scale_tau2"]
    assert rhodes["df"] == "5"
