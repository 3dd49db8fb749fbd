"""Batch inference from a trained run: `text2tracks infer`.

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
local devices (data parallel). `workdir` may be a list of workdirs: their
models decode as one ensemble (`Recommender.load`); the output then defaults
to the first one's. `workdir` and `out` may be any path
`etils.epath` opens (local, `gs://...`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Optional

import gin
import jax
from etils import epath

from text2tracks_jax.data import outputs
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.serving.recommender import Recommender, check_top_n
from text2tracks_jax.training import distributed

logger = logging.getLogger(__name__)


@gin.configurable
def infer(workdir: str = gin.REQUIRED, split: str = "test", out: Optional[str] = None,
          batch_size: int = 32, top_n: int = 10, num_beams: int = 20, num_beam_groups: int = 5,
          diversity_penalty: float = 0.25, constrained: bool = True, distinct: bool = True,
          max_queries: Optional[int] = None) -> dict:
  """Decodes every query of `split`; writes predictions JSONL and a summary.

  Multi-process: each process decodes its share (see the module docstring);
  every process returns the same summary.
  """
  check_top_n(top_n, num_beams)
  distributed.initialize()
  rank, world = jax.process_index(), jax.process_count()
  workdirs = [workdir] if isinstance(workdir, (str, os.PathLike)) else list(workdir)
  rec = Recommender.load(workdirs).on_local_devices(batch_size)
  workdir = workdirs[0]
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
                              distinct=distinct)
      for ex, r in zip(batch, results):
        f.write(json.dumps({"query_id": ex.query_id, "query": ex.query, **r},
                           ensure_ascii=False) + "\n")
      done += len(batch)
      rate = done / (time.time() - start)
      share = f" (process {rank}/{world})" if world > 1 else ""
      logger.info(f"infer {split}{share}: {done}/{len(mine)} queries, {rate:.1f} queries/s, "
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
                    "predictions": str(out), "workdirs": [str(w) for w in workdirs]})
    outputs.atomic_write(summary_path, json.dumps(summary, indent=2) + "\n")
  distributed.barrier("infer: merged")
  summary = json.loads(summary_path.read_text())
  if rank == 0:
    logger.info(f"wrote {out}: {summary['queries']} queries, {summary['queries_per_s']} "
                f"queries/s (compile included), {summary['invalid_id_share']:.1%} of generated "
                "IDs match no track")
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

