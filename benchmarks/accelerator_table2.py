"""Table 2 and Table 3's model with adequate training: the demo's recipe, trained
for many epochs on an accelerator host that has JAX but no SeqIO/TensorFlow,
each epoch chosen on validation.

  # here (CPU, the project's venv): freeze a finished experiment run's tokenized
  # train and validation pairs, validation/test queries, tries and ID maps
  python -m benchmarks.accelerator_table2 export RUN_DIR BUNDLE
  # on the accelerator (needs jax, flax, optax, orbax, gin, numpy): one job per
  # process, several at once share the card (benchmarks/accelerator_run.sh)
  python -m benchmarks.accelerator_table2 run BUNDLE OUT --strategy semantic-ids-cf --model wide
  python -m benchmarks.accelerator_table2 throughput OUT/throughput.json --size base
  # here again: Table 2 / Table 3 rows, Figure 3 and learning curves
  python -m benchmarks.accelerator_table2 score RUN_DIR OUT

`run` trains one strategy from scratch with the demo's recipe (query-grouped
batches of 8 targets, the trie-normalised loss, Adafactor, `gin_configs/runs/
demo.gin`) regularised as `demo_long.gin` (dropout 0.1, input token dropout
0.2) for `--epochs`, and after every epoch decodes all validation queries
(hits@10, the paper's diverse beam search: 20 beams, 5 groups, penalty 0.25,
constrained, distinct) and computes the validation loss. The epoch with the
best validation hits@10 is the model: only it decodes the test queries (the
test split is read once per job, never to choose). semantic-ids-cf is also
decoded at every penalty of Figure 3.

`throughput` measures train-step examples/s, tokens/s and model FLOP
utilisation of a size in bfloat16, with compile time cold and from JAX's
persistent compilation cache; with `--wait_for FILE` it compiles at once but
times only once FILE exists (the other jobs are done), so the card is quiet.
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

from text2tracks_jax import logs

STRATEGIES = ("semantic-ids-cf", "track-int", "artist-iid-track-seq", "artist-int-track-seq",
              "semantic-ids-text", "artist-name-track-name")
PENALTIES = (0.0, 0.25, 0.5, 1.0, 2.0)
# Table 3's model shapes: the demo's tiny T5, demo_long's wide one, and T5 small.
MODELS = {"tiny": ("tiny", {}), "wide": ("tiny", {"d_model": 256, "d_ff": 1024, "d_kv": 64}),
          "small": ("small", {})}
TRIE_FIELDS = ("row_ptr", "child_token", "child_node", "leaf_lo", "leaf_hi", "terminal_leaf",
               "depth_vocab", "child_rank")
TRIE_META = ("num_nodes", "num_leaves", "vocab_size", "eos_id", "max_length", "root_degree",
             "max_degree", "depth_vocab_width")
PEAK_BF16_FLOPS = {"NVIDIA H200": 989e12, "NVIDIA H100 80GB HBM3": 989e12}  # dense, datasheet


# -- export (project venv) -----------------------------------------------------
def export(run_dir: Path, bundle: Path):
  import tasks  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow, here only
  from text2tracks_jax.data.dataset import PreparedDataset  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.ids import prefix_trie  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.serving import recommender  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import task_data  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.train import _round_up, _task_vocab_size  # pylint: disable=import-outside-toplevel
  run_dir = run_dir.absolute()
  tasks.register_run(run_dir, build_vocabularies=False)
  bundle.mkdir(parents=True, exist_ok=True)
  data = PreparedDataset.load(run_dir / "data")
  split = {s: list(data.examples(s)) for s in ("validation", "test")}
  for manifest in sorted((run_dir / "ids").glob("*/manifest.json")):
    strategy = manifest.parent.name
    config = run_dir / "train" / strategy / "train_config.json"
    if strategy not in STRATEGIES or not config.exists():
      continue
    info = json.loads(config.read_text())
    name = tasks.task_name(run_dir.name, strategy)
    cache = run_dir / "train" / strategy / "cache"
    pairs = {s: task_data.load_task_examples(name, s, info["inputs_length"], cache_dir=cache)
             for s in ("train", "validation")}
    vocab = _round_up(_task_vocab_size(name))
    model = network.T5Model(configs.get_config("tiny", vocab_size=vocab))
    rec = recommender.Recommender.for_task(model, None, run_dir, name, info["inputs_length"])
    trie = rec.trie
    # The trie the train loss walks (train.py) is the decoder's: check, then ship one.
    loss_trie = prefix_trie.build_trie(tasks.id_token_sequences(run_dir, name)[3], eos_id=1,
                                       vocab_size=vocab)
    assert all(np.array_equal(getattr(trie, f), getattr(loss_trie, f)) for f in TRIE_FIELDS)
    arrays = {f"trie_{f}": np.asarray(getattr(trie, f)) for f in TRIE_FIELDS}
    dtype = np.uint16 if vocab <= 65535 else np.int32
    queries = {s: rec.encode_queries([e.query for e in split[s]], warn_truncated=False)
               for s in split}
    np.savez_compressed(
        bundle / f"{strategy}.npz", train_inputs=pairs["train"].inputs.astype(dtype),
        train_targets=pairs["train"].targets.astype(dtype),
        validation_inputs=pairs["validation"].inputs.astype(dtype),
        validation_targets=pairs["validation"].targets.astype(dtype),
        validation_queries=queries["validation"], test_queries=queries["test"], **arrays)
    meta = {"strategy": strategy, "vocab_size": vocab, "leaf_ids": rec.leaf_ids,
            "id_to_tracks": {s: list(rec.id_map.id_to_tracks[s]) for s in rec.leaf_ids},
            "cpu_train_config": {k: info.get(k) for k in ("batch_size", "group_targets",
                                                          "trie_loss", "model_config")},
            "trie": {f: getattr(trie, f) for f in TRIE_META}}
    for s in split:
      meta[s] = {"query_ids": [e.query_id for e in split[s]],
                 "queries": [e.query for e in split[s]],
                 "relevant": [list(e.track_ids) for e in split[s]]}
    with gzip.open(bundle / f"{strategy}.json.gz", "wt") as f:
      json.dump(meta, f)
    print(f"{strategy}: {len(pairs['train']):,} train / {len(pairs['validation']):,} validation "
          f"pairs, vocab {vocab}, {trie.num_leaves:,} IDs")


# -- run (accelerator) -----------------------------------------------------------
def _load(bundle: Path, strategy: str):
  from text2tracks_jax.ids import prefix_trie  # pylint: disable=import-outside-toplevel
  arrays = dict(np.load(bundle / f"{strategy}.npz"))
  with gzip.open(bundle / f"{strategy}.json.gz", "rt") as f:
    meta = json.load(f)
  trie = prefix_trie.PrefixTrie(**{f: arrays[f"trie_{f}"] for f in TRIE_FIELDS}, **meta["trie"])
  return arrays, meta, trie


def _decode(model, params, trie, queries, meta, penalty, batch_size=128) -> list:
  """Top-10 track lists of `queries` [N, S] (the paper's diverse beam search)."""
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.decoding import generation  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.ids.id_map import rank_tracks  # pylint: disable=import-outside-toplevel
  rows = []
  for i in range(0, len(queries), batch_size):
    chunk = queries[i:i + batch_size]
    pad = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - len(chunk), 0)])
    out = generation.generate(model, params, pad, num_beams=20, num_beam_groups=5,
                              diversity_penalty=penalty, max_new_tokens=trie.max_length,
                              constraint=trie, distinct=True, normalize="legal")
    leaves, scores = jax.device_get((out.leaves, out.scores))
    for b in range(len(chunk)):
      decoded = [(meta["leaf_ids"][int(leaf)], score) for leaf, score in zip(leaves[b], scores[b])
                 if leaf >= 0 and np.isfinite(score)]  # constrained: every finite result is an ID
      rows.append(rank_tracks(decoded, meta["id_to_tracks"], top_n=10))
  return rows


def _write_predictions(path: Path, split: dict, rows):
  tmp = path.with_suffix(".tmp")
  with tmp.open("w") as f:
    for qid, q, r in zip(split["query_ids"], split["queries"], rows):
      f.write(json.dumps({"query_id": qid, "query": q, **r}, ensure_ascii=False) + "\n")
  tmp.rename(path)


class _Scalars:
  """A metric writer for the Trainer that keeps every logged scalar in memory."""

  def __init__(self):
    self.rows = []

  def write_scalars(self, step, scalars):
    self.rows.append({"step": int(step), **{k: float(v) for k, v in scalars.items()}})

  def flush(self):
    pass


class _Stop(Exception):
  """Ends training at an epoch end: the time budget is spent or validation
  hits@10 stopped improving."""


def run_job(bundle: Path, out: Path, args, log) -> dict:
  """Trains `args.strategy` in model `args.model` for `args.epochs` (or until
  `train_deadline_s` / `patience`), keeps the epoch best on validation hits@10,
  decodes the test queries with it."""
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.evaluation import metrics  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.input_pipeline import (GroupedExamples, TokenizedExamples,  # pylint: disable=import-outside-toplevel
                                                       group_by_query)
  from text2tracks_jax.training.trainer import Trainer, TrainConfig  # pylint: disable=import-outside-toplevel
  t0 = time.perf_counter()
  arrays, meta, trie = _load(bundle, args.strategy)
  pairs = {s: TokenizedExamples(arrays[f"{s}_inputs"].astype(np.int32),
                                arrays[f"{s}_targets"].astype(np.int32))
           for s in ("train", "validation")}
  train: GroupedExamples = group_by_query(pairs["train"], args.group_targets)
  val_groups = group_by_query(pairs["validation"], args.group_targets)
  size, overrides = MODELS[args.model]
  cfg = configs.get_config(size, vocab_size=meta["vocab_size"], dropout_rate=args.dropout,
                           dtype=args.dtype, **overrides)
  steps_per_epoch = len(train) // args.batch_size
  total = int(round(args.epochs * steps_per_epoch))
  schedule = optimizers.learning_rate_schedule(total, args.learning_rate,
                                               warmup_steps=args.warmup_steps)
  writer = _Scalars()
  model = network.T5Model(cfg)
  trie_dev = jax.device_put(trie)
  val, best = meta["validation"], {"hits": -1.0}
  relevant = val["relevant"]

  def eval_fn(params, step):
    rows = _decode(model, params, trie_dev, arrays["validation_queries"], meta, 0.25)
    scores = metrics.score_queries([r["track_ids"] for r in rows], relevant, 10)
    loss = trainer.eval_loss(params, val_groups)
    out = {"validation_hits@10": scores["hits@10"], "validation_recall@10": scores["recall@10"],
           "validation_loss": loss}
    if scores["hits@10"] > best["hits"]:
      best.update(hits=scores["hits@10"], step=step, params=jax.device_get(params))
    log(f"epoch {step / steps_per_epoch:.1f}: validation hits@10 {scores['hits@10']:.3f} "
        f"loss {loss:.3f} (best {best['hits']:.3f} at step {best['step']}) "
        f"[{time.perf_counter() - t0:.0f}s]")
    if time.perf_counter() - t0 > args.train_deadline_s:
      raise _Stop(step, "train deadline")
    if step - best["step"] >= args.patience * steps_per_epoch * args.eval_every_epochs:
      raise _Stop(step, f"no better validation hits@10 in {args.patience} evals")
    return out

  trainer = Trainer(model, optimizers.create_optimizer(schedule, name=args.optimizer),
                    tempfile.mkdtemp(), TrainConfig(
                        batch_size=args.batch_size, checkpoint_every_steps=10 * total,
                        log_every_steps=max(steps_per_epoch // 4, 1), async_checkpoints=False,
                        eval_every_steps=steps_per_epoch * args.eval_every_epochs,
                        input_token_dropout=args.input_token_dropout),
                    writer=writer, eval_fn=eval_fn, trie=trie)
  stopped = None
  try:
    state = trainer.fit(train, total, schedule)
    if total % trainer.config.eval_every_steps:  # the last step is a candidate too
      writer.write_scalars(total, eval_fn(state["params"], total))
  except _Stop as e:
    stopped = {"step": int(e.args[0]), "why": e.args[1]}
    log(f"{e.args[1]}: stopped after step {e.args[0]} of {total}")
  train_s = time.perf_counter() - t0
  trainer.close()
  record = {"strategy": args.strategy, "model": args.model, "model_config": str(cfg),
            "num_params": network.num_params(best["params"]), "pairs": len(pairs["train"]),
            "query_groups": len(train), "batch_size": args.batch_size, "total_steps": total,
            "steps_per_epoch": steps_per_epoch, "stopped": stopped,
            "best_step": best["step"], "best_epoch": best["step"] / steps_per_epoch,
            "best_validation_hits@10": best["hits"], "train_s_incl_compile_and_evals": train_s,
            "options": {k: v for k, v in vars(args).items() if k != "func"},
            "device": str(jax.devices()[0].device_kind), "curve": writer.rows}
  params = jax.device_put(best["params"])
  tag = f"{args.strategy}.{args.model}"
  penalties = PENALTIES if args.strategy == "semantic-ids-cf" else (0.25,)
  for p in penalties:
    start = time.perf_counter()
    rows = _decode(model, params, trie_dev, arrays["test_queries"], meta, p)
    record.setdefault("test_decode_s", {})[str(p)] = time.perf_counter() - start
    suffix = "" if p == 0.25 else f".penalty{p}"
    _write_predictions(out / f"{tag}{suffix}.jsonl", meta["test"], rows)
  (out / f"{tag}.json").write_text(json.dumps(record, indent=1, default=str))
  log(f"{tag}: best validation hits@10 {best['hits']:.3f} at epoch {record['best_epoch']:.1f}, "
      f"{train_s:.0f}s")
  return record


def throughput(size: str, batch: int, s: int, t: int, steps: int, cache_dir: str,
               wait_for: str | None, log) -> dict:
  """Train-step examples/s and model FLOP utilisation of `size` in bfloat16;
  compile time cold, then again from the persistent compilation cache."""
  import jax  # pylint: disable=import-outside-toplevel
  jax.config.update("jax_compilation_cache_dir", cache_dir)
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.input_pipeline import encdec_features  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.trainer import Trainer, TrainConfig  # pylint: disable=import-outside-toplevel
  cfg = configs.get_config(size, dtype="bfloat16", dropout_rate=0.1)
  tr = Trainer(network.T5Model(cfg), optimizers.create_optimizer(
      optimizers.learning_rate_schedule(10_000), name="adafactor"), tempfile.mkdtemp(),
               TrainConfig(batch_size=batch))
  state = tr.init_state()
  rng = np.random.default_rng(0)
  inputs = rng.integers(2, cfg.vocab_size, (batch, s)).astype(np.int32)
  targets = rng.integers(2, cfg.vocab_size, (batch, t)).astype(np.int32)
  b = tr._global_batch(encdec_features(inputs, targets))  # pylint: disable=protected-access
  compile_s = []
  with tr.mesh:
    for i in range(2):  # the second compile reads the persistent cache, not memory
      if i:
        jax.clear_caches()
      start = time.perf_counter()
      compiled = tr._step_fn.lower(state, b, None).compile()  # pylint: disable=protected-access
      compile_s.append(time.perf_counter() - start)
      log(f"throughput {size}: compiled in {compile_s[-1]:.1f}s")
    waited = time.perf_counter()
    while wait_for and not Path(wait_for).exists():
      time.sleep(1.0)
    waited = time.perf_counter() - waited
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    for _ in range(5):
      state, m = compiled(state, b, None)
    jax.block_until_ready(m)
    start = time.perf_counter()
    for _ in range(steps):
      state, m = compiled(state, b, None)
    jax.block_until_ready(m)
    secs = (time.perf_counter() - start) / steps
  flops = float((cost or {}).get("flops", 0.0))
  n = network.num_params(state["params"])
  kind = str(jax.devices()[0].device_kind)
  peak = PEAK_BF16_FLOPS.get(kind)
  rec = {"size": size, "params": n, "batch": batch, "inputs": s, "targets": t,
         "step_ms": 1e3 * secs, "examples_per_s": batch / secs, "tokens_per_s": batch * (s + t) / secs,
         "compile_s_cold": compile_s[0], "compile_s_cached": compile_s[1],
         "cache_entries": len(list(Path(cache_dir).glob("*"))),
         "waited_s": waited, "xla_flops_per_step": flops,
         "model_flops_per_step": 6.0 * n * batch * (s + t), "device": kind,
         "peak_bf16_flops": peak, "jax": jax.__version__}
  if peak and flops:
    rec["mfu_xla_flops"] = flops / secs / peak
  if peak:
    rec["mfu_6nd"] = rec["model_flops_per_step"] / secs / peak
  # The paper's run: 1M (query, track) pairs, 20 epochs, one pair per example.
  rec["paper_run_minutes"] = 20 * 1_000_000 / rec["examples_per_s"] / 60
  log(f"throughput {size}: {rec}")
  return rec


# -- score (project venv) ------------------------------------------------------
def score(run_dir: Path, out: Path, bundle: Path | None = None):
  from text2tracks_jax.evaluation import scorer  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.experiments import learning_curves as lc  # pylint: disable=import-outside-toplevel
  records = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))
             if p.name != "throughput.json"]
  order = {s: i for i, s in enumerate(STRATEGIES)}
  records.sort(key=lambda r: (order.get(r["strategy"], 99), list(MODELS).index(r["model"])))
  systems = {f"{r['strategy']}.{r['model']}": str(out / f"{r['strategy']}.{r['model']}.jsonl")
             for r in records}
  result = scorer.evaluate(str(run_dir / "data"), systems, str(out / "table"), k=10,
                           split="test")
  print(result["table"])
  for r in records:
    if r["strategy"] == "semantic-ids-cf":
      tag = f"semantic-ids-cf.{r['model']}"
      sweep = {f"penalty {p}": str(out / (f"{tag}.jsonl" if p == 0.25 else f"{tag}.penalty{p}.jsonl"))
               for p in PENALTIES}
      print(scorer.evaluate(str(run_dir / "data"), sweep, str(out / f"figure3.{r['model']}"),
                            k=10, split="test")["table"])
  runs = []
  for r in records:
    scalars = {}
    for row in r["curve"]:
      for key, value in row.items():
        if key != "step":
          scalars.setdefault(key, {})[row["step"]] = value
    scalars = {k: (np.array(sorted(v), np.int64), np.array([v[s] for s in sorted(v)]))
               for k, v in scalars.items()}
    config = {"task": r["strategy"], "trie_loss": True, "group_targets": r["options"]["group_targets"],
              "batch_size": r["batch_size"], "total_steps": r["total_steps"]}
    yard = {}
    if bundle is not None:
      arrays = np.load(bundle / f"{r['strategy']}.npz")
      yard = lc.yardsticks(arrays["train_inputs"], arrays["train_targets"])
    runs.append({"label": f"{r['strategy']} {r['model']}", "workdir": str(out), "config": config,
                 "steps_per_epoch": r["steps_per_epoch"], "scalars": scalars, "yardsticks": yard})
  if bundle is not None:
    print(lc.write_report(runs, out / "curves"))


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  sub = p.add_subparsers(dest="cmd", required=True)
  e = sub.add_parser("export")
  e.add_argument("run_dir", type=Path)
  e.add_argument("bundle", type=Path)
  r = sub.add_parser("run")
  r.add_argument("bundle", type=Path)
  r.add_argument("out", type=Path)
  r.add_argument("--strategy", required=True, choices=STRATEGIES)
  r.add_argument("--model", default="wide", choices=sorted(MODELS))
  r.add_argument("--epochs", type=float, default=20)
  r.add_argument("--eval_every_epochs", type=int, default=1)
  r.add_argument("--batch_size", type=int, default=32, help="queries per step (demo.gin)")
  r.add_argument("--group_targets", type=int, default=8)
  r.add_argument("--optimizer", default="adafactor")
  r.add_argument("--learning_rate", type=float, default=1e-2)
  r.add_argument("--warmup_steps", type=int, default=60)
  r.add_argument("--dropout", type=float, default=0.1)
  r.add_argument("--input_token_dropout", type=float, default=0.2,
                 help="word dropout on the query (demo_long.gin's regularised recipe)")
  r.add_argument("--dtype", default="float32")
  r.add_argument("--train_deadline_s", type=float, default=1e9,
                 help="stop training at the first epoch end past this many seconds")
  r.add_argument("--patience", type=int, default=5,
                 help="stop after this many evals without a better validation hits@10")
  t = sub.add_parser("throughput")
  t.add_argument("out", type=Path)
  t.add_argument("--size", default="base")
  t.add_argument("--batch", type=int, default=512)
  t.add_argument("--inputs", type=int, default=32)
  t.add_argument("--targets", type=int, default=8)
  t.add_argument("--steps", type=int, default=30)
  t.add_argument("--cache_dir", default=str(Path(tempfile.gettempdir()) / "t2t_jax_cache"))
  t.add_argument("--wait_for", default=None)
  s = sub.add_parser("score")
  s.add_argument("run_dir", type=Path)
  s.add_argument("out", type=Path)
  s.add_argument("--bundle", type=Path, default=None, help="for the loss yardsticks")
  args = p.parse_args(argv)
  t0 = time.perf_counter()
  log = lambda m: print(f"[{time.perf_counter() - t0:6.1f}s] {m}", flush=True)
  logs.configure()  # the trainer's progress lines (stderr)
  if args.cmd == "export":
    export(args.run_dir, args.bundle)
  elif args.cmd == "run":
    args.out.mkdir(parents=True, exist_ok=True)
    run_job(args.bundle, args.out, args, log)
  elif args.cmd == "throughput":
    rec = throughput(args.size, args.batch, args.inputs, args.targets, args.steps,
                     args.cache_dir, args.wait_for, log)
    args.out.write_text(json.dumps(rec, indent=1))
  else:
    score(args.run_dir, args.out, args.bundle)


if __name__ == "__main__":
  sys.exit(main())
