"""Task pipeline throughput, and the trainer's example building, old vs new.

`task_pipeline`: the SeqIO pipeline of the `artist-name-track-name` task (the longest IDs, the
most tokenizer work) is read to the end in batches of 64 through T5X's
`EncDecFeatureConverter`; its examples/s is set against the train step's
examples/s for the tiny and small models at the same lengths (target:
pipeline >= 5x the trainer).

`task_examples`: seconds to build the trainer's train examples of the demo
world (94k pairs, 7k queries) through the SeqIO task (one tokenization per
pair: the old path) and through `tasks.examples` (each distinct query and ID
once: the trainer's path), for `artist-name-track-name` (the longest IDs) and
`semantic-ids-cf` (new tokens); both give the same arrays (asserted). Target:
the fast path < 10% of one strategy's demo training stage (54 s for
semantic-ids-cf in BENCHMARKS.md, i.e. < 5.4 s).
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


EXAMPLE_STRATEGIES = ("artist-name-track-name", "semantic-ids-cf")
DEMO_TRAIN_STAGE_S = 54  # train/semantic-ids-cf at 0.5 epoch, BENCHMARKS.md "The demo experiment"


def example_seconds(run_dir, strategies=EXAMPLE_STRATEGIES, inputs_length: int = 24) -> dict:
  """{strategy: {"seqio_s", "fast_s", "pairs", "speedup"}} for the registered
  run `run_dir` (the demo's `inputs_length`); raises if the arrays differ."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  import seqio  # pylint: disable=import-outside-toplevel
  import tasks  # pylint: disable=import-outside-toplevel
  from tasks import examples as task_examples  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import task_data  # pylint: disable=import-outside-toplevel
  tasks.register_run(run_dir)
  out = {}
  for strategy in strategies:
    name = tasks.task_name(Path(run_dir).name, strategy)
    features = seqio.get_mixture_or_task(name).output_features
    for feature in ("inputs", "targets"):  # load the TF SentencePiece models before timing
      task_examples.encode(features[feature].vocabulary, ["warm up"])
    seconds, built = {}, {}
    for path in ("seqio", "fast"):
      start = time.perf_counter()
      built[path] = task_data.load_task_examples(name, "train", inputs_length,
                                                 progress=False, use_seqio=path == "seqio")
      seconds[path] = time.perf_counter() - start
    np.testing.assert_array_equal(built["fast"].inputs, built["seqio"].inputs)
    np.testing.assert_array_equal(built["fast"].targets, built["seqio"].targets)
    out[strategy] = {"seqio_s": round(seconds["seqio"], 2), "fast_s": round(seconds["fast"], 2),
                     "pairs": len(built["fast"]),
                     "speedup": round(seconds["seqio"] / seconds["fast"], 1)}
  return out


def task_examples(workdir: Path, quick: bool) -> dict:
  del quick  # the demo world is the measurement
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data import prepare  # pylint: disable=import-outside-toplevel
  run = workdir / "demo"
  prepare.prepare("synthetic", run / "data", preset="demo")
  for strategy in EXAMPLE_STRATEGIES:
    ids.build_ids(run / "data", strategy, run / "ids" / strategy)
  result = example_seconds(run)
  slowest = max(r["fast_s"] for r in result.values())
  headline = {f"{s}_{k}": v for s, r in result.items() for k, v in r.items()
              if k in ("seqio_s", "fast_s")}
  return {"headline": headline, "strategies": result,
          "targets": [{"what": f"fast path < 10% of a {DEMO_TRAIN_STAGE_S} s demo train stage",
                       "ok": slowest < 0.1 * DEMO_TRAIN_STAGE_S}]}


BENCHMARKS = {"task_pipeline": task_pipeline, "task_examples": task_examples}
