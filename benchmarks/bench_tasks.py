"""Task pipeline throughput (tokenized, converted, batched) vs trainer consumption.

The SeqIO pipeline of the `artist-name-track-name` task (the longest IDs, the
most tokenizer work) is read to the end in batches of 64 through T5X's
`EncDecFeatureConverter`; its examples/s is set against the train step's
examples/s for the tiny and small models at the same lengths (target:
pipeline >= 5x the trainer).
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.bench_training import measure

LENGTHS = {"inputs": 64, "targets": 32}


def _pipeline_rate(workdir: Path, preset: str, max_examples: int) -> dict:
  import seqio  # pylint: disable=import-outside-toplevel
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data import prepare  # pylint: disable=import-outside-toplevel
  import tasks  # pylint: disable=import-outside-toplevel
  run = workdir / preset
  prepare.prepare("synthetic", run / "data", preset=preset)
  ids.build_ids(run / "data", "artist-name-track-name", run / "ids" / "artist-name-track-name")
  (name,) = tasks.register_run(run)
  start = time.perf_counter()
  ds = seqio.get_dataset(name, LENGTHS, dataset_split="train", shuffle=False,
                         feature_converter=seqio.EncDecFeatureConverter(pack=False))
  ds = ds.batch(64, drop_remainder=True).prefetch(4)
  n = 0
  first = None
  for batch in ds.as_numpy_iterator():
    if first is None:
      first = time.perf_counter()
    n += len(batch["encoder_input_tokens"])
    if n >= max_examples:
      break
  end = time.perf_counter()
  return {"examples": n, "examples_per_s": n / (end - first), "setup_s": first - start}


def task_pipeline(workdir: Path, quick: bool) -> dict:
  presets = ["demo"] if quick else ["demo", "paper"]
  pipes = {p: _pipeline_rate(workdir, p, 20_000 if quick else 200_000) for p in presets}
  trainers = {s: measure("ours", s, batch=64, inputs=LENGTHS["inputs"], targets=16,
                         steps=5 if quick else 20)["examples_per_s"] for s in ("tiny", "small")}
  slowest = min(p["examples_per_s"] for p in pipes.values())
  headline = {f"pipeline_{p}_ex_per_s": round(v["examples_per_s"]) for p, v in pipes.items()}
  headline.update({f"trainer_{s}_ex_per_s": round(v, 1) for s, v in trainers.items()})
  headline["pipeline_over_tiny_trainer"] = round(slowest / trainers["tiny"], 1)
  return {"headline": headline, "pipelines": pipes, "trainers": trainers,
          "targets": [{"what": f"pipeline >= 5x {s} trainer", "ok": slowest >= 5 * v}
                      for s, v in trainers.items()]}


BENCHMARKS = {"task_pipeline": task_pipeline}
