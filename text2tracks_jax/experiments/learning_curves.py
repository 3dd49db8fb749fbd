"""Learning curves of training workdirs, against what the train pairs allow.

  python -m text2tracks_jax.experiments.learning_curves WORKDIR [WORKDIR ...] --out DIR \
      [--labels a,b] [--popularity 0.21] [--cooccurrence 0.87]

Each WORKDIR is a `text2tracks train` workdir: `train_config.json`, TensorBoard
event files under `tensorboard/` (`clu.metric_writers`: `loss` every log step,
`validation_hits@10` / `validation_recall@10` / `validation_loss` when
validation eval ran) and the tokenized train pairs cached under `cache/`. A
checkpoint is not needed.
Epoch = step / steps_per_epoch (query groups per epoch with `group_targets`).

Writes DIR/learning_curves.png (train loss, validation hits@10 and, when
logged, recall@10 against epochs), DIR/learning_curves.md and
DIR/learning_curves.csv (every logged step). The loss panel carries two
yardsticks, in the trainer's units (summed loss / number of target tokens,
EOS included), computed from the cached train pairs:

  marginal entropy    H(ID) / L: the loss of the best model that ignores the
                      query (it predicts the IDs' train frequencies);
  memorisation floor  H(ID | query) / L: the loss of a model that memorises
                      every train query exactly (identical input token rows);
                      no model goes below it on the train pairs.

H is the entropy (nats) of the empirical distribution of distinct target rows
over the pairs, and L the mean number of target tokens per pair. Both are exact
for the default full-softmax loss (the chain rule makes a pair's summed token
loss -log p(ID | query)) and for the trie-normalised loss (`trie_loss`), whose
per-ID loss is -log p(ID | query) with p normalised over the valid IDs only:
the two share their optimum, the empirical conditional distribution. They are
not exact with label smoothing or a z-loss, and a logged loss is one batch's,
so it scatters around them. Optional `--popularity` / `--cooccurrence`
validation hits@10 values are drawn as reference lines on the hits panel.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util

from text2tracks_jax import logs
from text2tracks_jax.data import outputs
from text2tracks_jax.data.errors import InputError
from text2tracks_jax.training.input_pipeline import TokenizedExamples

LOSS, HITS, RECALL = "loss", "validation_hits@10", "validation_recall@10"
VAL_LOSS = "validation_loss"  # logged by callers that evaluate it (Trainer.eval_loss)
MAX_ROWS = 10  # Markdown rows per run when no validation eval was logged
LAST_LOGS = 5  # logged losses averaged for a run's final loss


def yardsticks(inputs: np.ndarray, targets: np.ndarray) -> dict:
  """The two loss yardsticks of train pairs inputs [N, S] / targets [N, T].

  Token ids, 0 = padding; a target row is one ID's tokens with EOS. Returns
  {"pairs", "distinct_queries", "distinct_ids", "tokens_per_id",
  "id_entropy_nats" (H(ID)), "id_given_query_nats" (H(ID | query)),
  "marginal_per_token" (H(ID) / L), "floor_per_token" (H(ID | query) / L)},
  with L = tokens_per_id, the mean number of nonzero target tokens per pair.
  """
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  if inputs.ndim != 2 or targets.ndim != 2 or len(inputs) != len(targets) or not len(inputs):
    raise ValueError(f"inputs {inputs.shape} / targets {targets.shape}: expected [N, S] and [N, T]")
  n = len(targets)
  _, ids = np.unique(targets, axis=0, return_inverse=True)
  _, query = np.unique(inputs, axis=0, return_inverse=True)
  ids, query = ids.reshape(-1).astype(np.int64), query.reshape(-1).astype(np.int64)
  id_counts = np.bincount(ids).astype(np.float64)
  h_id = float(-(id_counts / n * np.log(id_counts / n)).sum())
  # H(ID | Q) = -sum_{q, i} p(q, i) log p(i | q), with p(i | q) = n(q, i) / n(q).
  pair, joint = np.unique(query * (ids.max() + 1) + ids, return_counts=True)
  query_counts = np.bincount(query)
  joint = joint.astype(np.float64)
  h_given = float(-(joint / n * np.log(joint / query_counts[pair // (ids.max() + 1)])).sum())
  tokens = float((targets != 0).sum(axis=1).mean())
  return {"pairs": n, "distinct_queries": int(query.max()) + 1, "distinct_ids": len(id_counts),
          "tokens_per_id": tokens, "id_entropy_nats": h_id,
          "id_given_query_nats": max(h_given, 0.0),  # -0.0 when every query has one ID
          "marginal_per_token": h_id / tokens, "floor_per_token": max(h_given, 0.0) / tokens}


def read_scalars(tensorboard_dir: Path) -> dict:
  """tag -> (steps [K] int64, values [K] float64) of the event files in a directory.

  Reads tensor summaries (`clu.metric_writers`, TF2 `tf.summary`) and legacy
  simple values; a step logged twice (a resumed run) keeps its last value.
  """
  acc = ea.EventAccumulator(str(tensorboard_dir),
                            size_guidance={ea.TENSORS: 0, ea.SCALARS: 0})
  acc.Reload()
  tags = acc.Tags()
  series = {}
  for tag in tags.get(ea.TENSORS, []):
    for e in acc.Tensors(tag):
      value = tensor_util.make_ndarray(e.tensor_proto)
      if value.size == 1 and np.issubdtype(value.dtype, np.number):
        series.setdefault(tag, {})[int(e.step)] = float(value.reshape(()))
  for tag in tags.get(ea.SCALARS, []):
    for e in acc.Scalars(tag):
      series.setdefault(tag, {})[int(e.step)] = float(e.value)
  return {tag: (np.array(sorted(by_step), np.int64),
                np.array([by_step[s] for s in sorted(by_step)], np.float64))
          for tag, by_step in series.items()}


def _latest_cache(workdir: Path, task: Optional[str]) -> Path:
  cache = workdir / "cache"
  found = sorted(cache.glob(f"{task}.train.*.npz")) if task else []
  found = found or sorted(cache.glob("*.train.*.npz")) or sorted(cache.glob("*.npz"))
  if not found:
    raise InputError(str(cache), None, None,
                     "no cached train examples (*.npz): has training started?")
  return max(found, key=lambda p: p.stat().st_mtime)


def collect(workdir: Path, label: Optional[str] = None) -> dict:
  """One workdir's curves and yardsticks.

  Returns {"label", "workdir", "config" (train_config.json), "cache",
  "steps_per_epoch", "scalars" (`read_scalars`), "yardsticks" (`yardsticks`)}.
  Raises InputError naming the missing or bad file.
  """
  workdir = Path(workdir)
  if not workdir.is_dir():
    raise InputError(str(workdir), None, None, "no such training workdir")
  config_path = workdir / "train_config.json"
  if not config_path.is_file():
    raise InputError(str(config_path), None, None, "missing: not a training workdir")
  try:
    config = json.loads(config_path.read_text())
    steps_per_epoch = int(config["steps_per_epoch"])
  except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
    raise InputError(str(config_path), None, "steps_per_epoch",
                     f"unreadable ({type(e).__name__}: {e})") from None
  if steps_per_epoch < 1:
    raise InputError(str(config_path), None, "steps_per_epoch",
                     f"must be >= 1, got {steps_per_epoch}")
  tb = workdir / "tensorboard"
  if not any(tb.glob("*tfevents*")):
    raise InputError(str(tb), None, None, "no TensorBoard event files")
  scalars = read_scalars(tb)
  if LOSS not in scalars:
    raise InputError(str(tb), None, None, f"no '{LOSS}' scalar in the event files")
  cache = _latest_cache(workdir, config.get("task"))
  try:
    examples = TokenizedExamples.load(cache)
    sticks = yardsticks(examples.inputs, examples.targets)
  except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
    raise InputError(str(cache), None, None,
                     f"unreadable train examples ({type(e).__name__}: {e})") from None
  return {"label": label or workdir.name, "workdir": str(workdir), "config": config,
          "cache": str(cache), "steps_per_epoch": steps_per_epoch, "scalars": scalars,
          "yardsticks": sticks}


def _fmt(x: Optional[float], digits: int = 3) -> str:
  return "–" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _inexact(config: dict) -> list:
  """["label smoothing 0.1", ...]: settings of the run's gin config under which
  the yardsticks are not the exact optimum of its loss."""
  found = re.findall(r"train\.(label_smoothing|z_loss)\s*=\s*(\S+)",
                     config.get("gin_config") or "")

  def nonzero(value: str) -> bool:
    try:
      return float(value) != 0.0
    except ValueError:  # a gin macro or reference: cannot tell, so say so
      return True
  return [f"{name.replace('_', ' ')} {value}" for name, value in found if nonzero(value)]


def _loss_kind(config: dict) -> str:
  kind = "trie-normalised" if config.get("trie_loss") else "full softmax"
  if config.get("group_targets"):
    kind += f", {config['group_targets']} targets per query"
  inexact = _inexact(config)
  return kind + (f" ({', '.join(inexact)}: yardsticks not exact)" if inexact else "")


def curve_rows(run: dict) -> list:
  """The Markdown rows of one run: [{"step", "epoch", "loss", VAL_LOSS, HITS, RECALL}].

  One row per validation eval (or, without any, at most MAX_ROWS of the logged
  steps, the last included); "loss" is the mean of the logged losses since the
  previous row (None where no loss was logged in between).
  """
  scalars, spe = run["scalars"], run["steps_per_epoch"]
  loss_steps, losses = scalars[LOSS]
  evals = [t for t in (HITS, VAL_LOSS) if t in scalars]
  if evals:
    steps = scalars[evals[0]][0]
  else:
    pick = np.unique(np.linspace(0, len(loss_steps) - 1, min(MAX_ROWS, len(loss_steps)))
                     .round().astype(int))
    steps = loss_steps[pick]
  rows, prev = [], -1
  for step in steps:
    window = (loss_steps > prev) & (loss_steps <= step)
    row = {"step": int(step), "epoch": step / spe,
           "loss": float(losses[window].mean()) if window.any() else None}
    for tag in (VAL_LOSS, HITS, RECALL):
      if tag in scalars:
        at = np.flatnonzero(scalars[tag][0] == step)
        row[tag] = float(scalars[tag][1][at[-1]]) if len(at) else None
    rows.append(row)
    prev = step
  return rows


def csv_text(runs: list) -> str:
  """Every logged step of every run, one row each, with the run's yardsticks."""
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\n")
  w.writerow(["run", "step", "epoch", LOSS, "learning_rate", VAL_LOSS, HITS, RECALL,
              "marginal_entropy_per_token", "memorisation_floor_per_token"])
  for r in runs:
    scalars, y = r["scalars"], r["yardsticks"]
    tags = [LOSS, "learning_rate", VAL_LOSS, HITS, RECALL]
    lookup = {t: dict(zip(scalars[t][0].tolist(), scalars[t][1].tolist()))
              for t in tags if t in scalars}
    steps = sorted(set().union(*(v.keys() for v in lookup.values())))
    for s in steps:
      w.writerow([r["label"], s, f"{s / r['steps_per_epoch']:.4f}"]
                 + [repr(lookup[t][s]) if t in lookup and s in lookup[t] else "" for t in tags]
                 + [f"{y['marginal_per_token']:.6f}", f"{y['floor_per_token']:.6f}"])
  return buf.getvalue()


def markdown_text(runs: list, popularity: Optional[float] = None,
                  cooccurrence: Optional[float] = None) -> str:
  """The yardstick table and each run's curve table."""
  lines = ["# Learning curves", "",
           "| run | loss | pairs | distinct queries | distinct IDs | tokens per ID "
           "| marginal entropy / token | memorisation floor / token | last loss | above floor |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
  for r in runs:
    y, losses = r["yardsticks"], r["scalars"][LOSS][1]
    last = float(losses[-LAST_LOGS:].mean())
    lines.append(f"| {r['label']} | {_loss_kind(r['config'])} | {y['pairs']:,} "
                 f"| {y['distinct_queries']:,} | {y['distinct_ids']:,} | {y['tokens_per_id']:.2f} "
                 f"| {y['marginal_per_token']:.3f} | {y['floor_per_token']:.3f} | {last:.3f} "
                 f"| {last - y['floor_per_token']:+.3f} |")
  lines += ["", "Nats per target token (EOS included), the trainer's loss units. Marginal "
            "entropy: H(ID) / tokens per ID, the loss of a model that ignores the query. "
            "Memorisation floor: H(ID | exact query) / tokens per ID, which no model goes below "
            "on the train pairs. Both exact for the full-softmax and the trie-normalised loss. "
            f"Last loss: mean of the last {LAST_LOGS} logged (one-batch) losses."]
  for r in runs:
    rows = curve_rows(r)
    cols = [t for t in (VAL_LOSS, HITS, RECALL) if t in r["scalars"]]
    lines += ["", f"## {r['label']}", "",
              f"`{r['workdir']}`: {r['config'].get('task', '?')}, {_loss_kind(r['config'])}, "
              f"{r['steps_per_epoch']:,} steps per epoch of {r['config'].get('batch_size', '?')}, "
              f"{int(r['scalars'][LOSS][0][-1]):,} of {r['config'].get('total_steps', '?')} "
              "steps logged.", "",
              "| " + " | ".join(["step", "epoch", "train loss"]
                                + [c.replace("_", " ") for c in cols]) + " |",
              "|---:|---:|---:|" + "---:|" * len(cols)]
    for row in rows:
      cells = [f"{row['step']:,}", f"{row['epoch']:.2f}", _fmt(row["loss"])]
      cells += [_fmt(row[c]) for c in cols]
      lines.append("| " + " | ".join(cells) + " |")
  refs = [f"{name} {v:.3f}" for name, v in (("popularity", popularity),
                                            ("cooccurrence", cooccurrence)) if v is not None]
  lines += ["", "Train loss: mean of the losses logged since the previous row. "
            "Validation metrics: the trainer's eval on the first validation queries."
            + (" Reference validation hits@10: " + ", ".join(refs) + "." if refs else "")]
  return "\n".join(lines) + "\n"


def _plot(runs: list, path: Path, popularity: Optional[float], cooccurrence: Optional[float]):
  # lazy: matplotlib (~0.5 s) only draws the figure, and its Agg backend is chosen
  # here, not when this module is imported
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  tags = [t for t in (HITS, RECALL) if any(t in r["scalars"] for r in runs)]
  if popularity is not None or cooccurrence is not None:
    tags = list(dict.fromkeys([HITS] + tags))  # the reference lines need the hits panel
  fig, axes = plt.subplots(1, 1 + len(tags), figsize=(4.5 * (1 + len(tags)), 3.8),
                           squeeze=False)
  axes = axes[0]
  colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
  color = {r["label"]: colors[i % len(colors)] for i, r in enumerate(runs)}
  ax = axes[0]
  for r in runs:
    steps, losses = r["scalars"][LOSS]
    ax.plot(steps / r["steps_per_epoch"], losses, "-", lw=1.2, color=color[r["label"]],
            label=r["label"])
    if VAL_LOSS in r["scalars"]:
      steps, losses = r["scalars"][VAL_LOSS]
      ax.plot(steps / r["steps_per_epoch"], losses, "s--", ms=3, lw=1, color=color[r["label"]],
              label=f"{r['label']} (validation)")
  # Runs on the same train pairs share their yardsticks: one pair of lines each.
  groups = {}
  for r in runs:
    y = r["yardsticks"]
    key = (round(y["marginal_per_token"], 6), round(y["floor_per_token"], 6))
    groups.setdefault(key, []).append(r["label"])
  for (marginal, floor), labels in groups.items():
    c = "k" if len(groups) == 1 else color[labels[0]]
    who = "" if len(groups) == 1 else f" ({', '.join(labels)})"
    ax.axhline(marginal, color=c, ls="--", lw=1, label=f"marginal entropy {marginal:.2f}{who}")
    ax.axhline(floor, color=c, ls=":", lw=1.2, label=f"memorisation floor {floor:.2f}{who}")
  ax.set(xlabel="epoch", ylabel="loss (nats / target token)", title="train (and validation) loss")
  for ax, tag in zip(axes[1:], tags):
    for r in runs:
      if tag in r["scalars"]:
        steps, values = r["scalars"][tag]
        ax.plot(steps / r["steps_per_epoch"], values, "o-", ms=3, color=color[r["label"]],
                label=r["label"])
    if tag == HITS:
      for name, v, ls in (("popularity", popularity, "--"), ("cooccurrence", cooccurrence, "-.")):
        if v is not None:
          ax.axhline(v, color="gray", ls=ls, lw=1, label=f"{name} {v:.3f}")
    ax.set(xlabel="epoch", ylabel=tag.replace("_", " "), title=tag.replace("_", " "))
  for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.tight_layout()
  with outputs.atomic_path(path, suffix=".png") as tmp:
    fig.savefig(tmp, dpi=120)
  plt.close(fig)


def write_report(runs: list, out: Path, *, popularity: Optional[float] = None,
                 cooccurrence: Optional[float] = None) -> str:
  """Writes out/learning_curves.{md,csv,png} (each atomically); returns the Markdown."""
  text = markdown_text(runs, popularity, cooccurrence)
  out = Path(out)
  out.mkdir(parents=True, exist_ok=True)
  outputs.atomic_write(out / "learning_curves.md", text)
  outputs.atomic_write(out / "learning_curves.csv", csv_text(runs))
  _plot(runs, out / "learning_curves.png", popularity, cooccurrence)
  return text


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("workdirs", nargs="+", type=Path, help="training workdirs")
  parser.add_argument("--out", type=Path, required=True)
  parser.add_argument("--labels", help="comma-separated run names (default: the workdir names)")
  parser.add_argument("--popularity", type=float, help="popularity's validation hits@10")
  parser.add_argument("--cooccurrence", type=float, help="cooccurrence's validation hits@10")
  args = parser.parse_args(argv)
  logs.configure()
  labels = [None] * len(args.workdirs)
  if args.labels is not None:
    labels = [s.strip() for s in args.labels.split(",")]
    if len(labels) != len(args.workdirs) or not all(labels) or len(set(labels)) < len(labels):
      print(f"error: --labels {args.labels!r}: {len(args.workdirs)} distinct non-empty names "
            "expected, one per workdir", file=sys.stderr)
      return 2
  if args.out.exists() and not args.out.is_dir():
    print(f"error: {args.out}: --out is not a directory", file=sys.stderr)
    return 2
  try:
    runs = [collect(w, label) for w, label in zip(args.workdirs, labels)]
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  names = [r["label"] for r in runs]
  if len(set(names)) < len(names):  # same-named workdirs in different places
    for r in runs:
      r["label"] = r["workdir"]
  print(write_report(runs, args.out, popularity=args.popularity, cooccurrence=args.cooccurrence))
  print(f"plot: {args.out / 'learning_curves.png'}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
