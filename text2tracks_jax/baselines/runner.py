"""`text2tracks baseline`: fit a baseline on train, rank a split, write predictions.

Predictions use `text2tracks infer`'s JSONL format, one line per query of the
split, so the scorer reads both the same way::

  {"query_id": "...", "query": "...", "track_ids": [top_n ranked], "scores": [...]}

The file appears only when complete (written to a temporary sibling, then
`os.replace`d); a failure leaves no file behind. `<out stem>.summary.json`
records the baseline, its settings, what fitting measured, query count, time
and queries/s.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Callable, Dict

from text2tracks_jax.baselines.bm25 import bm25
from text2tracks_jax.baselines.biencoder import biencoder
from text2tracks_jax.baselines.cooccurrence import cooccurrence
from text2tracks_jax.baselines.popularity import popularity
from text2tracks_jax.baselines.ranking import Progress, Ranker, top_k
from text2tracks_jax.data import outputs
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.data.errors import FlagError, InputError
from text2tracks_jax.ids.inputs import load_inputs

logger = logging.getLogger(__name__)

BUILDERS: Dict[str, Callable[..., Ranker]] = {
    "popularity": popularity,
    "bm25": bm25,
    "biencoder-zs": lambda inputs, **kw: biencoder(inputs, fine_tuned=False, **kw),
    "biencoder-ft": lambda inputs, **kw: biencoder(inputs, fine_tuned=True, **kw),
    "cooccurrence": cooccurrence,
}
NAMES = tuple(BUILDERS)


def run(name: str, *, data_dir, out, split: str = "test", top_n: int = 10,
        seed: int = 0) -> dict:
  """Fits baseline `name` on train and writes its ranked lists for `split`.

  Returns the summary (also written next to `out` as `<stem>.summary.json`).
  """
  if name not in BUILDERS:
    raise ValueError(f"unknown baseline {name!r}; expected one of {list(NAMES)}")
  if top_n < 1:
    raise FlagError(f"--top_n: must be at least 1, got {top_n}")
  if Path(out).is_dir():
    raise InputError(out, None, None, "is a directory; --out names the predictions JSONL file "
                     "to write")
  start = time.perf_counter()
  dataset = PreparedDataset.load(data_dir)
  examples = list(dataset.examples(split))
  inputs = load_inputs(data_dir)
  ranker = BUILDERS[name](inputs, seed=seed)
  fit_seconds = time.perf_counter() - start
  tiebreak = inputs.track_rank()
  out = Path(out)
  out.parent.mkdir(parents=True, exist_ok=True)
  rank_start = time.perf_counter()
  progress = Progress(f"{name} {split}", len(examples), "queries")
  with outputs.atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
    for lo in range(0, len(examples), ranker.batch_size):
      batch = examples[lo:lo + ranker.batch_size]
      rows, values = top_k(ranker.score([e.query for e in batch]), top_n, tiebreak)
      for ex, r, v in zip(batch, rows, values):
        keep = r >= 0
        f.write(json.dumps({"query_id": ex.query_id, "query": ex.query,
                            "track_ids": inputs.track_ids[r[keep]].tolist(),
                            "scores": [round(float(x), 6) for x in v[keep]]},
                           ensure_ascii=False) + "\n")
      progress.update(lo + len(batch))
  rank_seconds = time.perf_counter() - rank_start
  seconds = time.perf_counter() - start
  summary = {"name": name, "split": split, "top_n": top_n, "seed": seed,
             "data": str(data_dir), "predictions": str(out),
             "settings": ranker.settings, "fit": ranker.info, "queries": len(examples),
             "fit_seconds": round(fit_seconds, 2), "rank_seconds": round(rank_seconds, 2),
             "seconds": round(seconds, 2),
             "queries_per_s": round(len(examples) / max(rank_seconds, 1e-9), 2)}
  outputs.atomic_write(out.with_suffix(".summary.json"), json.dumps(summary, indent=2) + "\n")
  logger.info(f"wrote {out}: {name}, {len(examples)} {split} queries, fit {fit_seconds:.1f}s, "
              f"{summary['queries_per_s']} queries/s")
  return summary
