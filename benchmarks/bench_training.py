"""Training throughput: our jitted step vs a plain Hugging Face PyTorch loop.

Same T5 v1.1 shapes, batch 64, input 16, target 4 (the design budget's
configuration), AdamW, each side in its own process (its own peak RSS),
measured after warm-up. Target: ours >= 1.2x Hugging Face.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])


def measure(side: str, size: str, batch=64, inputs=16, targets=4, steps=20) -> dict:
  env = {**os.environ, "PYTHONPATH": ROOT, "USE_TF": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
  out = subprocess.run([sys.executable, "-m", "benchmarks.train_worker", side, size,
                        str(batch), str(inputs), str(targets), str(steps)],
                       capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def _compare(size: str, quick: bool) -> dict:
  steps = {"tiny": 10 if quick else 60, "small": 3 if quick else 12}[size]
  ours, hf = measure("ours", size, steps=steps), measure("hf", size, steps=steps)
  ratio = ours["examples_per_s"] / hf["examples_per_s"]
  return {"headline": {"ours_ex_per_s": round(ours["examples_per_s"], 1),
                       "hf_ex_per_s": round(hf["examples_per_s"], 1), "ratio": round(ratio, 2),
                       "ours_rss_mb": round(ours["peak_rss_mb"]),
                       "hf_rss_mb": round(hf["peak_rss_mb"])},
          "targets": [{"what": f"{size}: ours >= 1.2x HF", "ok": ratio >= 1.2}],
          "ours": ours, "hf": hf}


def train_tiny(workdir: Path, quick: bool) -> dict:
  del workdir
  return _compare("tiny", quick)


def train_small(workdir: Path, quick: bool) -> dict:
  del workdir
  return _compare("small", quick)


BENCHMARKS = {"train_tiny_vs_hf": train_tiny, "train_small_vs_hf": train_small}
