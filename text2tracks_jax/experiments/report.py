"""The experiment reports: Table 2, Table 3 and Figure 3 of the paper.

Each report scores its predictions with the scorer (`evaluation/scorer.py`,
which writes metrics.json, per_query.csv, table.md/csv with significance
letters into the report's directory) and adds what the paper's version
shows: decoding steps per ID for Table 2, the ratio to BM25 for Table 3, the
penalty curve (PNG) for Figure 3. Every report shows, per system, how much its
lists depend on the query (jaccard@k, distinct_tracks@k: `evaluation/diversity.py`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Mapping, Optional

import numpy as np

from text2tracks_jax.data import outputs
from text2tracks_jax.evaluation import scorer
from text2tracks_jax.experiments import prefix_info
from text2tracks_jax.ids import load_id_map
from text2tracks_jax.training.input_pipeline import TokenizedExamples


def query_dependence_note(k: int, table: str) -> str:
  """The footnote on the jaccard@k and distinct tracks@k columns."""
  return (f"jaccard@{k}: mean overlap of the top-{k} lists of seeded random pairs of queries "
          f"(1 = the same list for every query); distinct tracks@{k}: over the top-{k} lists of "
          f"all queries; one number per system, not tested (details: {table}).")


def decoding_steps(wd: Path, strategy: str, sample: int = 5000, seed: int = 0) -> Dict[str, float]:
  """Target tokens per ID under the task's vocabulary (EOS excluded): mean and max."""
  # lazy: tasks imports TensorFlow (~4 s), which the other reports do not need
  from tasks import text2tracks, vocabularies  # pylint: disable=import-outside-toplevel
  vocab = vocabularies.target_vocabulary(
      wd / "vocab" / text2tracks._slug(strategy) / "spiece.model")  # pylint: disable=protected-access
  ids = sorted(load_id_map(wd / "ids" / strategy).id_to_tracks)
  rng = np.random.default_rng(seed)
  chosen = rng.choice(len(ids), size=min(sample, len(ids)), replace=False)
  lengths = [len(vocab.encode(ids[i])) for i in chosen]
  return {"mean": float(np.mean(lengths)), "max": int(max(lengths))}


def first_token_information(wd: Path, strategy: str) -> Optional[float]:
  """Nats the query's words tell about the ID's first token (`prefix_info`),
  on the strategy's cached train examples; None if training has not cached them."""
  caches = sorted((wd / "train" / strategy / "cache").glob("*.train.*.npz"))
  if not caches:
    return None
  examples = TokenizedExamples.load(max(caches, key=lambda p: p.stat().st_mtime))  # the latest
  return prefix_info.first_token_information(examples.inputs, examples.targets)["information_nats"]


def table2(wd: Path, data_dir: Path, systems: Mapping[str, Path], records: Mapping[str, dict],
           *, split: str, k: int) -> dict:
  """Text2Tracks with every ID strategy, with decoding steps, train and decode cost."""
  out = wd / "table2"
  result = scorer.evaluate(data_dir, systems, out, k=k, split=split)
  hits, letters = f"hits@{k}", {n: s["letter"] for n, s in result["summary"]["systems"].items()}
  jac, dist = f"jaccard@{k}", f"distinct_tracks@{k}"
  better = result["better_than"][hits]
  names_hits = result["metrics"].get("artist-name-track-name", {}).get(hits)
  lines = [f"| ID strategy | decoding steps per ID (mean / max) | {hits} | vs names "
           f"| ndcg@{k} | mrr@{k} | artist entropy@{k} | query info in 1st token (nats) "
           f"| {jac} | distinct tracks@{k} | train minutes | decode queries/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for name in systems:
    m = result["metrics"][name]
    steps = decoding_steps(wd, name)
    marks = "".join(letters[b] for b in better.get(name, []))
    rel = (f"{(m[hits] / names_hits - 1) * 100:+.0f}%" if names_hits else "–")
    train_s = records.get(f"train/{name}", {}).get("seconds")
    qps = records.get(f"infer/{name}", {}).get("result", {}).get("queries_per_s")
    info = first_token_information(wd, name)
    lines.append(
        f"| ({letters[name]}) {name} | {steps['mean']:.1f} / {steps['max']} "
        f"| {m[hits]:.3f}{f'<sup>{marks}</sup>' if marks else ''} | {rel} "
        f"| {m[f'ndcg@{k}']:.3f} | {m[f'mrr@{k}']:.3f} | {m[f'artist_entropy@{k}']:.2f} "
        f"| {'–' if info is None else f'{info:.2f}'} | {m[jac]:.3f} | {m[dist]} "
        f"| {train_s / 60 if train_s else float('nan'):.1f} | {qps if qps else '–'} |")
  lines += ["", f"{hits}: number of relevant tracks in the top {k}, mean over "
            f"{result['summary']['num_queries']} {split} queries. Superscripts: significantly "
            "better than those systems (paired t-test, Bonferroni, 0.95). Decoding steps: target "
            "tokens per ID under the task's vocabulary, EOS excluded. Query info in 1st token: "
            "held-out log-loss reduction of the ID's first token given the query's words "
            "(a word mixture fitted on 80% of the train queries; `experiments/prefix_info.py`): "
            "near 0 means every query starts its IDs from the same popular prefixes. "
            f"{query_dependence_note(k, 'table2/table.md')} Decode queries/s include "
            "compilation. Full metrics: table2/table.md."]
  text = "\n".join(lines) + "\n"
  outputs.atomic_write(out / "table2.md", text)
  return {"dir": str(out), "table": text, "metrics": result["metrics"]}


def table3(wd: Path, data_dir: Path, systems: Mapping[str, Path], *, best: str, split: str,
           k: int) -> dict:
  """The best Text2Tracks (`best`, one of `systems`) against the baselines, with
  its ratio to BM25 and to co-occurrence."""
  out = wd / "table3"
  result = scorer.evaluate(data_dir, systems, out, k=k, split=split)
  text = result["table"]
  hits = f"hits@{k}"
  for baseline in ("bm25", "cooccurrence"):
    reference = result["metrics"].get(baseline, {}).get(hits)
    if reference:
      text += (f"\n{best}: {result['metrics'][best][hits] / reference:.2f}x {baseline}'s "
               f"{hits}.\n")
  outputs.atomic_write(out / "table3.md", text)
  return {"dir": str(out), "table": text, "metrics": result["metrics"]}


def figure3(wd: Path, data_dir: Path, sweep: Mapping[float, Path], strategy: str, *,
            split: str, k: int) -> dict:
  """hits@k and artist entropy against the diversity (homogeneity) penalty."""
  # lazy: matplotlib (~0.5 s) only draws the figure, and its Agg backend is chosen
  # here, not when this module is imported
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  out = wd / "figure3"
  systems = {f"penalty={p:g}": path for p, path in sorted(sweep.items())}
  result = scorer.evaluate(data_dir, systems, out, k=k, split=split)
  penalties = sorted(sweep)
  hits = [result["metrics"][f"penalty={p:g}"][f"hits@{k}"] for p in penalties]
  entropy = [result["metrics"][f"penalty={p:g}"][f"artist_entropy@{k}"] for p in penalties]
  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
  ax1.plot(penalties, hits, "o-", color="tab:blue")
  ax1.set(xlabel="diversity (homogeneity) penalty", ylabel=f"hits@{k}", title=f"{strategy}")
  ax2.plot(penalties, entropy, "s-", color="tab:orange")
  ax2.set(xlabel="diversity (homogeneity) penalty", ylabel=f"artist entropy@{k} (bits)",
          title=f"{split}, {result['summary']['num_queries']} queries")
  for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
  fig.tight_layout()
  png = out / "figure3.png"
  with outputs.atomic_path(png, suffix=".png") as tmp:
    fig.savefig(tmp, dpi=120)
  plt.close(fig)
  lines = [f"| diversity penalty | hits@{k} | artist entropy@{k} | jaccard@{k} "
           f"| distinct tracks@{k} |", "|---:|---:|---:|---:|---:|"]
  for p, h, e in zip(penalties, hits, entropy):
    m = result["metrics"][f"penalty={p:g}"]
    lines.append(f"| {p:g} | {h:.3f} | {e:.2f} | {m[f'jaccard@{k}']:.3f} "
                 f"| {m[f'distinct_tracks@{k}']} |")
  text = ("\n".join(lines) + f"\n\n{strategy}; plot: {png}. "
          f"{query_dependence_note(k, 'figure3/table.md')}\n")
  outputs.atomic_write(out / "figure3.md", text)
  return {"dir": str(out), "table": text, "png": str(png), "metrics": result["metrics"]}


def distinct(wd: Path, data_dir: Path, systems: Mapping[str, Path], strategy: str, *,
             split: str, k: int) -> dict:
  """The distinct-results option on and off: quality, diversity, list lengths."""
  out = wd / "distinct"
  result = scorer.evaluate(data_dir, systems, out, k=k, split=split)
  lines = [f"| {strategy} | hits@{k} | artist entropy@{k} | jaccard@{k} | distinct tracks@{k} "
           f"| distinct IDs per query | queries with < {k} tracks |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  for name, path in systems.items():
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    ids = np.mean([len(set(r["generated_ids"])) for r in rows])
    short = np.mean([len(r["track_ids"]) < k for r in rows])
    m = result["metrics"][name]
    lines.append(f"| {name} | {m[f'hits@{k}']:.3f} | {m[f'artist_entropy@{k}']:.2f} "
                 f"| {m[f'jaccard@{k}']:.3f} | {m[f'distinct_tracks@{k}']} "
                 f"| {ids:.1f} | {short:.1%} |")
  text = ("\n".join(lines) + "\n\nSignificance: distinct/table.md. "
          f"{query_dependence_note(k, 'distinct/table.md')}\n")
  outputs.atomic_write(out / "distinct.md", text)
  return {"dir": str(out), "table": text, "metrics": result["metrics"]}
