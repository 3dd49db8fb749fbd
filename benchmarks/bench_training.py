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


def _grouped_worker(steps: int) -> dict:
  """Train-step throughput (pairs/s) of the project's Trainer on demo-shaped data:
  flat pairs with the full softmax (reference), query-grouped (8 targets per
  query), and grouped with the trie-normalised loss; 256 target slots per step."""
  import tempfile  # pylint: disable=import-outside-toplevel
  import time  # pylint: disable=import-outside-toplevel

  import jax  # pylint: disable=import-outside-toplevel
  import numpy as np  # pylint: disable=import-outside-toplevel

  from text2tracks_jax.ids import prefix_trie  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers, trainer  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.input_pipeline import (  # pylint: disable=import-outside-toplevel
      TokenizedExamples, encdec_features, group_by_query)

  rng = np.random.default_rng(0)
  vocab, k, queries = 9216, 8, 32
  ids = np.unique(rng.integers(8192, vocab, (20_000, 3)), axis=0)  # semantic-ID shaped
  trie = prefix_trie.build_trie(ids, vocab_size=vocab)
  inputs = np.zeros((queries, 24), np.int32)  # demo queries: ~8 of 24 tokens
  inputs[:, :8] = rng.integers(3, 8000, (queries, 8))
  inputs[:, 8] = 1
  targets = np.concatenate([ids[rng.integers(0, len(ids), queries * k)],
                            np.ones((queries * k, 1), np.int64)], axis=1).astype(np.int32)
  flat = TokenizedExamples(np.repeat(inputs, k, axis=0), targets)
  grouped = group_by_query(flat, k)
  cfg = configs.get_config("tiny", vocab_size=vocab, dropout_rate=0.0)
  schedule = optimizers.learning_rate_schedule(1000, learning_rate=1e-2)
  out = {}
  for name, examples, use_trie in (("flat", flat, False), ("grouped", grouped, False),
                                   ("grouped+trie", grouped, True)):
    with tempfile.TemporaryDirectory() as tmp:
      t = trainer.Trainer(network.T5Model(cfg), optimizers.create_optimizer(schedule, "adafactor"),
                          tmp, trainer.TrainConfig(batch_size=len(examples)),
                          trie=trie if use_trie else None)
      batch = t._global_batch(encdec_features(examples.inputs, examples.targets))  # pylint: disable=protected-access
      state = t.init_state()
      state, m = t._step_fn(state, batch, t._trie_data)  # pylint: disable=protected-access
      jax.block_until_ready(m)
      start = time.perf_counter()
      for _ in range(steps):
        state, m = t._step_fn(state, batch, t._trie_data)  # pylint: disable=protected-access
      jax.block_until_ready(m)
      seconds = (time.perf_counter() - start) / steps
      t.close()
    out[name] = {"ms_per_step": round(seconds * 1e3, 1), "pairs_per_s": round(len(flat) / seconds)}
  return out


def train_grouped(workdir: Path, quick: bool) -> dict:
  del workdir
  r = _grouped_worker(5 if quick else 30)
  ratio = lambda name: round(r[name]["pairs_per_s"] / r["flat"]["pairs_per_s"], 2)
  return {"headline": {"flat_pairs_per_s": r["flat"]["pairs_per_s"],
                       "grouped_x": ratio("grouped"), "grouped_trie_x": ratio("grouped+trie")},
          "targets": [{"what": "grouped + trie loss >= 2x flat pairs/s (tiny, demo shapes)",
                       "ok": ratio("grouped+trie") >= 2.0}],
          **r}


BENCHMARKS["train_grouped_tiny"] = train_grouped
