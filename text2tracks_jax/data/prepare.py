"""`text2tracks prepare`: one raw source in, one prepared dataset out.

Each source module exposes `load(writer, policy, **options) -> [input paths]`
and fills a `DatasetWriter` (and `RECORD_UNIT` when one bad record can hold
many source records, so that those lost are counted); this module picks the source, commits the dataset
atomically and formats the stats summary.
"""

from __future__ import annotations

import importlib

from text2tracks_jax.data.dataset import DatasetWriter
from text2tracks_jax.data.errors import ErrorPolicy

SOURCES = {
    "synthetic": "text2tracks_jax.data.synthetic",
    "mpd": "text2tracks_jax.data.mpd",
    "cpcd": "text2tracks_jax.data.cpcd",
    "jsonl": "text2tracks_jax.data.jsonl",
}


def prepare(source: str, out_dir, *, on_error: str = "raise", seed: int = 0,
            overwrite: bool = True, **options) -> dict:
  """Builds a prepared dataset in `out_dir` from `source`; returns the manifest.

  `options` go to the source's `load` (e.g. `preset` for synthetic,
  `input_path` for the file sources). On any error nothing is written. An
  existing `out_dir` must be a prepared dataset, replaced only with
  `overwrite` (the CLI's `--overwrite`; see `outputs.check_output_dir`).
  """
  if source not in SOURCES:
    raise ValueError(f"unknown source {source!r}; expected one of {sorted(SOURCES)}")
  module = importlib.import_module(SOURCES[source])
  policy = ErrorPolicy(on_error, unit=getattr(module, "RECORD_UNIT", None))
  config = {k: (str(v) if hasattr(v, "__fspath__") else v) for k, v in options.items()}
  with DatasetWriter(out_dir, source=source, config=config, seed=seed,
                     overwrite=overwrite) as writer:
    inputs = module.load(writer, policy, seed=seed, **options)
    return writer.commit(inputs=inputs, skipped=policy.summary())


def format_stats(manifest: dict) -> str:
  """Human-readable summary of a prepared dataset's manifest."""
  c, s = manifest["counts"], manifest["stats"]
  lines = [f"prepared dataset: source={manifest['source']} seed={manifest['seed']}",
           f"{'split':<11}{'queries':>10}{'unique':>10}{'pairs':>11}{'tracks/query':>14}"]
  for split in ("train", "validation", "test"):
    tpq = s["tracks_per_query"][split]
    lines.append(f"{split:<11}{c[split]['queries']:>10,}{c[split]['unique_queries']:>10,}"
                 f"{c[split]['pairs']:>11,}{tpq['mean']:>9.2f} (max {tpq['max']})")
  pop = s["popularity"]
  lines += [f"tracks {c['tracks']:,} ({c['train_tracks']:,} in train), artists {c['artists']:,}",
            f"popularity: top 1% of tracks hold {pop['top1pct_share']:.1%} of train pairs, "
            f"top 10% hold {pop['top10pct_share']:.1%}, Gini {pop['gini']:.3f}"]
  cooc = s.get("cooccurrence", {})
  if cooc.get("playlists_read"):
    lines.append(f"co-occurrence only (for CF): {cooc['playlists']:,} playlists, "
                 f"{cooc['entries']:,} entries ({cooc['tracks_not_in_catalog']:,} tracks not "
                 f"in the catalog and {cooc['playlists_under_2_tracks']:,} playlists left "
                 "with < 2 tracks dropped)")
  filtered = {k: v for k, v in manifest["config"].get("filtered", {}).items() if v}
  if filtered:
    lines.append("filtered by design: " + ", ".join(f"{k}={v:,}" for k, v in sorted(filtered.items())))
  errors = manifest.get("errors", {})
  skipped = errors.get("skipped", {})
  if skipped:
    lines.append(f"skipped records ({sum(skipped.values()):,}): "
                 + ", ".join(f"{k}={v:,}" for k, v in sorted(skipped.items())))
    lost = {k[:-len("_lost")]: v for k, v in errors.items() if k.endswith("_lost")}
    for unit, n in lost.items():
      unknown = errors.get(f"{unit}_lost_unknown", 0)
      lines.append(f"{unit} lost: {n:,}" + (f" (and those of {unknown:,} bad file(s) whose "
                                            "size is unknown)" if unknown else ""))
    for kind, example in sorted(errors.get("first_skipped", {}).items()):
      lines.append(f"  first {kind}: {example}")
  else:
    lines.append("skipped records: 0")
  return "\n".join(lines)
