"""A registered task's tokenized (query, ID) pairs without tf.data: the fast path.

The SeqIO task (`tasks/text2tracks.py`) is the definition: source -> pairs
(`preprocessors.to_query_id_pairs`) -> `tokenize` -> EOS, one pair at a time,
so a query with k relevant tracks is tokenized k times, and so is every ID,
for every ID strategy. `tokenized_pairs` computes the same examples from the
prepared split and the ID map: each distinct query and each distinct ID is
tokenized once, in batches, with the op the task uses (`encode_tf`, the TF
SentencePiece op: Python SentencePiece breaks equal-score ties differently),
and pair i is the pair of rows (query_index[i], target_index[i]).
tests/tasks/test_examples.py checks that both give the same examples.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import seqio
import tensorflow as tf

from tasks import text2tracks
from text2tracks_jax import ids
from text2tracks_jax.data.dataset import PreparedDataset

ENCODE_BATCH = 16384  # strings per call of the TF SentencePiece op


@dataclasses.dataclass(frozen=True)
class TokenizedPairs:
  """N (query, ID) pairs as indices into distinct token sequences.

  queries: Q int32 arrays, input tokens + EOS, one per distinct query.
  query_index: [N] int, the row of `queries` of pair i.
  targets: D int32 arrays, target tokens + EOS, one per distinct ID.
  target_index: [N] int, the row of `targets` of pair i.
  """

  queries: list
  query_index: np.ndarray
  targets: list
  target_index: np.ndarray

  def __post_init__(self):
    if self.query_index.shape != self.target_index.shape or self.query_index.ndim != 1:
      raise ValueError(f"query_index {self.query_index.shape} / target_index "
                       f"{self.target_index.shape}: expected [N] each")

  def __len__(self) -> int:
    return len(self.query_index)

  @classmethod
  def from_rows(cls, inputs: list, targets: list) -> "TokenizedPairs":
    """One row per pair (the SeqIO task's examples, in order)."""
    n = len(inputs)
    return cls(list(inputs), np.arange(n), list(targets), np.arange(n))


def encode(vocabulary: seqio.Vocabulary, strings: list) -> list:
  """Token ids + EOS of each string, as the task's `tokenize` + EOS make them.

  Returns a list of int32 arrays, one per string, in order.
  """
  out = []
  eos = np.int32(vocabulary.eos_id)
  for i in range(0, len(strings), ENCODE_BATCH):
    ragged = vocabulary.encode_tf(tf.constant(strings[i:i + ENCODE_BATCH], tf.string))
    splits = ragged.row_splits.numpy()
    values = np.insert(ragged.flat_values.numpy().astype(np.int32), splits[1:], eos)
    out.extend(np.split(values, (splits + np.arange(len(splits)))[1:-1]))
  return out


def tokenized_pairs(name: str, split: str) -> TokenizedPairs | None:
  """The (query, ID) pairs of task `name`'s `split`, in the SeqIO task's order.

  None if `name` is not a task registered by `tasks.register_run` in this
  process (a mixture, another project's task): use the SeqIO task then.
  Raises ValueError on a track the ID map does not know, as the task does.
  """
  inputs = text2tracks.task_inputs(name)
  if inputs is None:
    return None
  features = seqio.get_mixture_or_task(name).output_features
  table = PreparedDataset.load(inputs["data"]).split(split, ["query", "track_ids"])
  tracks = table.column("track_ids").combine_chunks()
  counts = tracks.value_lengths().fill_null(0).to_numpy(zero_copy_only=False)
  flat = tracks.flatten()
  if text2tracks.expands(split):  # every relevant track, playlist order
    pair_row = np.repeat(np.arange(len(counts)), counts)
    pair_track = flat
  else:  # the first relevant track
    starts = np.cumsum(counts) - counts
    pair_row = np.flatnonzero(counts > 0)
    pair_track = flat.take(pa.array(starts[pair_row]))
  queries = table.column("query").combine_chunks().dictionary_encode()
  query_index = queries.indices.to_numpy(zero_copy_only=False)[pair_row]
  track_codes = pair_track.dictionary_encode()
  track_to_id = ids.load_id_map(inputs["id_map"]).track_to_id
  id_rows: dict = {}
  track_rows = []
  for track in track_codes.dictionary.to_pylist():
    id_string = track_to_id.get(track, "")
    if not id_string:
      raise ValueError(f"task {name}: track {track!r} of the {split} split has no ID in the "
                       f"ID map {inputs['id_map']}: rebuild the IDs")
    track_rows.append(id_rows.setdefault(id_string, len(id_rows)))
  target_index = np.asarray(track_rows, np.int64)[
      track_codes.indices.to_numpy(zero_copy_only=False)]
  return TokenizedPairs(
      queries=encode(features["inputs"].vocabulary,
                     [text2tracks.model_input(q) for q in queries.dictionary.to_pylist()]),
      query_index=query_index.astype(np.int64),
      targets=encode(features["targets"].vocabulary, list(id_rows)),
      target_index=target_index)
