"""`text2tracks evaluate`: score systems' predictions against a split's labels.

  text2tracks evaluate --data DIR --predictions A.jsonl [NAME=B.jsonl ...] --out DIR

reads the relevance labels and the catalog of a prepared dataset, the
predictions JSONL of each system (see `predictions.py`), and writes into
`--out`, each file atomically (temporary file, then rename):

  metrics.json    system -> metric -> mean over queries, then the system-level
                  `jaccard@k` and `distinct_tracks@k` (`diversity.py`), plus per
                  system `queries`, `queries_missing`, `unknown_tracks` and, when
                  the predictions carry it, `invalid_ids_per_query`
  summary.json    k, split, number of queries, systems (letter, path, missing
                  query ids, first 20), every pairwise t-test (p, Bonferroni p) per
                  metric, the number and seed of the query pairs of jaccard@k
  per_query.csv   system, query_id, missing, each metric, invalid_ids
  table.md        the Markdown table with significance letters and footnotes
  table.csv       the same numbers, letters in their own columns

A label query that a system did not predict is scored as an empty list and
counted (never dropped); a predicted query with no label is an error.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from pathlib import Path
from typing import Dict, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.data.dataset import DatasetError, PreparedDataset
from text2tracks_jax.data.errors import FlagError, InputError
from text2tracks_jax.evaluation import diversity
from text2tracks_jax.evaluation import metrics as metrics_lib
from text2tracks_jax.evaluation import predictions as predictions_lib
from text2tracks_jax.evaluation import significance
from text2tracks_jax.evaluation import table as table_lib

# File stems that say nothing about the system: `runs/t5-semantic/predictions.test.jsonl`
# is named after its directory, `t5-semantic`.
GENERIC_STEMS = ("predictions", "preds", "prediction", "output", "outputs", "results", "run")
INVALID = table_lib.INVALID

logger = logging.getLogger(__name__)


# -- systems -----------------------------------------------------------------
def system_name(path) -> str:
  """The name of a system from its predictions file: the stem, or its directory's name."""
  p = Path(path)
  stem = p.name[:-len(".jsonl")] if p.name.endswith(".jsonl") else p.name
  if stem.split(".")[0] in GENERIC_STEMS:
    return p.absolute().parent.name or stem
  return stem


def parse_systems(args: Sequence[str]) -> Dict[str, Path]:
  """["[NAME=]path.jsonl", ...] -> {name: path}, in the order given.

  Raises `InputError` when two files get the same name.
  """
  systems: Dict[str, Path] = {}
  for arg in args:
    name, sep, path = arg.partition("=")
    if not sep or not name or "/" in name or os.sep in name:
      name, path = system_name(arg), arg
    if name in systems:
      raise InputError(path, None, None,
                       f"system name {name!r} is used twice (also by {systems[name]}); "
                       "name the files with NAME=path")
    systems[name] = Path(path)
  return systems


# -- scoring -----------------------------------------------------------------
def artists_of(catalog: pa.Table, track_ids) -> Dict[str, str]:
  """track id -> artist id, for the given tracks only (the catalog may hold millions)."""
  wanted = catalog.filter(pc.is_in(catalog["track_id"],
                                   value_set=pa.array(sorted(track_ids), pa.string())))
  return dict(zip(wanted["track_id"].to_pylist(), wanted["artist_id"].to_pylist()))


def score_system(preds: Mapping[str, predictions_lib.Prediction], labels: Mapping[str, list],
                 artist_of: Mapping[str, str], k: int) -> Dict[str, np.ndarray]:
  """Per-query scores of one system, in label order.

  Returns:
    metric -> [num_queries] float64 for every `metrics.metric_names(k)`, plus
    "missing" (1.0 where the system has no prediction for the query),
    "invalid_ids" (NaN where not given) and "unknown_tracks" (top-k tracks
    that are not in the catalog).
  """
  names = metrics_lib.metric_names(k)
  out = {n: np.zeros(len(labels)) for n in names + ["missing", "unknown_tracks"]}
  out["invalid_ids"] = np.full(len(labels), np.nan)
  for i, (qid, relevant) in enumerate(labels.items()):
    pred = preds.get(qid)
    ranked = pred.track_ids if pred is not None else ()
    for name, value in metrics_lib.query_scores(ranked, relevant, artist_of, k).items():
      out[name][i] = value
    out["missing"][i] = float(pred is None)
    out["unknown_tracks"][i] = sum(t not in artist_of for t in metrics_lib.top_k(ranked, k))
    if pred is not None and pred.invalid_ids is not None:
      out["invalid_ids"][i] = pred.invalid_ids
  return out


def top_lists(preds: Mapping[str, predictions_lib.Prediction], labels: Mapping[str, list],
              k: int) -> list:
  """One system's top-k track list per label query, in label order ([] when missing)."""
  return [metrics_lib.top_k(preds[q].track_ids, k) if q in preds else [] for q in labels]


def summarize(per_query: Mapping[str, np.ndarray], k: int,
              system_level: Mapping[str, float]) -> Dict[str, float]:
  """Means of one system's per-query scores, its system-level measures
  (`diversity.system_scores`) and its counts, for metrics.json."""
  means = {n: float(per_query[n].mean()) for n in metrics_lib.metric_names(k)}
  means.update(system_level)
  given = ~np.isnan(per_query["invalid_ids"])
  if given.any():
    means[INVALID] = float(per_query["invalid_ids"][given].mean())
  means["queries"] = int(per_query["missing"].size)
  means["queries_missing"] = int(per_query["missing"].sum())
  means["unknown_tracks"] = int(per_query["unknown_tracks"].sum())
  return means


def per_query_csv(per_query: Mapping[str, Mapping[str, np.ndarray]], query_ids: Sequence[str],
                  k: int) -> str:
  """CSV rows (system, query_id, missing, each metric, invalid_ids)."""
  names = metrics_lib.metric_names(k)
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\n")
  w.writerow(["system", "query_id", "missing"] + names + ["invalid_ids"])
  for system, scores in per_query.items():
    for i, qid in enumerate(query_ids):
      invalid = scores["invalid_ids"][i]
      w.writerow([system, qid, int(scores["missing"][i])]
                 + [f"{scores[n][i]:.6g}" for n in names]
                 + ["" if math.isnan(invalid) else int(invalid)])
  return buf.getvalue()


# -- writing -----------------------------------------------------------------
def write_files(out_dir, files: Mapping[str, str]) -> None:
  """Writes every file to a temporary sibling first, then renames them all into place.

  Other files in `out_dir` are left alone; an error while writing leaves the
  previous versions untouched and no temporary file behind.
  """
  out_dir = Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  staged = {}
  try:
    for name, text in files.items():
      staged[name] = out_dir / f".{name}.tmp-{os.getpid()}"
      with open(staged[name], "w", encoding="utf-8", newline="") as f:
        f.write(text)
  except BaseException:
    for tmp in staged.values():
      tmp.unlink(missing_ok=True)
    raise
  for name, tmp in staged.items():
    os.replace(tmp, out_dir / name)


def _json(obj) -> str:
  return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


# -- the verb ----------------------------------------------------------------
def evaluate(data_dir, systems: Mapping[str, os.PathLike], out_dir, *, k: int = 10,
             split: str = "test", alpha: float = 0.05) -> dict:
  """Scores every system on `split`, tests every pair, writes the report files.

  Warnings (missing queries, tracks not in the catalog) are logged.

  Args:
    data_dir: a prepared dataset (labels from `split`, artists from the catalog).
    systems: name -> predictions JSONL path, in report order (`parse_systems`).
    out_dir: where metrics.json, summary.json, per_query.csv, table.md and
      table.csv go; nothing is written when any input is bad.
    k: the cut-off.
    alpha: family-wise significance level of the Bonferroni-corrected t-tests.
  Returns:
    {"metrics": system -> metric -> value, "table": Markdown str, "table_csv",
     "pvalues": metric -> [pair records], "better_than": metric -> system ->
     [systems], "summary": the summary.json dict, "per_query": system ->
     metric -> [num_queries] array, "query_ids": label order}.
  """
  if k < 1:
    raise FlagError(f"--k: must be at least 1, got {k}")
  if not systems:
    raise FlagError("--predictions: no predictions files given")
  dataset = PreparedDataset.load(data_dir)
  labels = dataset.relevance(split)
  if not labels:
    raise DatasetError(f"{data_dir}: the {split} split has no queries to score")
  preds = {}
  for name, path in systems.items():
    preds[name] = predictions_lib.load(path)
    predictions_lib.check_known_queries(preds[name], labels, path, split)

  predicted = {t for p in preds.values() for r in p.values()
               for t in metrics_lib.top_k(r.track_ids, k)}
  artist_of = artists_of(dataset.catalog(["track_id", "artist_id"]), predicted)
  per_query = {name: score_system(p, labels, artist_of, k) for name, p in preds.items()}
  pairs = diversity.query_pairs(len(labels))
  means = {name: summarize(per_query[name], k,
                           diversity.system_scores(top_lists(p, labels, k), pairs, k))
           for name, p in preds.items()}

  names, columns = list(systems), metrics_lib.metric_names(k)
  letters = dict(zip(names, significance.system_letters(len(names))))
  tests = {c: significance.pairwise({n: per_query[n][c] for n in names}, alpha) for c in columns}
  better = {c: significance.better_than(tests[c], names) for c in columns}
  missing = {n: means[n]["queries_missing"] for n in names}
  notes = table_lib.footnotes(k=k, split=split, num_queries=len(labels), num_systems=len(names),
                              alpha=alpha, missing=missing, num_query_pairs=len(pairs))
  markdown = table_lib.markdown(means, columns, letters, better, notes,
                                system_level=diversity.names(k))
  table_csv = table_lib.csv_table(means, columns, letters, better, missing,
                                  system_level=diversity.names(k))

  query_ids = list(labels)
  missing_ids = {n: [q for q, m in zip(query_ids, per_query[n]["missing"]) if m] for n in names}
  summary = {
      "k": k, "split": split, "data": str(data_dir), "num_queries": len(labels),
      "alpha": alpha, "test": "paired two-sided Student t-test (scipy.stats.ttest_rel)",
      "correction": "bonferroni over the system pairs, per metric",
      "num_pairs": len(names) * (len(names) - 1) // 2,
      "systems": {n: {"letter": letters[n], "path": str(systems[n]),
                      "queries_missing": missing[n],
                      "missing_query_ids_first": missing_ids[n][:20],
                      "unknown_tracks": means[n]["unknown_tracks"]} for n in names},
      "query_pairs": {"count": len(pairs), "max": diversity.MAX_PAIRS, "seed": diversity.SEED,
                      "for": diversity.names(k)[0]},
      "pvalues": tests, "better_than": better}
  write_files(out_dir, {
      "per_query.csv": per_query_csv(per_query, query_ids, k),
      "table.md": markdown, "table.csv": table_csv,
      "metrics.json": _json(means), "summary.json": _json(summary)})

  for n in names:
    if missing[n]:
      logger.warning(f"{n} ({systems[n]}) has no predictions for {missing[n]} of the "
                     f"{len(labels)} {split} queries; they are scored as empty lists")
    if means[n]["unknown_tracks"]:
      logger.warning(f"{n} recommends {means[n]['unknown_tracks']} top-{k} tracks that are "
                     f"not in the catalog of {data_dir} (each counts as its own artist)")
  return {"metrics": means, "table": markdown, "table_csv": table_csv, "pvalues": tests,
          "better_than": better, "summary": summary, "per_query": per_query,
          "query_ids": query_ids}
