"""CR2 cluster-robust variance with Satterthwaite degrees of freedom (analysis.engine.robust) against
clubSandwich 0.5.8 (tests/reference/robust_clubsandwich.json, made by
tests/reference/robust_clubsandwich.R; R is never called here), beside metafor's CR1."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from analysis.engine.meta_analysis import meta_analysis
from analysis.engine.meta_regression import meta_regression
from analysis.engine.robust import cluster_robust_cr2, robust_variance
from tests.tolerances import TOL

REF = json.loads((Path(__file__).parent / "reference" / "robust_clubsandwich.json").read_text())
CTRL = {"threshold": REF["control"]["threshold"], "maxiter": REF["control"]["maxiter"]}


def _fit(name, model):
    d = REF[name]
    y, v = np.array(d["yi"]), np.array(d["vi"])
    if model == "year":
        return meta_regression(y, v, np.array(d["study_year"], float) - 1990, **CTRL), d
    if model == "fe":
        return meta_analysis(y, v, method="FE"), d
    return meta_analysis(y, v, **CTRL), d


@pytest.mark.parametrize("name, model", [("konstantopoulos", "intercept"), ("konstantopoulos", "year"),
                                         ("bcg", "intercept"), ("bcg", "fe")])
def test_cr2_and_satterthwaite_match_clubsandwich(name, model):
    fit, d = _fit(name, model)
    ref = d[model]
    assert_allclose(np.atleast_1d(fit.tau2), ref["tau2"], **TOL["iterative_tau2"])
    res = cluster_robust_cr2(fit, d["cluster"])
    table = res.coefficients
    assert_allclose(res.vb.ravel(order="F"), ref["vcov"], **TOL["robust_cr2"])
    for ours, theirs in (("se", "se"), ("statistic", "tstat"), ("df", "df"), ("pval", "pval"),
                         ("ci_low", "ci_low"), ("ci_high", "ci_high")):
        assert_allclose(table[ours].to_numpy(), ref[theirs], **TOL["robust_cr2"], err_msg=ours)
    # beside CR1 (metafor's robust()): same clusters, different small-sample corrections
    cr1 = robust_variance(fit, d["cluster"])
    assert_allclose(cr1.coefficients["se"].to_numpy(), ref["cr1_se"], **TOL["robust_cr2"])
    assert cr1.df == ref["cr1_df"]


def test_cr2_refuses_bad_clusters():
    fit, d = _fit("bcg", "fe")
    with pytest.raises(ValueError, match="2 clusters"):
        cluster_robust_cr2(fit, ["a"] * fit.k)
    with pytest.raises(ValueError, match="entries"):
        cluster_robust_cr2(fit, d["cluster"][:-1])
    cluster = list(d["cluster"])
    cluster[2] = None
    with pytest.raises(ValueError, match="missing cluster"):
        cluster_robust_cr2(fit, cluster)
    assert "CR2" in cluster_robust_cr2(fit, d["cluster"]).summary()
