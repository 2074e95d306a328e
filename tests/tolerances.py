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
}


def printed(decimals: int) -> dict[str, float]:
    """Tolerance for comparing with a value printed to ``decimals`` places, computed from
    inputs that were themselves printed (rounded) to that many places: one unit in the
    last printed place."""
    return {"rtol": 0.0, "atol": 10.0 ** (-decimals)}
