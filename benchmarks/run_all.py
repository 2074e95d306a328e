"""Run every benchmark in turn and write their tables into benchmarks/README.md.

`make benchmarks`. Each script times this project's code side by side with its peers in one
run (statsmodels, PyMARE and, where `Rscript` with metafor is installed, metafor) and reports
ratios. They are measurements, not tests: nothing here fails on a slow machine. Every script
runs with one BLAS thread (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS = 1, which R's
BLAS honours too), so that no contender's time depends on thread contention on a shared machine.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["bench_engine.py"],
    ["bench_sensitivity.py"],
    ["bench_dedup.py", "--write"],
    ["bench_panel.py"],
]


ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def main() -> int:
    env = {**os.environ, **ONE_THREAD}
    for script, *arguments in RUNS:
        print(f"== {script} {' '.join(arguments)}", flush=True)
        completed = subprocess.run([sys.executable, str(HERE / script), *arguments], env=env)
        if completed.returncode != 0:
            print(f"{script} failed with exit code {completed.returncode}", file=sys.stderr)
            return completed.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
