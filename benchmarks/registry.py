"""All benchmarks by name: each module contributes a `BENCHMARKS` dict.

A benchmark is `fn(workdir: Path, quick: bool) -> dict` returning
`{"headline": {...}, "targets": [{"what": str, "ok": bool}], ...}`.
"""

import importlib

MODULES = ("benchmarks.bench_data", "benchmarks.bench_ids", "benchmarks.bench_tasks",
           "benchmarks.bench_training", "benchmarks.bench_decoding",
           "benchmarks.bench_decode_ids", "benchmarks.bench_sharding")

BENCHMARKS = {}
for _name in MODULES:
  BENCHMARKS.update(importlib.import_module(_name).BENCHMARKS)
