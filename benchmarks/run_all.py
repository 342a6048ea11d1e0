"""Run every benchmark in turn (``make bench``); each prints its own table.

Usage:
    python benchmarks/run_all.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "bench_merkle.py",
    "bench_inventory.py",
    "bench_record.py",
    "bench_exchange.py",
    "bench_priority.py",
    "bench_hotline.py",
    "bench_obligations.py",
    "bench_screening.py",
    "bench_tracing.py",
]


def main(argv: list[str]) -> int:
    status = 0
    for script in SCRIPTS:
        print(f"\n== {script} ==", flush=True)
        result = subprocess.run([sys.executable, str(HERE / script), *argv], check=False)
        status = status or result.returncode
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
