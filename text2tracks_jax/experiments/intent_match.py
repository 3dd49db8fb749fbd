"""Does a system's list follow the prompt's hidden intent? (synthetic worlds)

  python -m text2tracks_jax.experiments.intent_match DATA_DIR NAME=PREDS.jsonl ... \
      [--split test] [--k 10] [--out FILE.md]

Every synthetic playlist is drawn from an intent (facet values such as
"genre: pop, mood: calm", or an artist's radio), which no system sees. For
each query whose playlist the rebuilt world knows, and each system:

  intent share   the share of the top-k tracks that match every facet of the
                 intent (popularity, which ignores the prompt, scores ~0.03
                 on the demo world);
  in top 25      of those matching tracks, the share among the intent's
                 `editorial_pool` most popular ones: the editorial test
                 playlists are drawn from exactly these.

hits@k on the editorial test is about k x intent share x in-top-25 share x
the chance that such a track is in the playlist, so the two numbers say
whether a system misses the intent or picks its less popular tracks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Mapping

import numpy as np

from text2tracks_jax import logs
from text2tracks_jax.data import outputs
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.data.synthetic.world import Sampler
from text2tracks_jax.data.errors import InputError, UserError
from text2tracks_jax.evaluation import predictions as predictions_lib
from text2tracks_jax.experiments.showcase import rebuild_world


def intent_match(data_dir, systems: Mapping[str, Path], *, split: str = "test",
                 k: int = 10) -> dict:
  """{"pool": the intent's top-N size, "systems": {name: {"queries", "intent_share",
  "in_top_pool_share", "hits"}}} (means over the queries the world knows)."""
  dataset = PreparedDataset.load(data_dir)
  world = rebuild_world(dataset.manifest)
  if world is None:
    raise InputError(str(Path(data_dir) / "manifest.json"), None, "source",
                     "not a synthetic dataset: there is no hidden intent to compare with")
  sampler = Sampler(world.config, world.tracks, world.artists,
                              np.random.default_rng(0))  # pools are deterministic
  index = {t: i for i, t in enumerate(world.tracks.ids)}
  playlists = {p.query_id: p for p in world.playlists.get(split, ())}
  relevant = {q: set(t) for q, t in dataset.relevance(split).items()}
  pop = world.tracks.pop
  out = {"pool": world.config.editorial_pool, "systems": {}}
  for name, path in systems.items():
    preds = predictions_lib.load(path)
    shares, top_shares, hits = [], [], []
    for qid, pred in preds.items():
      playlist = playlists.get(qid)
      if playlist is None or qid not in relevant:
        continue
      pool = sampler.pool(playlist.intent).tracks
      top_n = min(len(pool), world.config.editorial_pool)
      top = set(pool[np.argsort(-pop[pool], kind="stable")[:top_n]].tolist())
      members = set(pool.tolist())
      ranked = [index[t] for t in pred.track_ids[:k] if t in index]
      matching = [t for t in ranked if t in members]
      shares.append(len(matching) / k)
      if matching:
        top_shares.append(sum(t in top for t in matching) / len(matching))
      hits.append(len(set(pred.track_ids[:k]) & relevant[qid]))
    out["systems"][name] = {"queries": len(hits), "intent_share": float(np.mean(shares)) if shares else None,
                 "in_top_pool_share": float(np.mean(top_shares)) if top_shares else None,
                 "hits": float(np.mean(hits)) if hits else None}
  return out


def markdown(result: dict, split: str, k: int) -> str:
  fmt = lambda x: "–" if x is None else f"{x:.3f}"
  pool = result["pool"]
  lines = [f"| system | queries | hits@{k} | intent share@{k} | of those, in the intent's "
           f"top {pool} |", "|---|---:|---:|---:|---:|"]
  for name, r in result["systems"].items():
    lines.append(f"| {name} | {r['queries']} | {fmt(r['hits'])} | {fmt(r['intent_share'])} "
                 f"| {fmt(r['in_top_pool_share'])} |")
  lines += ["", f"{split} queries whose playlist the rebuilt synthetic world knows. Intent "
            f"share: top-{k} tracks matching every facet of the playlist's hidden intent; "
            f"last column: of those, the share among the intent's {pool} most popular tracks "
            "(the pool editorial playlists are drawn from)."]
  return "\n".join(lines) + "\n"


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  p.add_argument("data_dir", type=Path)
  p.add_argument("systems", nargs="+", help="NAME=PREDICTIONS.jsonl")
  p.add_argument("--split", default="test")
  p.add_argument("--k", type=int, default=10)
  p.add_argument("--out", type=Path, default=None, help="also write the table here")
  args = p.parse_args(argv)
  logs.configure()
  systems = {}
  for spec in args.systems:
    name, sep, path = spec.partition("=")
    if not sep or not name or not path:
      print(f"error: system {spec!r}: expected NAME=PREDICTIONS.jsonl", file=sys.stderr)
      return 2
    systems[name] = Path(path)
  try:
    result = intent_match(args.data_dir, systems, split=args.split, k=args.k)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  text = markdown(result, args.split, args.k)
  if args.out:
    outputs.atomic_write(args.out, text)
  print(text, end="")
  return 0


if __name__ == "__main__":
  sys.exit(main())
