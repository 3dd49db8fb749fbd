"""Benchmark harness: `make bench` or `python -m benchmarks.run [NAME ...]`.

Every benchmark is a function registered in `benchmarks/registry.py`. Each runs
in a fresh child process so its peak RSS is its own; the child writes its
metrics as JSON to `benchmarks/results/NAME.json` (with the machine, git
revision and date) and the parent prints one summary table. Speed targets are
recorded next to the numbers as pass/fail, never asserted in tests.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def _machine() -> dict:
  return {"python": platform.python_version(), "cpus": os.cpu_count(),
          "processor": platform.processor() or platform.machine(),
          "platform": platform.platform()}


def _git_rev() -> str:
  try:
    return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"],
                                   stderr=subprocess.DEVNULL, text=True).strip()
  except (OSError, subprocess.CalledProcessError):
    return "unknown"


def run_child(name: str, quick: bool) -> dict:
  """Runs one benchmark in this process; returns its result record."""
  from benchmarks.registry import BENCHMARKS  # pylint: disable=import-outside-toplevel
  fn = BENCHMARKS[name]
  with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as workdir:
    start = time.perf_counter()
    metrics = fn(Path(workdir), quick=quick)
    wall = time.perf_counter() - start
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  record = {"name": name, "quick": quick, "wall_s": round(wall, 2),
            "peak_rss_mb": round(peak_mb, 1), "metrics": metrics,
            "machine": _machine(), "git": _git_rev(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
  RESULTS.mkdir(parents=True, exist_ok=True)
  tmp = RESULTS / f"{name}.json.tmp"
  tmp.write_text(json.dumps(record, indent=2) + "\n")
  os.replace(tmp, RESULTS / f"{name}.json")
  return record


def _fmt(v) -> str:
  if isinstance(v, float):
    return f"{v:,.3g}" if abs(v) < 100 else f"{v:,.0f}"
  return f"{v:,}" if isinstance(v, int) else str(v)


def summary_table(records) -> str:
  rows = ["| benchmark | wall s | peak RSS MB | headline | target |",
          "|---|---:|---:|---|---|"]
  for r in records:
    m = r["metrics"]
    headline = ", ".join(f"{k}={_fmt(v)}" for k, v in m.get("headline", {}).items())
    targets = "; ".join(f"{t['what']}: {'PASS' if t['ok'] else 'FAIL'}"
                        for t in m.get("targets", []))
    rows.append(f"| {r['name']} | {r['wall_s']:.1f} | {r['peak_rss_mb']:,.0f} | "
                f"{headline} | {targets or '-'} |")
  return "\n".join(rows)


def main(argv=None) -> int:
  from benchmarks.registry import BENCHMARKS  # pylint: disable=import-outside-toplevel
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("names", nargs="*", help=f"benchmarks to run (default all): {sorted(BENCHMARKS)}")
  p.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
  p.add_argument("--child", help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if args.child:
    run_child(args.child, args.quick)
    return 0
  names = args.names or sorted(BENCHMARKS)
  unknown = [n for n in names if n not in BENCHMARKS]
  if unknown:
    p.error(f"unknown benchmark(s) {unknown}; known: {sorted(BENCHMARKS)}")
  records, failed = [], []
  for i, name in enumerate(names, 1):
    print(f"[{i}/{len(names)}] {name} ...", flush=True)
    cmd = [sys.executable, "-m", "benchmarks.run", "--child", name] + (["--quick"] if args.quick else [])
    if subprocess.call(cmd) != 0:
      failed.append(name)
      continue
    records.append(json.loads((RESULTS / f"{name}.json").read_text()))
  print(summary_table(records))
  if failed:
    print(f"failed: {failed}", file=sys.stderr)
  return 1 if failed else 0


if __name__ == "__main__":
  sys.exit(main())
