"""Side-by-side timing of the pooling engine (analysis.models) and its peers.

On the same simulated data at each k, in one run, this times:
* this engine: ``meta_analysis(yi, vi, method=...)`` (estimate, SE, CI, Q, I², H², PI);
  the Q-profile interval for tau² (metafor's ``confint()``) is timed separately;
* statsmodels ``combine_effects`` with method_re="chi2" (DerSimonian-Laird) and
  "iterated" (Paule-Mandel), against the engine's DL and PM;
* PyMARE ``VarianceBasedLikelihoodEstimator(method="REML")``, against the engine's REML;
* metafor ``rma(yi, vi, method="REML")`` when ``Rscript`` with metafor is installed, timed
  inside R with ``proc.time()`` over repeats so that R's start-up is excluded.

It checks that the estimates agree (largest absolute difference in tau² and in the pooled
estimate) and writes a markdown table of times and ratios into the engine section of
benchmarks/README.md. Usage:

    .venv/bin/python benchmarks/bench_engine.py                 # k = 20 ... 100,000, a few minutes
    .venv/bin/python benchmarks/bench_engine.py --metafor-10000  # adds metafor at k = 10,000
    .venv/bin/python benchmarks/bench_engine.py --sizes 20 1000 --no-write
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readme_sections import write_marked_section  # noqa: E402
from analysis import models  # noqa: E402

README = REPO / "benchmarks" / "README.md"
START, END = "<!-- engine-benchmark:start -->", "<!-- engine-benchmark:end -->"
METAFOR_MAX_K = 10_000  # metafor builds k-by-k matrices; k = 100,000 does not fit

R_SCRIPT = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
reps <- as.integer(args[2])
# warm-up for small k only: at k = 10,000 one fit takes minutes
if (nrow(d) <= 1000) fit <- rma(d$yi, d$vi, method = "REML")
t0 <- proc.time()[["elapsed"]]
for (i in seq_len(reps)) fit <- rma(d$yi, d$vi, method = "REML")
elapsed <- proc.time()[["elapsed"]] - t0
cat(sprintf('{"seconds_per_fit": %.10g, "tau2": %.17g, "estimate": %.17g, "reps": %d}\n',
            elapsed / reps, fit$tau2, as.numeric(fit$beta), reps))
"""


def simulate(k: int, seed: int = 20231) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean differences from two-arm trials of 10 to 250 per arm,
    true effects N(0.3, tau² = 0.05)."""
    rng = np.random.default_rng(seed + k)
    n = rng.integers(10, 251, size=(k, 2))
    theta = rng.normal(0.3, np.sqrt(0.05), k)
    vi = 1 / n[:, 0] + 1 / n[:, 1] + theta**2 / (2 * n.sum(axis=1))
    yi = rng.normal(theta, np.sqrt(vi))
    return yi, vi


def time_call(func, min_total: float = 0.5, max_reps: int = 2000) -> float:
    """Median seconds per call over repeats lasting about ``min_total`` seconds."""
    func()  # warm-up
    t0 = time.perf_counter()
    func()
    once = max(time.perf_counter() - t0, 1e-7)
    reps = int(min(max_reps, max(3, min_total / once)))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def run_metafor(yi, vi, reps: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "bench.R"
        np.savetxt(csv, np.column_stack([yi, vi]), delimiter=",", header="yi,vi", comments="", fmt="%.17g")
        script.write_text(R_SCRIPT)
        proc = subprocess.run(["Rscript", str(script), str(csv), str(reps)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"metafor run failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench(sizes, metafor_10000: bool) -> list[dict]:
    from pymare.estimators import VarianceBasedLikelihoodEstimator
    from statsmodels.stats.meta_analysis import combine_effects

    rows = []
    for k in sizes:
        yi, vi = simulate(k)
        row: dict = {"k": k}
        ours = {m: models.meta_analysis(yi, vi, method=m) for m in ("REML", "DL", "PM")}
        row["engine_reml"] = time_call(lambda: models.meta_analysis(yi, vi, method="REML"))
        row["engine_reml_ci"] = time_call(lambda: models.meta_analysis(yi, vi, method="REML").tau2_ci)
        row["engine_dl"] = time_call(lambda: models.meta_analysis(yi, vi, method="DL"))
        row["engine_pm"] = time_call(lambda: models.meta_analysis(yi, vi, method="PM"))

        X = np.ones((k, 1))

        def pymare_fit():
            est = VarianceBasedLikelihoodEstimator(method="REML")
            est.fit(y=yi[:, None], v=vi[:, None], X=X)
            return est

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            row["pymare_reml"] = time_call(pymare_fit)
            est = pymare_fit()
            row["pymare_dtau2"] = abs(float(est.params_["tau2"].ravel()[0]) - ours["REML"].tau2)
            row["pymare_dest"] = abs(float(est.params_["fe_params"].ravel()[0]) - ours["REML"].estimate)
            for tag, method_re, ref in (("dl", "chi2", "DL"), ("pm", "iterated", "PM")):
                row[f"sm_{tag}"] = time_call(lambda m=method_re: combine_effects(yi, vi, method_re=m))
                res = combine_effects(yi, vi, method_re=method_re)
                row[f"sm_{tag}_dtau2"] = abs(float(res.tau2) - ours[ref].tau2)
                row[f"sm_{tag}_dest"] = abs(float(res.mean_effect_re) - ours[ref].estimate)

        if k < METAFOR_MAX_K or (k == METAFOR_MAX_K and metafor_10000):
            reps = 200 if k <= 100 else (3 if k <= 1000 else 1)
            mf = run_metafor(yi, vi, reps)
            if mf is not None:
                row["metafor_reml"] = mf["seconds_per_fit"]
                row["metafor_dtau2"] = abs(mf["tau2"] - ours["REML"].tau2)
                row["metafor_dest"] = abs(mf["estimate"] - ours["REML"].estimate)
        rows.append(row)
        print(json.dumps({key: (f"{val:.3g}" if isinstance(val, float) else val) for key, val in row.items()}),
              flush=True)
    return rows


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.1f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_ratio(peer: float | None, ours: float) -> str:
    return "–" if peer is None else f"{peer / ours:,.0f}×" if peer / ours >= 10 else f"{peer / ours:.1f}×"


def fmt_diff(x: float | None) -> str:
    return "–" if x is None else f"{x:.0e}"


def markdown(rows: list[dict]) -> str:
    import pymare
    import scipy
    import statsmodels

    r_version = ""
    if shutil.which("Rscript"):
        proc = subprocess.run(["Rscript", "-e", 'cat(R.version.string, "/ metafor", '
                               'as.character(packageVersion("metafor")))'], capture_output=True, text=True)
        r_version = proc.stdout.strip()
    lines = [
        "## Pooling engine (`analysis.models`)",
        "",
        "Generated by `benchmarks/bench_engine.py` on "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"statsmodels {statsmodels.__version__}, PyMARE {pymare.__version__}"
        + (f", {r_version}" if r_version else "") + ".",
        "Same simulated data for every program at each k (SMDs of two-arm trials, tau² = 0.05).",
        "Times are per fit (median of repeats; metafor timed inside R with `proc.time()`).",
        "Ratio = peer's time / this engine's time for the same estimator (> 1: the engine is faster).",
        "The engine's fit includes estimate, SE, CI, Q, I², H² and the prediction interval;",
        "the column \"+ Q-profile CI\" adds the tau² / I² confidence interval (metafor's `confint()`).",
        "",
        "| k | engine REML | + Q-profile CI | PyMARE REML | ratio | metafor REML | ratio "
        "| engine DL | statsmodels DL | ratio | engine PM | statsmodels PM | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['k']:,} | {fmt_time(r['engine_reml'])} | {fmt_time(r['engine_reml_ci'])} "
            f"| {fmt_time(r['pymare_reml'])} | {fmt_ratio(r['pymare_reml'], r['engine_reml'])} "
            f"| {fmt_time(r.get('metafor_reml'))} | {fmt_ratio(r.get('metafor_reml'), r['engine_reml'])} "
            f"| {fmt_time(r['engine_dl'])} | {fmt_time(r['sm_dl'])} | {fmt_ratio(r['sm_dl'], r['engine_dl'])} "
            f"| {fmt_time(r['engine_pm'])} | {fmt_time(r['sm_pm'])} | {fmt_ratio(r['sm_pm'], r['engine_pm'])} |"
        )
    lines += [
        "",
        "Agreement with the engine (largest absolute difference, tau² / pooled estimate):",
        "",
        "| k | metafor REML | PyMARE REML | statsmodels DL | statsmodels PM |",
        "|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['k']:,} | {fmt_diff(r.get('metafor_dtau2'))} / {fmt_diff(r.get('metafor_dest'))} "
            f"| {fmt_diff(r['pymare_dtau2'])} / {fmt_diff(r['pymare_dest'])} "
            f"| {fmt_diff(r['sm_dl_dtau2'])} / {fmt_diff(r['sm_dl_dest'])} "
            f"| {fmt_diff(r['sm_pm_dtau2'])} / {fmt_diff(r['sm_pm_dest'])} |"
        )
    lines += [
        "",
        "metafor is never run above k = 10,000 (it forms k-by-k matrices) and at k = 10,000 only",
        "with `--metafor-10000`: on this shared 2-CPU machine one such fit had used 14 CPU",
        "minutes without finishing when it was stopped, which would break the script's few-minute",
        "default run. PyMARE stops its",
        "bounded search for tau² at xtol = 1e-6 and statsmodels its Paule-Mandel iteration at",
        "its own tolerance, so their tau² can differ from metafor's from the 5th decimal on; the",
        "engine reproduces metafor's algorithm (see tests/test_models.py).",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace the engine section of benchmarks/README.md (other sections untouched)."""
    write_marked_section(START, END, text, README)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 1_000, 10_000, 100_000])
    parser.add_argument("--metafor-10000", action="store_true",
                        help="also run metafor at k = 10,000 (minutes to tens of minutes per fit)")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    rows = bench(args.sizes, args.metafor_10000)
    text = markdown(rows)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"wrote {README.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
