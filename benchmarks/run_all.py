"""Run every benchmark in turn and write their tables into benchmarks/README.md.

`make benchmarks`. Each script times this project's code side by side with its peers in one
run (statsmodels, PyMARE and, where `Rscript` with metafor is installed, metafor) and reports
ratios. They are measurements, not tests: nothing here fails on a slow machine.
"""
from __future__ import annotations

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


def main() -> int:
    for script, *arguments in RUNS:
        print(f"== {script} {' '.join(arguments)}", flush=True)
        completed = subprocess.run([sys.executable, str(HERE / script), *arguments])
        if completed.returncode != 0:
            print(f"{script} failed with exit code {completed.returncode}", file=sys.stderr)
            return completed.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
