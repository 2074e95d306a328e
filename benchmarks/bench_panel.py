"""Side-by-side timing of the small-k inference panel (analysis.pooling.panel) and the Bayesian
posterior (analysis.engine.bayes) against the nearest peers that run here.

In one run, on the same simulated data (standardised mean differences, tau² = 0.05):
* the whole panel for one outcome at k = 20 (common effect, DL, REML with Hartung-Knapp with
  and without the floor, prediction intervals, and the Bayesian posterior under the four SMD
  priors of data/priors.csv, with the verdict);
* the Bayesian posterior alone (half-normal(0.5) prior; tau, mu and a new study's effect:
  medians, means, SDs, 95% intervals) at k = 20 and k = 1,000, against
  - a plain quadrature baseline: scipy's adaptive ``quad`` over tau for the normalising
    constant and each cumulative probability, ``brentq`` for each quantile (what a direct
    implementation of Röver 2020 eq. 7-11 does); and
  - R's bayesmeta 3.4 (Röver 2020), timed inside R with ``proc.time()``, when ``Rscript`` is
    installed and ``--bayesmeta`` gives the path of bayesmeta's R/bayesmeta.R (the package is
    pure R and is not packaged for Debian here; the file is sourced).
PyMARE's Bayesian estimator (StanMetaRegression) needs Stan, which is not installed here.

Ratios are peer time / our time (> 1: ours is faster). The markdown table goes into the
"Small-k panel" section of benchmarks/README.md. Usage:

    .venv/bin/python benchmarks/bench_panel.py [--bayesmeta PATH/R/bayesmeta.R] [--no-write]
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import integrate, optimize, special

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from readme_sections import write_marked_section  # noqa: E402
from analysis.pooling import panel as P  # noqa: E402
from analysis.engine.bayes import TauPrior, bayes_meta_analysis  # noqa: E402

START, END = "<!-- panel-benchmark:start -->", "<!-- panel-benchmark:end -->"
PRIOR = TauPrior("half_normal", scale=0.5)

R_SCRIPT = r"""
suppressMessages(library(metafor))
args <- commandArgs(trailingOnly = TRUE)
source(args[1])
d <- read.csv(args[2]); reps <- as.integer(args[3])
prior <- function(t) dhalfnormal(t, scale = 0.5)
t0 <- proc.time()
for (i in seq_len(reps)) b <- bayesmeta(y = d$yi, sigma = sqrt(d$vi), tau.prior = prior)
el <- (proc.time() - t0) / reps
s <- b$summary
cat(sprintf('{"wall": %.9g, "cpu": %.9g, "mu_median": %.12g, "tau_median": %.12g}\n',
            el[["elapsed"]], el[["user.self"]] + el[["sys.self"]], s["median", "mu"], s["median", "tau"]))
"""


def simulate(k: int, seed: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 200, size=k)
    v = 2 / n + 0.3 ** 2 / (4 * n)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    return y, v


def timed(fn, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds over ``repeats`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return float(np.median(walls)), float(np.median(cpus)), result


def engine_posterior(y, v):
    res = bayes_meta_analysis(y, v, prior=PRIOR)
    return res, res.tau, res.mu, res.theta_new


def baseline_posterior(y, v):
    """Plain quadrature: quad over tau for each integral, brentq for each quantile."""
    def loglik(tau):
        w = 1 / (v + tau * tau)
        m = (w * y).sum() / w.sum()
        return -0.5 * (np.log(v + tau * tau).sum() + math.log(w.sum()) + (w * (y - m) ** 2).sum())
    shift = max(loglik(t) for t in np.linspace(0, 2, 41))

    def post(tau):
        return 2 / (0.5 * math.sqrt(2 * math.pi)) * math.exp(-0.5 * (tau / 0.5) ** 2 + loglik(tau) - shift)

    def cond(tau):
        w = 1 / (v + tau * tau)
        return (w * y).sum() / w.sum(), math.sqrt(1 / w.sum())

    z = integrate.quad(post, 0, np.inf, epsabs=0, epsrel=1e-10, limit=200)[0]

    def cdf_mu(x):
        return integrate.quad(lambda t: post(t) * special.ndtr((x - cond(t)[0]) / cond(t)[1]),
                              0, np.inf, epsabs=0, epsrel=1e-10, limit=200)[0] / z

    def cdf_tau(t):
        return integrate.quad(post, 0, t, epsabs=0, epsrel=1e-10, limit=200)[0] / z

    lo, hi = float(y.min()) - 5, float(y.max()) + 5
    q = {p: optimize.brentq(lambda x: cdf_mu(x) - p, lo, hi, xtol=1e-10) for p in (0.025, 0.5, 0.975)}
    tau_median = optimize.brentq(lambda t: cdf_tau(t) - 0.5, 1e-12, 5.0, xtol=1e-10)
    return {"mu_median": q[0.5], "mu_low": q[0.025], "mu_high": q[0.975], "tau_median": tau_median}


def bayesmeta_time(path: str | None, y, v, repeats: int, limit: float):
    """bayesmeta's time per call, or {"stopped": limit} when one run exceeds ``limit`` s."""
    if not path or not shutil.which("Rscript"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, script = Path(tmp) / "d.csv", Path(tmp) / "b.R"
        data.write_text("yi,vi\n" + "\n".join(f"{float(a)!r},{float(b)!r}" for a, b in zip(y, v)) + "\n")
        script.write_text(R_SCRIPT)
        try:
            done = subprocess.run(["Rscript", str(script), path, str(data), str(repeats)],
                                  capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return {"stopped": limit}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def fmt(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bayesmeta", help="path of bayesmeta's R/bayesmeta.R (optional)")
    parser.add_argument("--bayesmeta-limit", type=float, default=300.0,
                        help="seconds after which a bayesmeta run is stopped (default 300)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    lines, notes = [], []
    threshold = P.Threshold(0.0, 0.2, 1)
    y20, v20 = simulate(20)
    P.small_k_panel(y20, v20, measure="SMD", threshold=threshold)  # warm-up (reads the priors)
    wall, cpu, panel = timed(lambda: P.small_k_panel(y20, v20, measure="SMD", threshold=threshold), 30)
    lines.append(f"| whole panel (4 frequentist rows, 4 priors, prediction, verdict) | 20 | "
                 f"{fmt(wall)} / {fmt(cpu)} | – | – | – | – | 50 ms |")
    for k, budget in ((20, "20 ms"), (1000, "200 ms")):
        y, v = simulate(k)
        engine_posterior(y, v)
        wall, cpu, (res, tau, mu, new) = timed(lambda: engine_posterior(y, v), 20)
        bw, bc, base = timed(lambda: baseline_posterior(y, v), 3)
        diff = max(abs(mu.median - base["mu_median"]), abs(mu.ci_low - base["mu_low"]),
                   abs(mu.ci_high - base["mu_high"]), abs(tau.median - base["tau_median"]))
        bm = bayesmeta_time(args.bayesmeta, y, v, 3 if k == 20 else 1, args.bayesmeta_limit)
        if bm is None:
            bm_cell, bm_ratio = "not run", "–"
        elif "stopped" in bm:
            bm_cell = f"stopped after {bm['stopped']:.0f} s"
            bm_ratio = f"> {bm['stopped'] / cpu:,.0f}×"
        elif "error" in bm:
            bm_cell, bm_ratio = f"failed: {bm['error']}", "–"
        else:
            bm_cell = f"{fmt(bm['wall'])} / {fmt(bm['cpu'])}"
            bm_ratio = f"{bm['cpu'] / cpu:,.0f}×"
            notes.append(f"k = {k:,}: bayesmeta's posterior median of mu differs from ours by "
                         f"{abs(bm['mu_median'] - mu.median):.1e} (its DIRECT mixture), of tau by "
                         f"{abs(bm['tau_median'] - tau.median):.1e}.")
        lines.append(f"| Bayesian posterior (half-normal(0.5)) | {k:,} | {fmt(wall)} / {fmt(cpu)} | "
                     f"{fmt(bw)} / {fmt(bc)} | {bc / cpu:,.0f}× (max diff {diff:.0e}) | {bm_cell} | "
                     f"{bm_ratio} | {budget} |")
    import scipy

    text = "\n".join([
        "## Small-k panel and Bayesian posterior (`analysis.pooling.panel`, `analysis.engine.bayes`)",
        "",
        f"`benchmarks/bench_panel.py`, {datetime.date.today().isoformat()}; Python "
        f"{platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}; "
        f"{platform.machine()}. Simulated SMDs (tau² = 0.05). Our times: median of repeats, "
        "wall / CPU. Peers: a plain quadrature baseline (scipy `quad` per integral, `brentq` "
        "per quantile) and R's bayesmeta 3.4 (timed inside R, one run of each call; its "
        "R file sourced). Ratio = peer CPU time / our CPU time. PyMARE's Bayesian estimator "
        "needs Stan, which is not installed here.",
        "",
        "| what | k | ours (wall / CPU) | plain quadrature (wall / CPU) | ratio | bayesmeta (wall / CPU) | ratio | budget |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *lines,
        "",
        f"Panel at k = 20: verdict \"{panel.verdict}\".",
        *([""] + notes if notes else []),
    ])
    print(text)
    if not args.no_write:
        write_marked_section(START, END, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
