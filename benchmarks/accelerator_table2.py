"""Table 2 with adequate training: train and decode every ID strategy on an
accelerator host that has JAX but no SeqIO/TensorFlow.

  # here (CPU, the project's venv): freeze a finished experiment run's tokenized
  # train examples, test queries, tries and ID -> track maps into a bundle
  python -m benchmarks.accelerator_table2 export RUN_DIR BUNDLE
  # on the accelerator (needs jax, flax, optax, orbax, gin, numpy only)
  python -m benchmarks.accelerator_table2 run BUNDLE OUT [--steps N --batch_size B ...]
  # here again: score OUT/*.jsonl with the project's scorer
  python -m benchmarks.accelerator_table2 score RUN_DIR OUT

`run` trains each strategy from scratch for the same number of steps (the
paper: same epochs for every strategy) with `run_options`, decodes the test
queries with the paper's diverse beam search (20 beams, 5 groups, penalty 0.25,
constrained, distinct), writes predictions JSONL in `infer`'s format and a
timing record per strategy; semantic-ids-cf is also decoded at every penalty of
Figure 3. A `base` train-step throughput/MFU measurement ends the run.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STRATEGY_ORDER = ("semantic-ids-cf", "track-int", "artist-iid-track-seq", "artist-int-track-seq",
                  "semantic-ids-text", "artist-name-track-name")
PENALTIES = (0.0, 0.25, 0.5, 1.0, 2.0)
TRIE_FIELDS = ("row_ptr", "child_token", "child_node", "leaf_lo", "leaf_hi", "terminal_leaf",
               "depth_vocab", "child_rank")
TRIE_META = ("num_nodes", "num_leaves", "vocab_size", "eos_id", "max_length", "root_degree",
             "max_degree", "depth_vocab_width")


# -- export (project venv) -----------------------------------------------------
def export(run_dir: Path, bundle: Path):
  import tasks  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data.dataset import PreparedDataset  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.serving import recommender  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import task_data  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.train import _round_up, _task_vocab_size  # pylint: disable=import-outside-toplevel
  run_dir = run_dir.absolute()
  tasks.register_run(run_dir)
  bundle.mkdir(parents=True, exist_ok=True)
  test = list(PreparedDataset.load(run_dir / "data").examples("test"))
  for manifest in sorted((run_dir / "ids").glob("*/manifest.json")):
    strategy = manifest.parent.name
    info = json.loads((run_dir / "train" / strategy / "train_config.json").read_text())
    name = tasks.task_name(run_dir.name, strategy)
    examples = task_data.load_task_examples(name, "train", info["inputs_length"],
                                            cache_dir=run_dir / "train" / strategy / "cache")
    vocab = _round_up(_task_vocab_size(name))
    model = network.T5Model(configs.get_config("tiny", vocab_size=vocab))
    rec = recommender.Recommender.for_task(model, None, run_dir, name, info["inputs_length"])
    queries = rec.encode_queries([e.query for e in test], warn=lambda _: None)
    trie = rec.trie
    arrays = {f"trie_{f}": np.asarray(getattr(trie, f)) for f in TRIE_FIELDS}
    dtype = np.uint16 if vocab <= 65535 else np.int32
    np.savez_compressed(bundle / f"{strategy}.npz", inputs=examples.inputs.astype(dtype),
                        targets=examples.targets.astype(dtype), queries=queries, **arrays)
    meta = {"strategy": strategy, "vocab_size": vocab, "leaf_ids": rec.leaf_ids,
            "id_to_tracks": {s: list(rec.id_map.id_to_tracks[s]) for s in rec.leaf_ids},
            "query_ids": [e.query_id for e in test], "queries": [e.query for e in test],
            "trie": {f: getattr(trie, f) for f in TRIE_META}}
    with gzip.open(bundle / f"{strategy}.json.gz", "wt") as f:
      json.dump(meta, f)
    print(f"{strategy}: {len(examples):,} train examples {examples.inputs.shape[1]}+"
          f"{examples.targets.shape[1]} tokens, vocab {vocab}, {trie.num_leaves:,} IDs")


# -- run (accelerator) -----------------------------------------------------------
def _load(bundle: Path, strategy: str):
  from text2tracks_jax.ids import prefix_trie  # pylint: disable=import-outside-toplevel
  arrays = np.load(bundle / f"{strategy}.npz")
  with gzip.open(bundle / f"{strategy}.json.gz", "rt") as f:
    meta = json.load(f)
  trie = prefix_trie.PrefixTrie(**{f: arrays[f"trie_{f}"] for f in TRIE_FIELDS}, **meta["trie"])
  return arrays, meta, trie


def _decode(model, params, trie, queries, meta, penalty, batch_size=64):
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.decoding import generation  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.ids.id_map import rank_tracks  # pylint: disable=import-outside-toplevel
  rows = []
  for i in range(0, len(queries), batch_size):
    chunk = queries[i:i + batch_size]
    pad = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - len(chunk), 0)])
    out = generation.generate(model, params, pad, num_beams=20, num_beam_groups=5,
                              diversity_penalty=penalty, max_new_tokens=trie.max_length,
                              constraint=trie, distinct_across_groups=True)
    leaves, scores = jax.device_get((out.leaves, out.scores))
    for b in range(len(chunk)):
      decoded = [(meta["leaf_ids"][int(leaf)], score) for leaf, score in zip(leaves[b], scores[b])
                 if leaf >= 0 and np.isfinite(score)]  # constrained: every finite result is an ID
      rows.append(rank_tracks(decoded, meta["id_to_tracks"], top_n=10))
  return rows


def _write_predictions(path: Path, meta, rows):
  tmp = path.with_suffix(".tmp")
  with tmp.open("w") as f:
    for qid, q, r in zip(meta["query_ids"], meta["queries"], rows):
      f.write(json.dumps({"query_id": qid, "query": q, **r}, ensure_ascii=False) + "\n")
  tmp.rename(path)


def _examples(arrays):
  from text2tracks_jax.training.input_pipeline import TokenizedExamples  # pylint: disable=import-outside-toplevel
  return TokenizedExamples(arrays["inputs"].astype(np.int32), arrays["targets"].astype(np.int32))


def _trainer(meta, args, steps, log):
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.trainer import Trainer, TrainConfig  # pylint: disable=import-outside-toplevel
  cfg = configs.T5Config(vocab_size=meta["vocab_size"], d_model=args.d_model, d_kv=64,
                         d_ff=4 * args.d_model, num_heads=args.d_model // 64,
                         num_encoder_layers=args.layers, num_decoder_layers=args.layers,
                         dropout_rate=args.dropout, dtype=args.dtype)
  schedule = optimizers.learning_rate_schedule(steps, args.learning_rate,
                                               warmup_steps=args.warmup_steps)
  trainer = Trainer(network.T5Model(cfg), optimizers.create_optimizer(schedule),
                    tempfile.mkdtemp(),
                    TrainConfig(batch_size=args.batch_size, checkpoint_every_steps=steps,
                                log_every_steps=max(steps // 4, 1), async_checkpoints=False),
                    log=log)
  return trainer, schedule


def run_strategy(bundle, out, strategy, args, log):
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import network  # pylint: disable=import-outside-toplevel
  arrays, meta, trie = _load(bundle, strategy)
  examples = _examples(arrays)
  trainer, schedule = _trainer(meta, args, args.steps, lambda m: log(f"  {strategy}: {m}"))
  model = trainer.model
  start = time.perf_counter()
  state = trainer.fit(examples, args.steps, schedule)
  jax.block_until_ready(state["params"])
  train_s = time.perf_counter() - start
  trainer.close()
  params, trie_dev = state["params"], jax.device_put(trie)
  queries = arrays["queries"][:args.max_queries] if args.max_queries else arrays["queries"]
  penalties = PENALTIES if strategy == "semantic-ids-cf" else (0.25,)
  record = {"strategy": strategy, "steps": args.steps, "batch_size": args.batch_size,
            "epochs": round(args.steps * args.batch_size / len(examples), 2),
            "examples": len(examples), "num_params": network.num_params(params),
            "train_s_incl_compile": round(train_s, 1), "decode": {}}
  for p in penalties:
    start = time.perf_counter()
    rows = _decode(model, params, trie_dev, queries, meta, p)
    record["decode"][str(p)] = round(time.perf_counter() - start, 2)
    suffix = "" if p == 0.25 else f".penalty{p}"
    _write_predictions(out / f"{strategy}{suffix}.jsonl", meta, rows)
  return record


def calibrate_steps(bundle, strategy, args, log) -> int:
  """Steps (<= args.steps) whose training fits `train_budget_s`, timed on
  `strategy` (the longest targets): the same number for every strategy."""
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.input_pipeline import BatchIterator  # pylint: disable=import-outside-toplevel
  arrays, meta, _ = _load(bundle, strategy)
  examples = _examples(arrays)
  trainer, _ = _trainer(meta, args, 100, log)
  state = trainer.init_state()
  it = BatchIterator(examples, args.batch_size, 0, 0, 1)
  with trainer.mesh:
    batches = [trainer._global_batch(it.local_batch(i)) for i in range(8)]  # pylint: disable=protected-access
    for i in range(3):
      state, m = trainer._step_fn(state, batches[i])  # pylint: disable=protected-access
    jax.block_until_ready(m)
    start = time.perf_counter()
    for i in range(40):
      state, m = trainer._step_fn(state, batches[i % 8])  # pylint: disable=protected-access
      bool(m["finite"])  # the loop syncs on this every step too
    secs = (time.perf_counter() - start) / 40
  trainer.close()
  steps = int(min(args.steps, args.train_budget_s / secs))
  log(f"calibration on {strategy}: {1e3 * secs:.2f} ms/step -> {steps} steps "
      f"({steps * args.batch_size / len(examples):.1f} epochs)")
  return steps


def throughput(size: str, batch: int, s: int, t: int, steps: int, log) -> dict:
  """Train-step examples/s and model FLOP utilisation of `size` in bfloat16."""
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.input_pipeline import encdec_features  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.trainer import Trainer, TrainConfig  # pylint: disable=import-outside-toplevel
  cfg = configs.get_config(size, dtype="bfloat16", dropout_rate=0.1)
  tr = Trainer(network.T5Model(cfg), optimizers.create_optimizer(
      optimizers.learning_rate_schedule(10_000)), tempfile.mkdtemp(),
               TrainConfig(batch_size=batch), log=lambda _: None)
  state = tr.init_state()
  rng = np.random.default_rng(0)
  inputs = rng.integers(2, cfg.vocab_size, (batch, s)).astype(np.int32)
  targets = rng.integers(2, cfg.vocab_size, (batch, t)).astype(np.int32)
  b = tr._global_batch(encdec_features(inputs, targets))  # pylint: disable=protected-access
  with tr.mesh:
    start = time.perf_counter()
    compiled = tr._step_fn.lower(state, b).compile()  # pylint: disable=protected-access
    compile_s = time.perf_counter() - start
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    for _ in range(3):
      state, m = compiled(state, b)
    jax.block_until_ready(m)
    start = time.perf_counter()
    for _ in range(steps):
      state, m = compiled(state, b)
    jax.block_until_ready(m)
    secs = time.perf_counter() - start
  flops = float(cost.get("flops", 0.0))
  n = network.num_params(state["params"])
  rec = {"size": size, "params": n, "batch": batch, "inputs": s, "targets": t,
         "examples_per_s": round(batch * steps / secs, 1), "step_ms": round(1e3 * secs / steps, 2),
         "compile_s": round(compile_s, 1), "xla_flops_per_step": flops,
         "model_flops_per_step": 6.0 * n * batch * (s + t),
         "device": str(jax.devices()[0].device_kind)}
  log(f"throughput {size}: {rec}")
  return rec


def run(bundle: Path, out: Path, args):
  import jax  # pylint: disable=import-outside-toplevel
  out.mkdir(parents=True, exist_ok=True)
  t0 = time.perf_counter()
  log = lambda m: print(f"[{time.perf_counter() - t0:6.1f}s] {m}", flush=True)
  log(f"jax {jax.__version__} on {jax.devices()}")
  records = []
  strategies = [s for s in STRATEGY_ORDER if (bundle / f"{s}.npz").exists()
                and (not args.strategies or s in args.strategies.split(","))]
  if args.train_budget_s:
    args.steps = calibrate_steps(bundle, strategies[-1], args, log)
  for strategy in strategies:
    if time.perf_counter() - t0 > args.deadline_s:
      log(f"deadline: {strategy} not run")
      continue
    records.append(run_strategy(bundle, out, strategy, args, log))
    log(f"{strategy}: {records[-1]}")
    (out / "records.json").write_text(json.dumps({"table2": records}, indent=2))
  extra = {}
  if args.throughput_steps and time.perf_counter() - t0 < args.deadline_s:
    extra = throughput("base", 128, 64, 8, args.throughput_steps, log)
  (out / "records.json").write_text(json.dumps({"table2": records, "throughput": extra,
                                                "options": vars(args) | {"bundle": str(bundle)}},
                                               indent=2, default=str))


# -- score (project venv) ------------------------------------------------------
def score(run_dir: Path, out: Path):
  from text2tracks_jax.evaluation import scorer  # pylint: disable=import-outside-toplevel
  systems = {p.stem: str(p) for p in sorted(out.glob("*.jsonl")) if ".penalty" not in p.name}
  result = scorer.evaluate(str(run_dir / "data"), systems, str(out / "table2"), k=10, split="test")
  print(result["table"])
  sweep = {f"penalty {p.name.split('.penalty')[1][:-6]}": str(p)
           for p in sorted(out.glob("semantic-ids-cf.penalty*.jsonl"))}
  sweep["penalty 0.25"] = systems.get("semantic-ids-cf")
  if sweep["penalty 0.25"]:
    print(scorer.evaluate(str(run_dir / "data"), sweep, str(out / "figure3"), k=10,
                          split="test")["table"])


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  sub = p.add_subparsers(dest="cmd", required=True)
  e = sub.add_parser("export")
  e.add_argument("run_dir", type=Path)
  e.add_argument("bundle", type=Path)
  r = sub.add_parser("run")
  r.add_argument("bundle", type=Path)
  r.add_argument("out", type=Path)
  r.add_argument("--steps", type=int, default=3000)
  r.add_argument("--batch_size", type=int, default=256)
  r.add_argument("--learning_rate", type=float, default=2e-3)
  r.add_argument("--warmup_steps", type=int, default=200)
  r.add_argument("--d_model", type=int, default=256)
  r.add_argument("--layers", type=int, default=4)
  r.add_argument("--dropout", type=float, default=0.1)
  r.add_argument("--dtype", default="bfloat16")
  r.add_argument("--max_queries", type=int, default=0)
  r.add_argument("--strategies", default="", help="comma-separated subset (default: all)")
  r.add_argument("--deadline_s", type=float, default=420)
  r.add_argument("--throughput_steps", type=int, default=20)
  r.add_argument("--train_budget_s", type=float, default=0,
                 help="cap --steps so one strategy's training takes about this long")
  s = sub.add_parser("score")
  s.add_argument("run_dir", type=Path)
  s.add_argument("out", type=Path)
  args = p.parse_args(argv)
  if args.cmd == "export":
    export(args.run_dir, args.bundle)
  elif args.cmd == "run":
    run(args.bundle, args.out, args)
  else:
    score(args.run_dir, args.out)


if __name__ == "__main__":
  sys.exit(main())
