"""`text2tracks build-ids`: prepared dataset + strategy phi -> ID map artifact.

    build_ids(data_dir, "semantic-ids-cf", out_dir, dictionary_size=512)

reads the catalog and the train split only (inputs.py), runs the strategy,
groups collisions by train popularity, computes statistics and writes the
artifact atomically (id_map.py). Options go to whichever function of the
strategy takes them (e.g. `vector_size` -> cf_embeddings, `dictionary_size`
-> sparse_coding); the same parameters can be set with gin
(`cf_embeddings.vector_size = 128`), explicit options win.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import inspect
import json
import tempfile
import time
from pathlib import Path

import gin
import numpy as np

from text2tracks_jax.data import outputs
from text2tracks_jax.ids import content, discretizers, integer, learned
from text2tracks_jax.ids import id_map as id_map_lib
from text2tracks_jax.ids import stats as stats_lib
from text2tracks_jax.ids.inputs import IdInputs, load_inputs
from text2tracks_jax.ids.tokenizer import has_text_pieces, train_sentencepiece


# CLI name -> (strategy function, fixed keyword arguments): the paper's six, in
# its order (Table 2), then ours.
STRATEGIES = {
    "artist-name-track-name": (content.artist_name_track_name, {}),
    "track-int": (integer.track_int, {}),
    "artist-int-track-seq": (integer.artist_int_track_seq, {}),
    "artist-iid-track-seq": (integer.artist_iid_track_seq, {}),
    "semantic-ids-text": (learned.semantic_ids, {"embedding": "text"}),
    "semantic-ids-cf": (learned.semantic_ids, {"embedding": "cf"}),
    # Not in the paper: cf and text embeddings together (issue #13's ID design lever).
    "semantic-ids-hybrid": (learned.semantic_ids, {"embedding": "hybrid"}),
}
PAPER_STRATEGIES = tuple(s for s in STRATEGIES if s != "semantic-ids-hybrid")
SPM_FILE = "spiece.model"
_RESERVED = {"inputs", "seed", "trusted", "x"}


def _params(fn) -> set:
  return set(inspect.signature(fn).parameters) - _RESERVED


def _gin_value(fn, name, default):
  return gin.get_bindings(fn).get(name, default)


def route_options(strategy: str, options: dict) -> dict:
  """Keyword arguments for the strategy function; raises on unknown options."""
  fn, fixed = STRATEGIES[strategy]
  if fn is not learned.semantic_ids:
    unknown = sorted(set(options) - _params(fn))
    if unknown:
      raise TypeError(f"strategy {strategy!r} takes no option(s) {unknown}; "
                      f"known: {sorted(_params(fn))}")
    return dict(options)
  own = _params(fn) - {"embedding", "embedding_options", "discretizer_options"}
  embed_fn = learned.EMBEDDINGS[fixed["embedding"]]
  name = _discretizer(options)
  disc_fn = discretizers.DISCRETIZERS[name]
  kwargs, embed_opts, disc_opts = {}, {}, {}
  for key, value in options.items():
    if key in own:
      kwargs[key] = value
    elif key in _params(embed_fn):
      embed_opts[key] = value
    elif key in _params(disc_fn):
      disc_opts[key] = value
    else:
      raise TypeError(f"strategy {strategy!r} (discretizer {name!r}) takes no option {key!r}; "
                      f"known: {sorted(own | _params(embed_fn) | _params(disc_fn))}")
  return dict(kwargs, **fixed, embedding_options=embed_opts, discretizer_options=disc_opts)


def _discretizer(options: dict) -> str:
  """The discretizer semantic IDs use: the option, else the gin binding."""
  name = options.get("discretizer", _gin_value(learned.semantic_ids, "discretizer",
                                               "sparse-coding"))
  if name not in discretizers.DISCRETIZERS:
    raise ValueError(f"unknown discretizer {name!r}; expected one of "
                     f"{sorted(discretizers.DISCRETIZERS)}")
  return name


def configurables(strategy: str, options: dict | None = None) -> tuple:
  """The gin-configurable functions `build_ids(..., strategy, **options)` calls:
  the ones whose bindings can change the map (an experiment stage's settings)."""
  fn, fixed = STRATEGIES[strategy]
  if fn is not learned.semantic_ids:
    return (build_ids, fn)
  return (build_ids, fn, *learned.EMBEDDING_CALLS[fixed["embedding"]],
          discretizers.DISCRETIZERS[_discretizer(options or {})])


def _versions() -> dict:
  out = {}
  for dist in ("numpy", "pyarrow", "scikit-learn", "gensim", "sentencepiece",
               "sentence-transformers", "torch", "gin-config"):
    try:
      out[dist] = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
      pass
  return out


def spm_training_texts(inputs: IdInputs) -> list:
  """Train queries + artist names + track titles (the fallback vocabulary)."""
  return list(inputs.queries) + inputs.artist_names.tolist() + inputs.titles.tolist()


def _spm_key(inputs: IdInputs, vocab_size: int, seed: int) -> str:
  blob = json.dumps({"dataset": inputs.fingerprint, "vocab_size": vocab_size, "seed": seed},
                    sort_keys=True)
  return hashlib.sha256(blob.encode()).hexdigest()[:16]


def resolve_spm(inputs: IdInputs, out_dir: Path, tmp_dir: Path, *, spm_path, vocab_size: int,
                seed: int) -> tuple:
  """(model path, manifest entry, file to copy into the artifact or None).

  A given `spm_path` is used as is. Otherwise a model trained on this
  dataset's train texts is reused from an earlier build in `out_dir` when the
  dataset and settings match, else trained (and saved with the map).
  """
  if spm_path:
    if not Path(spm_path).exists():
      raise FileNotFoundError(f"spm_path {spm_path}: no such file")
    return Path(spm_path), {"path": str(spm_path), "trained": False}, None
  key = _spm_key(inputs, vocab_size, seed)
  entry = {"trained": True, "vocab_size": vocab_size, "key": key, "file": SPM_FILE}
  cached = out_dir / SPM_FILE
  if cached.exists():
    try:
      old = id_map_lib.read_manifest(out_dir).get("stats_spm", {})
    except (id_map_lib.IdMapError, ValueError):
      old = {}
    if old.get("key") == key:
      path = tmp_dir / SPM_FILE
      path.write_bytes(cached.read_bytes())
      return path, dict(entry, reused=True), path
  start = time.perf_counter()
  path = train_sentencepiece(spm_training_texts(inputs), tmp_dir / SPM_FILE,
                             vocab_size=vocab_size, seed=seed)
  return path, dict(entry, seconds=round(time.perf_counter() - start, 2)), path


def _roundtrip(obj):
  return json.loads(json.dumps(obj, default=id_map_lib._json_default))  # pylint: disable=protected-access


@gin.configurable
def build_ids(data_dir, strategy: str | None = None, out_dir=None, *, seed: int = 0,
              spm_path: str | None = None, spm_vocab_size: int = 8000,
              stats_pairs: int = 100_000, overwrite: bool = True,
              **options) -> id_map_lib.IdMap:
  """Builds and writes the ID map of `strategy` for a prepared dataset.

  Args:
    data_dir: prepared dataset directory (`text2tracks prepare`).
    strategy: one of STRATEGIES.
    out_dir: where the ID map goes. An existing one is replaced atomically,
      only with `overwrite`; any other existing content is refused
      (`outputs.check_output_dir`, before the strategy runs).
    seed: seeds every random choice (integers, word2vec, dictionary, k-means).
    spm_path: SentencePiece model for the tokens-per-ID statistics (e.g.
      Flan-T5's spiece.model); default: one trained on this dataset.
    spm_vocab_size: vocabulary size of that trained model (a soft limit).
    stats_pairs: sampled pairs for the prefix-sharing statistic.
    **options: strategy options (see `route_options`).

  Returns:
    The IdMap, identical to `load_id_map(out_dir)`.
  """
  if strategy not in STRATEGIES:
    raise ValueError(f"unknown ID strategy {strategy!r}; expected one of {sorted(STRATEGIES)}")
  if out_dir is None:
    raise ValueError("build_ids needs out_dir")
  started = time.perf_counter()
  out_dir = outputs.check_output_dir(out_dir, "ID map", overwrite)
  kwargs = route_options(strategy, options)
  fn, _ = STRATEGIES[strategy]
  t0 = time.perf_counter()
  inputs = load_inputs(data_dir)
  load_seconds = time.perf_counter() - t0
  t0 = time.perf_counter()
  assignment = fn(inputs, seed=seed, **kwargs)
  strategy_seconds = time.perf_counter() - t0
  ids = np.asarray(assignment.ids, dtype=object)
  if len(ids) != inputs.num_tracks:
    raise AssertionError(f"{strategy} returned {len(ids)} IDs for {inputs.num_tracks} tracks")
  collisions = id_map_lib.group_collisions(ids, inputs.popularity, inputs.track_ids)
  with tempfile.TemporaryDirectory(prefix="t2t-ids-") as tmp:
    t0 = time.perf_counter()
    if has_text_pieces(ids, assignment.new_tokens):
      spm_file, spm_entry, spm_copy = resolve_spm(
          inputs, out_dir, Path(tmp), spm_path=spm_path, vocab_size=spm_vocab_size, seed=seed)
    else:  # every ID is whole new tokens: nothing for SentencePiece to split
      spm_file, spm_entry, spm_copy = None, {"needed": False}, None
    stats = stats_lib.id_stats(inputs, ids, assignment.new_tokens, collisions, spm_file,
                               pairs=stats_pairs, seed=seed)
    stats_seconds = time.perf_counter() - t0
    stats["strategy"] = assignment.info
    stats["seconds"] = {"load": round(load_seconds, 2), "strategy": round(strategy_seconds, 2),
                        "stats": round(stats_seconds, 2),
                        "total": round(time.perf_counter() - started, 2)}
    stats = _roundtrip(stats)
    dataset_manifest = json.loads((Path(data_dir) / "manifest.json").read_text())
    manifest = _roundtrip({
        "strategy": strategy, "seed": seed,
        "config": {"options": options, "strategy": assignment.config,
                   "spm_vocab_size": spm_vocab_size, "stats_pairs": stats_pairs},
        "gin_config": gin.config_str(),
        "dataset": {"path": str(Path(data_dir).resolve()), "fingerprint": inputs.fingerprint,
                    "source": dataset_manifest.get("source"),
                    "seed": dataset_manifest.get("seed")},
        "stats_spm": spm_entry, "versions": _versions(),
        "counts": {"tracks": inputs.num_tracks, "ids": len(collisions.unique_ids),
                   "new_tokens": len(assignment.new_tokens)},
        "created_unix": int(time.time())})
    manifest = id_map_lib.write_id_map(
        out_dir, track_ids=inputs.track_ids, ids=ids, popularity=inputs.popularity,
        collisions=collisions, new_tokens=assignment.new_tokens, stats=stats,
        manifest=manifest, arrays=assignment.arrays,
        extra_files={SPM_FILE: spm_copy} if spm_copy else None, overwrite=overwrite)
  return id_map_lib.id_map_from_arrays(strategy, inputs.track_ids, ids, collisions,
                                       assignment.new_tokens, stats, manifest, out_dir)


# -- command line ---------------------------------------------------------------------
def format_stats(id_map: id_map_lib.IdMap) -> str:
  """A few lines for the terminal."""
  s = id_map.stats
  tok, col, pre = s["tokens_per_id"], s["collisions"], s["prefix_sharing"]
  ratio = "n/a" if pre["ratio"] is None else f"{pre['ratio']:.2f}x"
  return "\n".join([
      f"ID map: strategy={id_map.strategy} tracks={col['tracks']:,} ids={col['ids']:,} "
      f"new tokens={s['new_tokens']:,}",
      f"tokens per ID: mean {tok['mean']:.2f} (train pairs {tok['train_pair_mean']:.2f}), "
      f"max {tok['max']}",
      f"collisions: {col['ids_with_collision']:.2%} of IDs name >1 track; "
      f"{col['tracks_sharing_id']:.2%} of tracks share an ID; max {col['tracks_per_id']['max']}",
      f"first token shared: co-occurring {pre['cooccurring']:.3f} vs random "
      f"{pre['random']:.3f} ({ratio})",
      f"tracks not in train: {s['unseen_tracks']:,}; seconds: {s['seconds']['total']}"])
