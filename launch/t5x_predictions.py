"""Turns upstream T5X `infer.py` output into our predictions JSONL, for `text2tracks evaluate`.

  python -m launch.t5x_predictions --t5x infer/text2tracks_mpd_semantic_ids_cf-1496500.jsonl \\
      --run_dir runs/mpd --strategy semantic-ids-cf --split test --out runs/mpd/t5x.test.jsonl

T5X writes one line per query of the split, in the split's order:
`{"inputs": {"inputs_pretokenized": QUERY}, "prediction": [ID, ...],
"aux": {"scores": [...]}}` with the decodes in increasing score (the config in
gin_configs/t5x/infer_flan_t5_base.gin returns all of them). Each line becomes
`{"query_id", "query", "track_ids", "generated_ids", "scores", "invalid_ids"}`
as `text2tracks infer` writes it: IDs best first, each expanded to its tracks
through the run's ID map (collisions by train popularity), duplicates dropped,
the first `top_n` kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from text2tracks_jax.data import outputs
from text2tracks_jax.ids.id_map import rank_tracks


def convert_line(row: dict, query_id: str, query: str, id_to_tracks: dict, top_n: int) -> dict:
  """One T5X output line -> one of our prediction lines."""
  text = row.get("inputs", {}).get("inputs_pretokenized")
  if text is not None and text != query:
    raise ValueError(f"T5X line for query {query_id!r} has input {text!r}, expected {query!r}: "
                     "is it the same split, in order?")
  decodes = row["prediction"]
  decodes = [decodes] if isinstance(decodes, str) else list(decodes)
  scores = row.get("aux", {}).get("scores")
  scores = [scores] if isinstance(scores, (int, float)) else scores
  decodes = [d.strip() for d in decodes[::-1]]  # T5X: increasing score; ours: best first
  result = rank_tracks(zip(decodes, scores[::-1] if scores is not None else [0.0] * len(decodes)),
                       id_to_tracks, top_n)
  if scores is None:
    result["scores"] = []
  return {"query_id": query_id, "query": query, **result}


def convert(t5x_jsonl, run_dir, strategy: str, split: str, out, top_n: int = 10) -> int:
  """Writes `out` (atomically); returns the number of queries."""
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data.dataset import PreparedDataset  # pylint: disable=import-outside-toplevel
  examples = list(PreparedDataset.load(Path(run_dir) / "data").examples(split))
  id_to_tracks = ids.load_id_map(Path(run_dir) / "ids" / strategy).id_to_tracks
  with open(t5x_jsonl, encoding="utf-8") as f:
    rows = [json.loads(line) for line in f if line.strip()]
  if len(rows) != len(examples):
    raise ValueError(f"{t5x_jsonl} has {len(rows)} lines, the {split} split {len(examples)} queries")
  with outputs.atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
    for ex, row in zip(examples, rows):
      f.write(json.dumps(convert_line(row, ex.query_id, ex.query, id_to_tracks, top_n),
                         ensure_ascii=False) + "\n")
  return len(rows)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(prog="python -m launch.t5x_predictions",
                              description=__doc__.split("\n\n", 1)[0])
  p.add_argument("--t5x", required=True, help="a JSONL file written by T5X's infer.py")
  p.add_argument("--run_dir", required=True, help="the run directory (data/, ids/)")
  p.add_argument("--strategy", required=True, help="ID strategy, e.g. semantic-ids-cf")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"])
  p.add_argument("--out", required=True, help="predictions JSONL to write")
  p.add_argument("--top_n", type=int, default=10)
  args = p.parse_args(argv)
  try:
    n = convert(args.t5x, args.run_dir, args.strategy, args.split, args.out, args.top_n)
  except (ValueError, FileNotFoundError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(f"wrote {args.out}: {n} queries")
  return 0


if __name__ == "__main__":
  sys.exit(main())
