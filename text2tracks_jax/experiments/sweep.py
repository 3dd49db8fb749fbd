"""Catalog-size sweep: Table 2/3 results of several experiment runs side by side.

  python -m text2tracks_jax.experiments.sweep RUN_A RUN_B ... --out DIR

Each RUN is a finished `text2tracks experiment` workdir (table2 and/or table3
reports) on a world of a different catalog size (`make scale-sweep` makes
them). Writes DIR/sweep.md (hits@10 per system and catalog size, with the
first-token query information of each ID strategy) and DIR/sweep.png.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from text2tracks_jax import logs
from text2tracks_jax.data import outputs
from text2tracks_jax.data.errors import InputError
from text2tracks_jax.experiments import report

HITS = "hits@10"


def collect(run_dir: Path) -> dict:
  """{"tracks", "pairs", "systems": name -> hits@10, "info": strategy -> nats}."""
  manifest = run_dir / "data" / "manifest.json"
  if not manifest.exists():
    raise InputError(str(manifest), None, None, "not an experiment workdir (no prepared data)")
  counts = json.loads(manifest.read_text())["counts"]
  systems, info = {}, {}
  for table in ("table2", "table3"):
    path = run_dir / table / "metrics.json"
    if path.exists():
      for name, metrics in json.loads(path.read_text()).items():
        if name.startswith("text2tracks ("):
          continue  # Table 3's copy of a Table 2 row
        systems.setdefault(name, metrics[HITS])
        if table == "table2":
          info[name] = report.first_token_information(run_dir, name)
  if not systems:
    raise InputError(str(run_dir), None, None, "has no table2/table3 metrics: run it first")
  return {"run": str(run_dir), "tracks": counts["tracks"], "pairs": counts["train"]["pairs"],
          "systems": systems, "info": info}


def write_report(runs: list, out: Path) -> str:
  # lazy: matplotlib (~0.5 s) only draws the figure, and its Agg backend is chosen
  # here, not when this module is imported
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  runs = sorted(runs, key=lambda r: r["tracks"])
  names = list(dict.fromkeys(n for r in runs for n in r["systems"]))
  head = " | ".join(f"{r['tracks'] // 1000}k tracks ({r['pairs'] // 1000}k pairs)" for r in runs)
  lines = [f"| system | {head} |", "|---|" + "---:|" * len(runs)]
  for n in names:
    cells = []
    for r in runs:
      hits, nats = r["systems"].get(n), r["info"].get(n)
      cell = "–" if hits is None else f"{hits:.3f}"
      cells.append(cell + (f" ({nats:.2f} nats)" if nats is not None else ""))
    lines.append(f"| {n} | " + " | ".join(cells) + " |")
  lines += ["", f"{HITS} on each world's test split; in brackets, the query information in "
            "the ID's first token (`experiments/prefix_info.py`). Runs: "
            + ", ".join(r["run"] for r in runs) + "."]
  text = "\n".join(lines) + "\n"
  out.mkdir(parents=True, exist_ok=True)
  outputs.atomic_write(out / "sweep.md", text)
  fig, ax = plt.subplots(figsize=(6.5, 4))
  sizes = [r["tracks"] for r in runs]
  for n in names:
    ax.plot(sizes, [r["systems"].get(n, float("nan")) for r in runs], "o-", label=n)
  ax.set(xlabel="catalog size (tracks)", ylabel=HITS, title="hits@10 against catalog size")
  ax.set_yscale("symlog", linthresh=0.01)  # log above 0.01, linear through 0
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  fig.tight_layout()
  with outputs.atomic_path(out / "sweep.png", suffix=".png") as tmp:
    fig.savefig(tmp, dpi=120)
  plt.close(fig)
  return text


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("runs", nargs="+", type=Path, help="finished experiment workdirs")
  parser.add_argument("--out", type=Path, required=True)
  args = parser.parse_args(argv)
  logs.configure()
  try:
    runs = [collect(r) for r in args.runs]
  except InputError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  print(write_report(runs, args.out))
  print(f"plot: {args.out / 'sweep.png'}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
