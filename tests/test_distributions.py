"""The plain-math distribution functions behind a default pooled analysis agree with
scipy.special (the reference implementation, Cephes), and importing the engine or fitting a
z-test model loads neither pandas nor scipy."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import special

from analysis.engine import distributions as d

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("df", [1, 2, 3, 4, 7, 18, 19, 99, 100, 399, 400, 401, 2000])
def test_chi2_sf_matches_chdtrc(df):
    xs = np.concatenate([[1e-12, 0.3, df, 2.0 * df], np.linspace(0.01, 4 * df + 20, 60)])
    for x in xs:
        ref = special.chdtrc(df, x)
        assert d.chi2_sf(df, x) == pytest.approx(ref, rel=1e-12, abs=1e-300)
    assert d.chi2_sf(df, 0.0) == 1.0


def test_normal_functions_match_ndtr_ndtri():
    ps = np.concatenate([[1e-300, 1e-20, 0.005, 0.025, 0.5, 0.975, 1 - 1e-12],
                         np.linspace(1e-6, 1 - 1e-6, 2001)])
    for p in ps:
        assert d.norm_ppf(p) == pytest.approx(special.ndtri(p), rel=2e-15, abs=1e-300)
    for x in np.linspace(-30, 8, 3001):
        assert d.norm_cdf(x) == pytest.approx(special.ndtr(x), rel=1e-13, abs=1e-300)
    assert d.norm_isf(0.025) == pytest.approx(1.959963984540054, rel=1e-15)
    assert np.isnan(d.norm_ppf(1.5)) and d.norm_ppf(0.0) == -np.inf


def test_engine_import_and_z_fit_load_neither_pandas_nor_scipy():
    code = ("import sys; from analysis.engine import checks, wls, tau2, meta_analysis, meta_regression, "
            "subgroups, multilevel, sensitivity_checks, batched_fits, influence, cumulative, gosh, "
            "permutation, small_study, trim_and_fill; "
            "r = meta_analysis.meta_analysis([0.1, 0.3, 0.2, 0.5, -0.1], [0.01, 0.02, 0.015, 0.03, 0.02]); "
            "r.summary(); print(sorted(m for m in ('pandas', 'scipy', 'matplotlib', 'rapidfuzz') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert out.stdout.strip() == "[]"
