"""Data-layer benchmarks: the paper-scale synthetic world, the MPD loader, CLI start-up."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from text2tracks_jax.data import prepare as prepare_lib


def _peak_rss_gb() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def prepare_paper_preset(workdir: Path, quick: bool) -> dict:
  """`prepare --source synthetic --preset paper` (quick: the demo preset)."""
  preset = "demo" if quick else "paper"
  start = time.perf_counter()
  manifest = prepare_lib.prepare("synthetic", workdir / "data", preset=preset)
  seconds = time.perf_counter() - start
  c = manifest["counts"]
  rss = _peak_rss_gb()
  return {"headline": {"preset": preset, "seconds": round(seconds, 1), "tracks": c["tracks"],
                       "train_pairs": c["train"]["pairs"], "peak_rss_gb": round(rss, 2)},
          "targets": [{"what": "paper preset < 300 s", "ok": seconds < 300 or quick},
                      {"what": "peak RSS < 6 GB", "ok": rss < 6}],
          "stats": manifest["stats"]}


def mpd_loader(workdir: Path, quick: bool) -> dict:
  """MPD loader throughput on synthetic MPD-format slices, against plain json.load."""
  # The MPD-format writer is test code (tests/mpd_fixtures.py), not part of the package.
  sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
  import mpd_fixtures  # pylint: disable=import-outside-toplevel
  n = 10_000 if quick else 100_000
  raw = workdir / "mpd"
  mpd_fixtures.write_mpd_slices(raw, n_playlists=n, seed=0)
  start = time.perf_counter()
  for path in sorted(raw.glob("*.json")):  # baseline: just parsing the same files
    with open(path, "rb") as f:
      json.load(f)
  parse_s = time.perf_counter() - start
  start = time.perf_counter()
  manifest = prepare_lib.prepare("mpd", workdir / "data", input_path=raw, on_error="skip")
  load_s = time.perf_counter() - start
  rate = n / load_s
  return {"headline": {"playlists": n, "playlists_per_s": round(rate),
                       "json_parse_playlists_per_s": round(n / parse_s),
                       "ratio_vs_json_parse": round(parse_s / load_s, 3),
                       "peak_rss_gb": round(_peak_rss_gb(), 2)},
          "targets": [{"what": "loader within 5x of bare json parsing",
                       "ok": load_s < 5 * parse_s}],
          "counts": manifest["counts"], "errors": manifest["errors"],
          "filtered": manifest["config"].get("filtered")}


def cli_help(workdir: Path, quick: bool) -> dict:
  """`text2tracks --help` wall time, against a bare `python -c pass` start."""
  del workdir, quick

  def best_of(cmd, n=5):
    times = []
    for _ in range(n):
      start = time.perf_counter()
      subprocess.run(cmd, check=True, capture_output=True)
      times.append(time.perf_counter() - start)
    return min(times)

  bare = best_of([sys.executable, "-c", "pass"])
  help_s = best_of([sys.executable, "-m", "text2tracks_jax.cli", "--help"])
  return {"headline": {"help_s": round(help_s, 3), "python_start_s": round(bare, 3),
                       "ratio": round(help_s / bare, 2)},
          "targets": [{"what": "--help < 2 s", "ok": help_s < 2}]}


BENCHMARKS = {"prepare_paper_preset": prepare_paper_preset, "mpd_loader": mpd_loader,
              "cli_help": cli_help}
