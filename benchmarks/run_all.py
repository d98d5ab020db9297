"""`make bench`: run every benchmark in one go and write benchmarks/RESULTS.md.

Each benchmark is a module with a `main()` that prints Markdown; their output is collected
side by side with the machine's description so the numbers can be compared run to run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["benchmarks.bench_engine", "benchmarks.bench_http", "benchmarks.bench_workers"]


def _run(module: str) -> str:
    if not (HERE / f"{module.rsplit('.', 1)[1]}.py").exists():
        return f"_{module} is not present in this checkout._\n"
    completed = subprocess.run(
        [sys.executable, "-m", module],
        capture_output=True,
        text=True,
        check=False,
        cwd=HERE.parent,
    )
    if completed.returncode != 0:
        tail = completed.stderr[-3000:]
        return f"**{module} failed** (exit {completed.returncode}):\n\n```\n{tail}\n```\n"
    return completed.stdout


def main() -> None:
    header = (
        f"# Benchmark results\n\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}\n"
    )
    sections = [header]
    for module in BENCHMARKS:
        print(f"running {module} …", file=sys.stderr, flush=True)
        sections.append(f"\n# {module}\n\n{_run(module)}")
    text = "\n".join(sections)
    (HERE / "RESULTS.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
