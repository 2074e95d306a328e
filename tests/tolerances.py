"""The numerical tolerances of every test, in one table.

Use with ``numpy.testing.assert_allclose(actual, expected, **TOL["closed_form"])``.
A value passes when |actual - expected| <= atol + rtol * |expected|.
"""
from __future__ import annotations

TOL: dict[str, dict[str, float]] = {
    # Closed-form quantities (effect sizes, FE/DL/HE/HS/SJ fits, Q, I²) against metafor
    # or an exact definition: agreement to rounding error.
    "closed_form": {"rtol": 1e-10, "atol": 1e-10},
    # tau² from an iterative estimator (REML, ML, EB by Fisher scoring; PM and Q-profile
    # bounds by root finding), reproduced step for step from metafor's algorithm.
    "iterative_tau2": {"rtol": 0.0, "atol": 1e-8},
    # Anything computed from an iterative tau² (estimate, SE, CI, PI, I², weights).
    "iterative_derived": {"rtol": 1e-8, "atol": 1e-10},
    # Meta-regression on a badly conditioned design (e.g. calendar year beside an
    # intercept): metafor solves by QR, this engine by normal equations.
    "ill_conditioned": {"rtol": 1e-8, "atol": 1e-9},
    # Variance components from a numerical optimiser (rma.mv's nlminb vs L-BFGS-B):
    # agreement to the optimisers' convergence tolerance.
    "optimizer": {"rtol": 1e-6, "atol": 1e-8},
    # Bayesian posterior (analysis.engine.bayes, adaptive Gauss-Kronrod to ~1e-10) against an
    # independent brute-force quadrature of the joint posterior.
    "posterior_quadrature": {"rtol": 0.0, "atol": 1e-6},
    # tau's marginal posterior against bayesmeta, which integrates it with R's integrate()
    # (rel.tol 2^16 eps) and finds quantiles by uniroot() at the same tolerance.
    "bayesmeta_tau": {"rtol": 1e-8, "atol": 1e-12},
    # Cluster-robust CR2 variance and Satterthwaite degrees of freedom against clubSandwich:
    # closed forms given tau², which comes from REML at the 1e-10 threshold.
    "robust_cr2": {"rtol": 1e-8, "atol": 1e-10},
}


def bayesmeta_mixture(posterior_sd: float) -> dict[str, float]:
    """Tolerance for bayesmeta's mu / theta summaries: bayesmeta evaluates them from its
    DIRECT mixture, whose grid bounds a divergence (delta = 0.01; Röver & Friede 2017,
    J Comput Graph Stat 26:823) rather than the printed digits: 1e-2 posterior SDs (the
    largest gap seen, for the posterior SD under the uniform prior, is 6e-3 SDs)."""
    return {"rtol": 0.0, "atol": 1e-2 * posterior_sd}


def printed(decimals: int) -> dict[str, float]:
    """Tolerance for comparing with a value printed to ``decimals`` places, computed from
    inputs that were themselves printed (rounded) to that many places: one unit in the
    last printed place."""
    return {"rtol": 0.0, "atol": 10.0 ** (-decimals)}
