"""ID strategy benchmarks: learned semantic IDs at the paper's scale.

Each build runs in its own child process (`_build_in_child`) so its wall time
and peak RSS are its own, not the synthetic data generator's. Datasets come
from the synthetic world: the `paper` preset (500k tracks, ~1M train pairs)
and the same world scaled to 50k tracks, to show how each phase grows.
Quick mode: 10k and 40k tracks.

- ids_semantic_cf_paper: word2vec + sparse coding. Targets: < 600 s, < 8 GB.
- ids_semantic_text_paper: MiniLM + sparse coding with `mode="mean"` (each
  distinct train query encoded once, tracks average their queries) end to end,
  plus the paper's recipe (`mode="concat"`: one text per track) *estimated*
  from encoding a seeded sample of the distinct per-track texts; the full
  concat run is `ids_semantic_text_concat_paper` (over an hour on 2 cores).
- ids_strategies_demo: every strategy on the demo preset: tokens per ID,
  collisions, new tokens, prefix sharing (the paper's ~15 / ~4 / 3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from text2tracks_jax.data import prepare as prepare_lib

BUDGET_S = 600
BUDGET_RSS_GB = 8.0

_CHILD = """
import json, resource, sys, time
from text2tracks_jax.ids import build_ids
args = json.loads(sys.argv[1])
start = time.perf_counter()
m = build_ids(args["data"], args["strategy"], args["out"], **args["options"])
print("RESULT " + json.dumps({"wall_s": time.perf_counter() - start,
      "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
      "stats": m.stats}))
"""


def _scaled(n_tracks: int) -> dict:
  """Synthetic-world overrides: the paper preset's shape at `n_tracks`."""
  f = n_tracks / 500_000
  return {"preset": "paper", "n_tracks": n_tracks, "n_artists": max(150, int(70_000 * f)),
          "n_scenes": max(12, int(400 * f)), "n_train": max(500, int(90_000 * f)),
          "n_validation": max(80, int(3_000 * f)), "n_test": max(60, min(513, int(5130 * f)))}


def _dataset(workdir: Path, n_tracks: int) -> tuple:
  options = {"preset": "paper"} if n_tracks == 500_000 else _scaled(n_tracks)
  start = time.perf_counter()
  manifest = prepare_lib.prepare("synthetic", workdir / f"data-{n_tracks}", **options)
  return workdir / f"data-{n_tracks}", manifest, time.perf_counter() - start


def _build_in_child(data: Path, strategy: str, out: Path, **options) -> dict:
  arg = json.dumps({"data": str(data), "strategy": strategy, "out": str(out),
                    "options": options})
  env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", USE_TF="0")
  proc = subprocess.run([sys.executable, "-c", _CHILD, arg], capture_output=True, text=True,
                        env=env, check=False)
  lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
  if proc.returncode or not lines:
    raise RuntimeError(f"build-ids {strategy} failed:\n{proc.stderr[-4000:]}")
  return json.loads(lines[-1][len("RESULT "):])


def _phases(result: dict) -> dict:
  s = result["stats"]
  return {"embedding_s": s["strategy"]["seconds"]["embedding"],
          "discretization_s": s["strategy"]["seconds"]["discretization"],
          "stats_s": s["seconds"]["stats"], "load_s": s["seconds"]["load"],
          "build_wall_s": round(result["wall_s"], 1),
          "peak_rss_gb": round(result["peak_rss_gb"], 2)}


def _scaling(workdir: Path, quick: bool, strategy: str, **options) -> dict:
  sizes = (10_000, 40_000) if quick else (50_000, 500_000)
  points = {}
  for n in sizes:
    data, manifest, prep_s = _dataset(workdir, n)
    result = _build_in_child(data, strategy, workdir / f"ids-{n}", **options)
    points[n] = dict(_phases(result), tracks=manifest["counts"]["tracks"],
                     train_pairs=manifest["counts"]["train"]["pairs"],
                     prepare_s=round(prep_s, 1), stats=result["stats"])
  small, big = points[sizes[0]], points[sizes[1]]
  growth = {k: round(big[k] / max(small[k], 1e-9), 2)
            for k in ("embedding_s", "discretization_s", "build_wall_s")}
  return {"sizes": sizes, "points": points, "growth": growth, "data": data}


def _targets(big: dict, quick: bool, label: str) -> list:
  return [{"what": f"{label} build < {BUDGET_S} s at 500k tracks",
           "ok": quick or big["build_wall_s"] < BUDGET_S},
          {"what": f"{label} peak RSS < {BUDGET_RSS_GB:g} GB",
           "ok": big["peak_rss_gb"] < BUDGET_RSS_GB}]


def _headline(run: dict) -> dict:
  small, big = (run["points"][n] for n in run["sizes"])
  n0, n1 = run["sizes"]
  return {f"build_s_{n1 // 1000}k": big["build_wall_s"],
          f"embedding_s_{n1 // 1000}k": big["embedding_s"],
          f"discretization_s_{n1 // 1000}k": big["discretization_s"],
          f"peak_rss_gb_{n1 // 1000}k": big["peak_rss_gb"],
          f"build_s_{n0 // 1000}k": small["build_wall_s"],
          f"time_growth_{n1 // n0}x_tracks": run["growth"]["build_wall_s"],
          "collision_rate": big["stats"]["collisions"]["ids_with_collision"],
          "prefix_ratio": big["stats"]["prefix_sharing"]["ratio"]}


def ids_semantic_cf_paper(workdir: Path, quick: bool) -> dict:
  """semantic-ids-cf (word2vec + sparse coding) at 50k and 500k tracks."""
  run = _scaling(workdir, quick, "semantic-ids-cf")
  big = run["points"][run["sizes"][1]]
  return {"headline": _headline(run), "targets": _targets(big, quick, "semantic-ids-cf"),
          "growth": run["growth"], "points": {str(k): v for k, v in run["points"].items()}}


def estimate_concat_encoding(data: Path, sample: int = 1500, seed: int = 0) -> dict:
  """Seconds the paper's per-track concatenations would take to encode, from
  a seeded sample of the distinct texts (cost ~ word pieces)."""
  import pyarrow as pa  # pylint: disable=import-outside-toplevel
  import pyarrow.compute as pc  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.ids import embeddings  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.ids.inputs import load_inputs  # pylint: disable=import-outside-toplevel
  inputs = load_inputs(data)
  texts, offsets, codes = embeddings.track_query_lists(inputs, 32)
  lists = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)),
                                   pa.array(texts[codes].tolist(), pa.string()))
  joined = pc.binary_join(lists, ", ")
  unique = pc.unique(pc.filter(joined, pc.not_equal(joined, ""))).to_pylist()
  model = embeddings.load_sentence_encoder(None, 128)
  lengths = np.array([min(len(ids), 128) for ids in
                      model.tokenizer(unique, add_special_tokens=True)["input_ids"]])
  rng = np.random.default_rng(seed)
  pick = rng.choice(len(unique), min(sample, len(unique)), replace=False)
  start = time.perf_counter()
  model.encode([unique[i] for i in pick], batch_size=128, show_progress_bar=False)
  seconds = time.perf_counter() - start
  tokens_per_s = lengths[pick].sum() / seconds
  return {"unique_texts": len(unique), "word_pieces": int(lengths.sum()),
          "mean_word_pieces": round(float(lengths.mean()), 2),
          "sample": int(len(pick)), "sample_seconds": round(seconds, 2),
          "word_pieces_per_s": round(float(tokens_per_s)),
          "estimated_encode_s": round(float(lengths.sum() / tokens_per_s), 1)}


def ids_semantic_text_paper(workdir: Path, quick: bool) -> dict:
  """semantic-ids-text with per-query encoding (mode="mean") at 50k and 500k;
  the paper's concat recipe estimated at the larger size."""
  run = _scaling(workdir, quick, "semantic-ids-text", mode="mean")
  big = run["points"][run["sizes"][1]]
  concat = estimate_concat_encoding(run["data"], sample=400 if quick else 1500)
  other = big["build_wall_s"] - big["embedding_s"]
  concat_total = concat["estimated_encode_s"] + other
  headline = dict(_headline(run), concat_estimated_build_s=round(concat_total, 1),
                  concat_unique_texts=concat["unique_texts"])
  targets = _targets(big, quick, "semantic-ids-text (mode=mean)") + [
      {"what": f"semantic-ids-text (mode=concat, paper recipe, estimated) < {BUDGET_S} s",
       "ok": quick or concat_total < BUDGET_S}]
  return {"headline": headline, "targets": targets, "growth": run["growth"],
          "concat_estimate": concat, "points": {str(k): v for k, v in run["points"].items()}}


def ids_semantic_text_concat_paper(workdir: Path, quick: bool) -> dict:
  """The paper's text recipe end to end at 500k tracks (slow on 2 cores)."""
  n = 40_000 if quick else 500_000
  data, _, _ = _dataset(workdir, n)
  big = _phases(result := _build_in_child(data, "semantic-ids-text", workdir / "ids",
                                          mode="concat"))
  emb = result["stats"]["strategy"]["embedding"]
  return {"headline": {"tracks": n, "build_s": big["build_wall_s"],
                       "embedding_s": big["embedding_s"], "texts_encoded": emb["texts_encoded"],
                       "peak_rss_gb": big["peak_rss_gb"]},
          "targets": _targets(big, quick, "semantic-ids-text (mode=concat)"),
          "stats": result["stats"]}


DEMO_RUNS = [
    ("artist-name-track-name", {}), ("track-int", {}), ("artist-int-track-seq", {}),
    ("artist-iid-track-seq", {}), ("semantic-ids-cf", {}),
    ("semantic-ids-cf", {"discretizer": "kmeans"}),
    ("semantic-ids-cf", {"discretizer": "residual-kmeans"}),
    ("semantic-ids-text", {"mode": "mean"}),
]


def ids_strategies_demo(workdir: Path, quick: bool) -> dict:
  """Tokens per ID, collisions and prefix sharing of every strategy (demo preset)."""
  from text2tracks_jax.ids import build_ids  # pylint: disable=import-outside-toplevel
  data = workdir / "data"
  prepare_lib.prepare("synthetic", data, preset="tiny" if quick else "demo")
  rows, spm_path = {}, None
  for strategy, options in DEMO_RUNS:
    name = strategy + "".join(f"[{k}={v}]" for k, v in options.items())
    start = time.perf_counter()
    m = build_ids(data, strategy, workdir / name.replace("[", "-").replace("]", "")
                  .replace("=", "-"), spm_path=spm_path, **options)
    if spm_path is None and m.manifest["stats_spm"].get("trained"):
      spm_path = str(m.path / "spiece.model")  # one vocabulary for every strategy
    s = m.stats
    rows[name] = {"tokens_mean": s["tokens_per_id"]["mean"],
                  "tokens_max": s["tokens_per_id"]["max"],
                  "tokens_train_pair_mean": s["tokens_per_id"]["train_pair_mean"],
                  "new_tokens": s["new_tokens"], "ids": s["collisions"]["ids"],
                  "ids_with_collision": s["collisions"]["ids_with_collision"],
                  "max_tracks_per_id": s["collisions"]["tracks_per_id"]["max"],
                  "prefix_ratio": s["prefix_sharing"]["ratio"],
                  "seconds": round(time.perf_counter() - start, 1)}
  tok = {k: v["tokens_mean"] for k, v in rows.items()}
  return {"headline": {k: v for k, v in tok.items()},
          "targets": [{"what": "semantic IDs take 3 tokens",
                       "ok": all(v == 3.0 for k, v in tok.items() if k.startswith("semantic"))},
                      {"what": "names take the most tokens, track-int fewer",
                       "ok": tok["artist-name-track-name"] > tok["track-int"] > 3.0}],
          "strategies": rows}


BENCHMARKS = {
    "ids_semantic_cf_paper": ids_semantic_cf_paper,
    "ids_semantic_text_paper": ids_semantic_text_paper,
    "ids_semantic_text_concat_paper": ids_semantic_text_concat_paper,
    "ids_strategies_demo": ids_strategies_demo,
}
