"""Side-by-side timing of the pooling engine (analysis.engine.meta_analysis) and its peers, at equal precision.

On the same simulated data at each k this times, in one process, interleaved (every
contender once per round, the order rotated each round, after warm-up calls):

* REML: the engine with metafor's stopping rule (default) and converged (``converged=True``);
  PyMARE ``VarianceBasedLikelihoodEstimator(method="REML")``; metafor ``rma(method="REML")``
  (in R, timed inside R with ``proc.time()``, R's start-up excluded);
* DL: the engine; PyMARE ``DerSimonianLaird``; statsmodels ``combine_effects(method_re="chi2")``;
* PM: the engine default and converged; statsmodels ``combine_effects(method_re="iterated")``.

Every contender's tau² is compared with a reference computed here independently of all of
them (the root of the REML score or of the Paule-Mandel equation by ``scipy.optimize.brentq``
at xtol = 1e-15; DL's closed form in ``math.fsum``); that distance is the precision column.
Each peer is compared with the engine mode that is at least as precise as the peer.
BLAS threads are limited to one for every library with threadpoolctl (and for R through
the OpenBLAS/OMP variables); the libraries and their thread counts are printed in the table.
A fresh-process column times "start the interpreter, import, fit k = 20, print" for the
engine, metafor (Rscript), statsmodels and PyMARE. Measurements, not tests.

    python benchmarks/bench_engine.py                      # k = 20 ... 100,000, about a minute
    python benchmarks/bench_engine.py --sizes 20 1000 --no-write
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy loads its BLAS; threadpoolctl below makes sure

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readme_sections import write_marked_section  # noqa: E402
from analysis.engine.meta_analysis import meta_analysis  # noqa: E402

README = REPO / "benchmarks" / "README.md"
START, END = "<!-- engine-benchmark:start -->", "<!-- engine-benchmark:end -->"
METAFOR_MAX_K = 1_000  # metafor forms k-by-k matrices: one REML fit at k = 10,000 takes minutes
PEER_NOTE = {
    "engine": "estimate, SE, z CI, Q and its p-value, I², H², prediction interval, weights",
    "metafor": "rma(): the same as the engine plus fit statistics and the model frame",
    "PyMARE": "estimator .fit(): tau² and the pooled estimate with its covariance only",
    "statsmodels": "combine_effects(): common-effect, random-effects and Knapp-Hartung results, "
                   "Q and I², in every call",
}


def simulate(k: int, seed: int = 20231) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean differences from two-arm trials of 10 to 250 per arm,
    true effects N(0.3, tau² = 0.05)."""
    rng = np.random.default_rng(seed + k)
    n = rng.integers(10, 251, size=(k, 2))
    theta = rng.normal(0.3, np.sqrt(0.05), k)
    vi = 1 / n[:, 0] + 1 / n[:, 1] + theta**2 / (2 * n.sum(axis=1))
    yi = rng.normal(theta, np.sqrt(vi))
    return yi, vi


# --------------------------------------------------------------------------- references
def reference_tau2(method: str, y: np.ndarray, v: np.ndarray) -> float:
    """tau² to full precision, by a route none of the contenders takes."""
    from scipy.optimize import brentq

    if method == "DL":
        w = [1 / x for x in v]
        sw = math.fsum(w)
        mu = math.fsum(wi * yi for wi, yi in zip(w, y)) / sw
        q = math.fsum(wi * (yi - mu) ** 2 for wi, yi in zip(w, y))
        c = sw - math.fsum(wi * wi for wi in w) / sw
        return max(0.0, (q - (len(y) - 1)) / c)

    def reml_score(t):
        w = 1 / (v + t)
        r = y - (w * y).sum() / w.sum()
        return (w * w * r * r).sum() - (w.sum() - (w * w).sum() / w.sum())

    def pm_equation(t):
        w = 1 / (v + t)
        return (w * (y - (w * y).sum() / w.sum()) ** 2).sum() - (y.size - 1)

    f = reml_score if method == "REML" else pm_equation
    return brentq(f, 0.0, 10.0, xtol=1e-15, rtol=4 * np.finfo(float).eps) if f(0.0) > 0 else 0.0


# --------------------------------------------------------------------------- contenders
def contenders(yi: np.ndarray, vi: np.ndarray) -> list[dict]:
    """(estimator, program, mode, call, tau2 of the result) for every timed call."""
    from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
    from statsmodels.stats.meta_analysis import combine_effects

    y2, v2, X = yi[:, None], vi[:, None], np.ones((yi.size, 1))

    def engine(method, converged):
        return lambda: meta_analysis(yi, vi, method=method, converged=converged)

    def pymare(estimator):
        def fit():
            est = estimator()
            est.fit(y=y2, v=v2, X=X)
            return est
        return fit

    rows = []
    for method in ("REML", "DL", "PM"):
        modes = [("default", False)] + ([("converged", True)] if method != "DL" else [])
        for mode, flag in modes:
            rows.append({"estimator": method, "program": "engine", "mode": mode, "call": engine(method, flag),
                         "tau2": lambda r: r.tau2})
    rows.append({"estimator": "REML", "program": "PyMARE", "mode": "own",
                 "call": pymare(lambda: VarianceBasedLikelihoodEstimator(method="REML")),
                 "tau2": lambda e: float(e.params_["tau2"].ravel()[0])})
    rows.append({"estimator": "DL", "program": "PyMARE", "mode": "own", "call": pymare(DerSimonianLaird),
                 "tau2": lambda e: float(e.params_["tau2"].ravel()[0])})
    for method, method_re in (("DL", "chi2"), ("PM", "iterated")):
        rows.append({"estimator": method, "program": "statsmodels", "mode": "own",
                     "call": lambda m=method_re: combine_effects(yi, vi, method_re=m),
                     "tau2": lambda r: float(r.tau2)})
    return rows


def interleaved_times(calls: list, rounds: int, batch_seconds: float = 0.01) -> list[list[float]]:
    """Seconds per call of each function, one batch per round, the order rotated every round.
    Two warm-up calls each first (page faults of fresh allocations, lazy imports)."""
    batch = []
    for call in calls:
        call()
        t0 = time.perf_counter()
        call()
        once = max(time.perf_counter() - t0, 1e-7)
        batch.append(max(1, int(batch_seconds / once)))
    times: list[list[float]] = [[] for _ in calls]
    for r in range(rounds):
        order = list(range(len(calls)))
        order = order[r % len(order):] + order[: r % len(order)]
        for i in order:
            call, n = calls[i], batch[i]
            t0 = time.perf_counter()
            for _ in range(n):
                call()
            times[i].append((time.perf_counter() - t0) / n)
    return times


R_FIT = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
reps <- as.integer(args[2])
batch <- as.integer(args[3])  # fits per timed batch: proc.time() counts milliseconds
fit <- rma(d$yi, d$vi, method = "REML")  # warm-up
secs <- numeric(reps)
for (i in seq_len(reps)) {
  t0 <- proc.time()[["elapsed"]]
  for (j in seq_len(batch)) fit <- rma(d$yi, d$vi, method = "REML")
  secs[i] <- (proc.time()[["elapsed"]] - t0) / batch
}
cat(sprintf('{"min": %.10g, "median": %.10g, "tau2": %.17g, "reps": %d}\n',
            min(secs), median(secs), fit$tau2, reps))
"""


def r_environment() -> str | None:
    if shutil.which("Rscript") is None:
        return None
    code = ('suppressMessages(library(metafor)); cat(R.version.string, "/ metafor", '
            'as.character(packageVersion("metafor")), "/ BLAS", extSoftVersion()[["BLAS"]])')
    proc = subprocess.run(["Rscript", "-e", code], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def r_blas_kind(r_env: str) -> str:
    """Which BLAS the metafor figures were measured with, in words."""
    path = r_env.rsplit("/ BLAS", 1)[-1].strip()
    if "openblas" in path.lower():
        return f"OpenBLAS ({path})"
    if "mkl" in path.lower():
        return f"MKL ({path})"
    if path.endswith(("/blas/libblas.so.3", ".so.3.11.0")) or "/blas/libblas" in path:
        return f"the reference (netlib) BLAS, single-threaded ({path})"
    return path


def run_metafor(yi, vi, reps: int, batch: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp) / "d.csv", Path(tmp) / "bench.R"
        np.savetxt(csv, np.column_stack([yi, vi]), delimiter=",", header="yi,vi", comments="", fmt="%.17g")
        script.write_text(R_FIT)
        proc = subprocess.run(["Rscript", str(script), str(csv), str(reps), str(batch)],
                              capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"metafor run failed: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- one size
def bench_size(k: int, rounds: int) -> dict:
    yi, vi = simulate(k)
    rows = contenders(yi, vi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        times = interleaved_times([row["call"] for row in rows], rounds)
        refs = {m: reference_tau2(m, yi, vi) for m in ("REML", "DL", "PM")}
        out = []
        for row, ts in zip(rows, times):
            tau2 = row["tau2"](row["call"]())
            out.append({"estimator": row["estimator"], "program": row["program"], "mode": row["mode"],
                        "min": min(ts), "median": float(np.median(ts)), "n": len(ts),
                        "error": abs(tau2 - refs[row["estimator"]])})
    if k <= METAFOR_MAX_K:
        mf = run_metafor(yi, vi, reps=7 if k <= 100 else 2, batch=50 if k <= 100 else 1)
        if mf is not None:
            out.append({"estimator": "REML", "program": "metafor", "mode": "own", "min": mf["min"],
                        "median": mf["median"], "n": mf["reps"], "error": abs(mf["tau2"] - refs["REML"])})
    return {"k": k, "rows": out}


def matched_engine(result: dict, peer: dict) -> dict:
    """The fastest engine mode of the same estimator whose tau² is as precise as the peer's
    (up to 1e-12, the rounding level of a converged tau², and a relative 1e-6, so that the same
    algorithm stopped at the same place, as the engine's default and metafor, counts as equal)."""
    engines = [r for r in result["rows"] if r["program"] == "engine" and r["estimator"] == peer["estimator"]]
    good = [r for r in engines if r["error"] <= peer["error"] * (1 + 1e-6) + 1e-12]
    return min(good or engines, key=lambda r: r["median"])


# --------------------------------------------------------------------------- fresh processes
def fresh_process(repeats: int) -> list[dict]:
    """Wall time of whole processes: start, import, fit k = 20, print. Interleaved, one
    warm-up each (which also writes the engine's bytecode cache, as any first use does)."""
    yi, vi = simulate(20)
    ys, vs = ", ".join(f"{x:.17g}" for x in yi), ", ".join(f"{x:.17g}" for x in vi)
    env = {key: val for key, val in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    py = sys.executable
    commands = [
        ("engine", "REML, everything the engine reports; `summary()` printed",
         [py, "-c", f"from analysis.engine.meta_analysis import meta_analysis; r = meta_analysis([{ys}], [{vs}]); print(r.summary())"]),
        ("statsmodels", "PM (`iterated`; it has no REML); `summary_frame()` printed",
         [py, "-c", "import numpy as np; from statsmodels.stats.meta_analysis import combine_effects; "
          f"r = combine_effects(np.array([{ys}]), np.array([{vs}]), method_re='iterated'); "
          "print(r.summary_frame())"]),
        ("PyMARE", "REML, `meta_regression()`; `to_df()` printed",
         [py, "-c", "import numpy as np; from pymare import meta_regression; "
          f"r = meta_regression(np.array([{ys}]), np.array([{vs}]), method='REML'); print(r.to_df())"]),
    ]
    if shutil.which("Rscript"):
        commands.append(("metafor", "REML, `print(rma())`", [
            "Rscript", "-e", f"suppressMessages(library(metafor)); print(rma(c({ys}), c({vs}), method = 'REML'))"]))
    for _, _, cmd in commands:
        subprocess.run(cmd, capture_output=True, cwd=REPO, env=env, check=True)
    times: list[list[float]] = [[] for _ in commands]
    for r in range(repeats):
        for i in (range(len(commands)) if r % 2 == 0 else reversed(range(len(commands)))):
            t0 = time.perf_counter()
            subprocess.run(commands[i][2], capture_output=True, cwd=REPO, env=env, check=True)
            times[i].append(time.perf_counter() - t0)
    return [{"program": name, "what": what, "min": min(ts), "median": float(np.median(ts)), "n": len(ts)}
            for (name, what, _), ts in zip(commands, times)]


# --------------------------------------------------------------------------- report
def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_ratio(x: float) -> str:
    return f"{x:,.0f}×" if x >= 100 else f"{x:.1f}×" if x >= 10 else f"{x:.2f}×"


def blas_lines() -> list[str]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # a benchmark-only tool, not among the project's requirements
        return ["threadpoolctl not installed: one thread requested through OPENBLAS_NUM_THREADS, "
                "OMP_NUM_THREADS and MKL_NUM_THREADS before numpy loaded, not verified"]

    seen = []
    for lib in threadpool_info():
        line = (f"{lib.get('internal_api')} {lib.get('version')} ({Path(lib.get('filepath', '')).name}), "
                f"{lib.get('num_threads')} thread(s)")
        if line not in seen:
            seen.append(line)
    return seen


def markdown(results: list[dict], fresh: list[dict], r_env: str | None, rounds: int) -> str:
    import pymare
    import scipy
    import statsmodels

    lines = [
        "## Pooling engine (`analysis.engine.meta_analysis`)",
        "",
        "Generated by `python benchmarks/bench_engine.py` (part of `make benchmarks`) on "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: {platform.machine()}, {os.cpu_count()} CPUs "
        "shared with other work, "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"statsmodels {statsmodels.__version__}, PyMARE {pymare.__version__}"
        + (f"; {r_env}" if r_env else "") + ".",
        "",
        "BLAS threads, limited with threadpoolctl (`pip install threadpoolctl`; not a requirement of "
        "the project) for every Python contender (one process, so the same libraries for all): " + "; ".join(blas_lines()) + ". "
        + (f"metafor's figures: R with {r_blas_kind(r_env)} (OPENBLAS_NUM_THREADS=1 set for R as well)."
           if r_env else ""),
        "",
        "Same simulated data for every program at each k (SMDs of two-arm trials, tau² = 0.05). "
        f"Python contenders: {rounds} interleaved rounds after two warm-up calls each, the order "
        "rotated every round, each round a batch of about 10 ms; min and median seconds per call over "
        "the rounds. metafor: timed inside R with `proc.time()`, one warm-up fit, then each fit "
        "in 7 batches of 50 fits at k = 20 and 2 single fits at k = 1,000, min and median per fit; "
        "R's start-up excluded. "
        f"metafor is not run above k = {METAFOR_MAX_K:,}: it forms k-by-k matrices (one REML fit at "
        "k = 10,000 takes minutes).",
        "",
        "What each call computes: " + "; ".join(f"**{k}** {v}" for k, v in PEER_NOTE.items()) + ".",
        "",
        "Precision = |tau² − reference|, the reference being the root of the REML score or of the "
        "Paule-Mandel equation found by `scipy.optimize.brentq` at xtol = 1e-15 (DL: its closed form "
        "in `math.fsum`), independent of every contender. The engine's default stops where metafor's "
        "defaults stop (REML: a step below 1e-5; PM: R's `uniroot` tolerance); `converged=True` goes "
        "to 1e-12. Each peer is compared with the fastest engine mode at least as precise as the "
        "peer (ratio = peer's median / that engine mode's median; > 1: the engine is faster).",
        "",
        "| k | estimator | program | mode | precision | min | median | engine mode compared "
        "| engine median | ratio |",
        "|---:|---|---|---|---:|---:|---:|---|---:|---:|",
    ]
    worst = []
    for res in results:
        for row in sorted(res["rows"], key=lambda r: ("REML DL PM".split().index(r["estimator"]),
                                                      r["program"] != "engine", r["program"], r["mode"])):
            cells = [f"{res['k']:,}", row["estimator"], row["program"], row["mode"], f"{row['error']:.0e}",
                     fmt_time(row["min"]), fmt_time(row["median"])]
            if row["program"] == "engine":
                cells += ["", "", ""]
            else:
                eng = matched_engine(res, row)
                ratio = row["median"] / eng["median"]
                worst.append((ratio, res["k"], row["estimator"], row["program"]))
                cells += [eng["mode"], fmt_time(eng["median"]), fmt_ratio(ratio)]
            lines.append("| " + " | ".join(cells) + " |")
    if worst:
        low = min(worst)
        lines += ["", f"Smallest ratio: {fmt_ratio(low[0])} ({low[2]} against {low[3]} at k = {low[1]:,})."]
    if fresh:
        base = next(r for r in fresh if r["program"] == "engine")
        lines += [
            "",
            "### Fresh process: start, import, fit k = 20, print",
            "",
            "Whole processes (the interpreter or `Rscript` started each time), wall clock, "
            f"{fresh[0]['n']} runs of each, interleaved, after one warm-up run each (which writes the "
            "bytecode caches, as any first use does). Ratio = the program's median / the engine's.",
            "",
            "| program | what it runs | min | median | ratio |",
            "|---|---|---:|---:|---:|",
        ]
        for r in fresh:
            ratio = "" if r is base else fmt_ratio(r["median"] / base["median"])
            lines.append(f"| {r['program']} | {r['what']} | {fmt_time(r['min'])} | {fmt_time(r['median'])} "
                         f"| {ratio} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 1_000, 10_000, 100_000])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--fresh-runs", type=int, default=7, help="0 skips the fresh-process column")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)

    import pymare.estimators  # noqa: F401  (load every BLAS before limiting the threads)
    import statsmodels.stats.meta_analysis  # noqa: F401
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass  # the environment variables set at the top already ask for one thread
    else:
        threadpool_limits(1)
    results = []
    for k in args.sizes:
        results.append(bench_size(k, args.rounds))
        print(json.dumps({"k": k, "rows": [{key: (f"{val:.3g}" if isinstance(val, float) else val)
                                           for key, val in r.items()} for r in results[-1]["rows"]]}),
              flush=True)
    fresh = fresh_process(args.fresh_runs) if args.fresh_runs else []
    text = markdown(results, fresh, r_environment(), args.rounds)
    print(text)
    if not args.no_write:
        write_marked_section(START, END, text, README)
        print(f"wrote {README.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
