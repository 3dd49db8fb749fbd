"""Batch inference and single-prompt recommendations from a trained run.

`infer` reads a training workdir (`train_config.json` + Orbax checkpoints),
the run's ID map and vocabulary, and writes one JSON line per query::

  {"query_id", "query", "track_ids": [ranked, N], "generated_ids": [...],
   "scores": [...], "invalid_ids": k}

Each generated ID expands to its tracks (collisions by train popularity),
duplicates are dropped, and tracks are ranked by beam score. With the
prefix-trie constraint every generated ID is a real one; without it, the
share of IDs that match no track is reported.

Under N processes (`python -m launch.local --num_processes N -- text2tracks
infer ...`, or a TPU/GPU multi-host launch) process p decodes the p-th
contiguous share of the queries and writes it as a part file beside the
output; process 0 then concatenates the parts in order (the predictions come
out in the split's query order, whatever N is), replaces the output in one
rename and writes the summary. Within a process, batches are split over its
local devices (data parallel). `workdir` and `out` may be any path
`etils.epath` opens (local, `gs://...`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

import gin
import jax
import numpy as np
from etils import epath
from jax.sharding import NamedSharding, PartitionSpec

from text2tracks_jax.decoding import generation
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.models import network, partitioning
from text2tracks_jax.training import distributed


@dataclasses.dataclass
class Recommender:
  """A trained model with its vocabulary, ID map and trie, ready to decode."""

  model: network.T5Model
  params: object
  input_vocab: object
  target_vocab: object
  id_map: object
  trie: prefix_trie.PrefixTrie
  leaf_ids: list
  inputs_length: int
  catalog: dict
  # Where query batches go: None = the default device; a sharding over a
  # [local devices, 1] data x model mesh splits each batch across them
  # (`on_local_devices`), and decoding traces under that mesh's axis rules.
  batch_sharding: Optional[NamedSharding] = None
  # Log-probs over the whole vocabulary ("vocab", HF's) or over the trie's legal
  # tokens ("legal"): the distribution a model trained with `trie_loss` learned.
  normalize: str = "vocab"

  @classmethod
  def load(cls, workdir, step: Optional[int] = None) -> "Recommender":
    """From a training workdir's latest (or given) checkpoint; `InputError` if
    there is none, or if the data, ID map or vocabulary it was trained on changed."""
    from text2tracks_jax.training import checkpoints, fingerprints  # pylint: disable=import-outside-toplevel
    info = fingerprints.read_train_config(workdir)
    fingerprints.check_inputs(workdir, info)
    config, params, _ = checkpoints.load_trained(workdir, step)
    return cls.for_task(network.T5Model(config), jax.device_put(params), info["run_dir"],
                        info["task"], info["inputs_length"],
                        normalize="legal" if info.get("trie_loss") else "vocab")

  @classmethod
  def for_task(cls, model, params, run_dir, task_name: str, inputs_length: int,
               normalize: str = "vocab") -> "Recommender":
    """Vocabulary, ID map, trie and catalog of `task_name` in `run_dir`."""
    import tasks  # pylint: disable=import-outside-toplevel
    from text2tracks_jax.data.dataset import PreparedDataset  # pylint: disable=import-outside-toplevel
    run_dir = Path(run_dir)
    tasks.register_run(run_dir)
    task, id_map, id_strings, sequences, trie = _task_ids(run_dir, task_name,
                                                          model.config.vocab_size)
    leaf_ids = [None] * trie.num_leaves
    for s, leaf in zip(id_strings, prefix_trie.lookup_leaves(trie, sequences)):
      leaf_ids[int(leaf)] = s
    cat = PreparedDataset.load(run_dir / "data").catalog(
        ["track_id", "title", "artist_name"]).to_pydict()
    catalog = {t: (a, ti) for t, ti, a in zip(cat["track_id"], cat["title"], cat["artist_name"])}
    return cls(model, params, task.output_features["inputs"].vocabulary,
               task.output_features["targets"].vocabulary, id_map, jax.device_put(trie),
               leaf_ids, inputs_length, catalog, normalize=normalize)

  def on_local_devices(self, batch_size: int) -> "Recommender":
    """A copy whose batches are split over this process's devices (params and
    trie replicated); itself if there is one device or `batch_size` does not split."""
    devices = jax.local_devices()
    if len(devices) == 1 or batch_size % len(devices):
      return self
    mesh = partitioning.create_mesh(1, devices)
    replicated = partitioning.replicated(mesh)
    return dataclasses.replace(
        self, params=jax.device_put(self.params, replicated),
        trie=jax.device_put(self.trie, replicated),
        batch_sharding=partitioning.batch_sharding(mesh))

  def encode_queries(self, queries, warn=print) -> np.ndarray:
    """[B, inputs_length] int32 query tokens (EOS appended): one shape, one compile."""
    rows = []
    for q in queries:
      if not q or not q.strip():
        raise ValueError("empty prompt: say what you would like to hear")
      ids = self.input_vocab.encode(q)
      if len(ids) + 1 > self.inputs_length:
        warn(f"warning: prompt of {len(ids)} tokens truncated to {self.inputs_length - 1}: {q[:60]!r}")
        ids = ids[:self.inputs_length - 1]
      rows.append(ids + [1])
    out = np.zeros((len(rows), self.inputs_length), np.int32)
    for i, r in enumerate(rows):
      out[i, :len(r)] = r
    return out

  def recommend(self, queries, *, top_n: int = 10, num_beams: int = 20, num_beam_groups: int = 5,
                diversity_penalty: float = 0.25, constrained: bool = True,
                distinct: bool = True, warn=print, params=None) -> list:
    """Ranked tracks per query: [{"track_ids", "generated_ids", "scores", "invalid_ids"}]."""
    tokens = self.encode_queries(queries, warn)
    if self.batch_sharding is not None:
      tokens = jax.device_put(tokens, self.batch_sharding)
    out = generation.generate(
        self.model, params if params is not None else self.params, tokens, num_beams=num_beams, num_beam_groups=num_beam_groups,
        diversity_penalty=diversity_penalty, max_new_tokens=self.trie.max_length,
        constraint=self.trie if constrained else None,
        distinct_across_groups=distinct and constrained,
        normalize=self.normalize if constrained else None,
        mesh=self.batch_sharding.mesh if self.batch_sharding is not None else None)
    seqs, scores = np.asarray(out.sequences), np.asarray(out.scores)
    leaves = np.asarray(out.leaves) if out.leaves is not None else None
    results = []
    for b in range(len(queries)):
      decoded = []
      for j in range(seqs.shape[1]):
        if not np.isfinite(scores[b, j]):
          continue
        if leaves is not None and leaves[b, j] >= 0:
          id_string = self.leaf_ids[leaves[b, j]]
        else:
          toks = seqs[b, j].tolist()
          id_string = self.target_vocab.decode(toks[:toks.index(1)] if 1 in toks else toks)
        decoded.append((id_string, scores[b, j]))
      results.append(rank_tracks(decoded, self.id_map.id_to_tracks, top_n))
    return results


def rank_tracks(decoded, id_to_tracks, top_n: int) -> dict:
  """One query's decoded (ID string, score) pairs, best first -> its result:
  {"track_ids" (each ID's tracks in order, collisions by popularity, no
  repeats, at most `top_n`), "generated_ids", "scores", "invalid_ids" (IDs
  that name no track)}."""
  ranked, generated, scores, invalid = [], [], [], 0
  for id_string, score in decoded:
    generated.append(id_string)
    scores.append(float(score))
    tracks = id_to_tracks.get(id_string)
    if tracks is None:
      invalid += 1
      continue
    ranked.extend(t for t in tracks if t not in ranked)
  return {"track_ids": ranked[:top_n], "generated_ids": generated, "scores": scores,
          "invalid_ids": invalid}


def _task_ids(run_dir: Path, task_name: str, vocab_size: int):
  """(task, ID map, sorted ID strings, their token sequences with EOS, trie) of a
  registered task of `run_dir`."""
  import tasks  # pylint: disable=import-outside-toplevel
  task, id_map, id_strings, sequences = tasks.id_token_sequences(run_dir, task_name)
  trie = prefix_trie.build_trie(sequences, eos_id=1, vocab_size=vocab_size)
  return task, id_map, id_strings, sequences, trie


@gin.configurable
@functools.lru_cache(maxsize=4)
def task_trie(run_dir: str = gin.REQUIRED, task: str = gin.REQUIRED,
              vocab_size: int = gin.REQUIRED) -> prefix_trie.PrefixTrie:
  """The prefix trie of every ID of `task` (registered, from `run_dir`) for a
  `vocab_size`-row model: the decoding constraint where the model is not ours,
  e.g. upstream T5X (`diverse_beam_search.constraint = @inference.task_trie()`,
  see gin_configs/t5x/infer_flan_t5_base.gin). Built once per arguments."""
  return _task_ids(Path(run_dir), task, vocab_size)[4]


@gin.configurable(denylist=["log"])
def infer(workdir: str = gin.REQUIRED, split: str = "test", out: Optional[str] = None,
          batch_size: int = 32, top_n: int = 10, num_beams: int = 20, num_beam_groups: int = 5,
          diversity_penalty: float = 0.25, constrained: bool = True, distinct: bool = True,
          max_queries: Optional[int] = None, log=print) -> dict:
  """Decodes every query of `split`; writes predictions JSONL and a summary.

  Multi-process: each process decodes its share (see the module docstring);
  every process returns the same summary.
  """
  from text2tracks_jax.data.dataset import PreparedDataset  # pylint: disable=import-outside-toplevel
  check_top_n(top_n, num_beams)
  distributed.initialize()
  rank, world = jax.process_index(), jax.process_count()
  rec = Recommender.load(workdir).on_local_devices(batch_size)
  info = json.loads((epath.Path(workdir) / "train_config.json").read_text())
  examples = list(PreparedDataset.load(Path(info["run_dir"]) / "data").examples(split))
  examples = examples[:max_queries] if max_queries else examples
  out = epath.Path(out) if out else epath.Path(workdir) / f"predictions.{split}.jsonl"
  out.parent.mkdir(parents=True, exist_ok=True)
  lo, hi = shard_bounds(len(examples), rank, world)
  mine = examples[lo:hi]
  part = _part_path(out, rank, world)
  start, done = time.time(), 0
  with part.open("w") as f:
    for i in range(0, len(mine), batch_size):
      batch = mine[i:i + batch_size]
      queries = [e.query for e in batch]
      queries += queries[-1:] * (batch_size - len(batch))  # same shape for the last batch
      results = rec.recommend(queries, top_n=top_n, num_beams=num_beams,
                              num_beam_groups=num_beam_groups,
                              diversity_penalty=diversity_penalty, constrained=constrained,
                              distinct=distinct, warn=log)
      for ex, r in zip(batch, results):
        f.write(json.dumps({"query_id": ex.query_id, "query": ex.query, **r},
                           ensure_ascii=False) + "\n")
      done += len(batch)
      rate = done / (time.time() - start)
      share = f" (process {rank}/{world})" if world > 1 else ""
      log(f"infer {split}{share}: {done}/{len(mine)} queries, {rate:.1f} queries/s, "
          f"ETA {(len(mine) - done) / max(rate, 1e-9):.0f}s")
  distributed.barrier("infer: parts written")
  summary_path = out.with_suffix(".summary.json")
  if rank == 0:
    summary = _merge(out, [_part_path(out, r, world) for r in range(world)], len(examples))
    seconds = time.time() - start
    summary.update({"split": split, "seconds": round(seconds, 2),
                    "queries_per_s": round(summary["queries"] / seconds, 2),
                    "processes": world, "constrained": constrained, "num_beams": num_beams,
                    "num_beam_groups": num_beam_groups, "diversity_penalty": diversity_penalty,
                    "predictions": str(out)})
    _write_atomic(summary_path, json.dumps(summary, indent=2) + "\n")
  distributed.barrier("infer: merged")
  summary = json.loads(summary_path.read_text())
  if rank == 0:
    log(f"wrote {out}: {summary['queries']} queries, {summary['queries_per_s']} queries/s "
        f"(compile included), {summary['invalid_id_share']:.1%} of generated IDs match no track")
  return summary


def shard_bounds(n: int, rank: int, world: int):
  """[lo, hi) of process `rank`'s contiguous share of `n` items (sizes differ by <= 1)."""
  per, extra = divmod(n, world)
  lo = rank * per + min(rank, extra)
  return lo, lo + per + (rank < extra)


def _part_path(out: epath.Path, rank: int, world: int) -> epath.Path:
  if world == 1:
    return out.parent / f".{out.name}.tmp-{os.getpid()}"
  return out.parent / f".{out.name}.part-{rank:05d}-of-{world:05d}"


def _merge(out: epath.Path, parts, expected: int) -> dict:
  """Concatenates `parts` (in order) into `out` by one rename and deletes them;
  returns the summary's counts (queries, invalid ID share)."""
  merged = parts[0] if len(parts) == 1 else out.parent / f".{out.name}.tmp-{os.getpid()}"
  queries = invalid = generated = 0
  with contextlib.ExitStack() as stack:
    f = stack.enter_context(merged.open("w")) if len(parts) > 1 else None
    for part in parts:
      for line in part.read_text().splitlines():
        row = json.loads(line)
        queries += 1
        invalid += row["invalid_ids"]
        generated += len(row["generated_ids"])
        if f is not None:
          f.write(line + "\n")
  if queries != expected:
    raise RuntimeError(f"merged {queries} predictions from {len(parts)} part(s), "
                       f"expected {expected}")
  merged.replace(out)
  if len(parts) > 1:
    for part in parts:
      part.unlink()
  return {"queries": queries, "invalid_id_share": invalid / max(generated, 1)}


def _write_atomic(path: epath.Path, text: str):
  tmp = path.parent / f".{path.name}.tmp-{os.getpid()}"
  tmp.write_text(text)
  tmp.replace(path)


def check_top_n(top_n: int, num_beams: int):
  """`InputError` unless 1 <= top_n <= num_beams (each beam is one ID)."""
  from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
  if not 1 <= top_n <= num_beams:
    raise InputError("--top_n", None, None, f"must be between 1 and the number of beams "
                     f"({num_beams}), got {top_n}")


@gin.configurable("recommend", denylist=["workdir", "prompts", "file"])
def print_recommendations(workdir, prompts, top_n: int = 10, file=None, *, num_beams: int = 20,
                          num_beam_groups: int = 5, diversity_penalty: float = 0.25,
                          constrained: bool = True, distinct: bool = True) -> list:
  """`text2tracks recommend`: loads the model once and prints a top-`top_n`
  table for each prompt (gin name `recommend`; decoding options as `infer`'s).

  `prompts`: a string, or an iterable of them read as they come (e.g. stdin
  lines); each is decoded alone, so every prompt runs the one program
  compiled for the first. Blank prompts are skipped. Returns the results.
  """
  file = file or sys.stdout
  check_top_n(top_n, num_beams)
  rec = Recommender.load(workdir)
  results = []
  for prompt in [prompts] if isinstance(prompts, str) else prompts:
    if not prompt.strip():
      continue
    (result,) = rec.recommend([prompt], top_n=top_n, num_beams=num_beams,
                              num_beam_groups=num_beam_groups,
                              diversity_penalty=diversity_penalty, constrained=constrained,
                              distinct=distinct, warn=lambda m: print(m, file=sys.stderr))
    if not isinstance(prompts, str):
      print(f"\n{prompt}", file=file)
    print(f"{'#':>3}  {'track':<12} {'artist':<28} title", file=file)
    for i, t in enumerate(result["track_ids"], 1):
      artist, title = rec.catalog.get(t, ("?", "?"))
      print(f"{i:>3}  {t:<12} {artist[:28]:<28} {title}", file=file)
    file.flush()
    results.append(result)
  return results


def validation_eval_fn(recommender: Recommender, examples, batch_size: int = 32, k: int = 10):
  """`eval_fn(params, step) -> {"validation_hits@10": ...}` for the trainer.

  Parameters on one device are decoded in place. A train state sharded over
  several devices or processes is copied to every process first, and each
  process decodes the queries on its own devices, as `infer` does.
  """
  from text2tracks_jax.evaluation import metrics  # pylint: disable=import-outside-toplevel
  local = recommender.on_local_devices(batch_size)

  def eval_fn(params, step):
    del step
    rec = recommender
    if len({d for x in jax.tree.leaves(params) for d in x.sharding.device_set}) > 1:
      rec, params = local, _replicate_locally(params, local.batch_sharding)
    preds = []
    for i in range(0, len(examples), batch_size):
      batch = [e.query for e in examples[i:i + batch_size]]
      n = len(batch)
      batch += batch[-1:] * (batch_size - n)
      preds += [r["track_ids"] for r in rec.recommend(batch, top_n=k, params=params,
                                                      warn=lambda _: None)[:n]]
    scores = metrics.score_queries(preds, [e.track_ids for e in examples], k)
    return {f"validation_{name}": value for name, value in scores.items()}

  return eval_fn


def _replicate_locally(params, batch_sharding: Optional[NamedSharding]):
  """A full copy of sharded (possibly multi-process) `params` on this process's
  devices: replicated over `batch_sharding`'s mesh, else on the default device."""
  if all(x.is_fully_addressable for x in jax.tree.leaves(params)):
    host = jax.device_get(params)
  else:
    from jax.experimental import multihost_utils  # pylint: disable=import-outside-toplevel
    host = multihost_utils.process_allgather(params, tiled=True)
  if batch_sharding is None:
    return jax.device_put(host)
  return jax.device_put(host, NamedSharding(batch_sharding.mesh, PartitionSpec()))
