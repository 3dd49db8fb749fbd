"""SeqIO preprocessors of the Text2Tracks tasks (tf.data, graph mode).

The source yields one example per query: `query_id`, `query`, `track_ids`
(relevant tracks, playlist order) and `expand` (True for the train split).
`to_query_id_pairs` turns a train example (Q, {t1..tk}) into k examples
(Q, phi(t_i)) and an evaluation example into one (Q, phi(t_1)) that keeps all
relevant track ids for the metric functions.
"""

from __future__ import annotations

import seqio
import tensorflow as tf


def track_id_table(track_to_id: dict) -> tf.lookup.StaticHashTable:
  """track id -> ID string phi(t), as an in-graph lookup table."""
  keys = tf.constant(list(track_to_id.keys()), tf.string)
  values = tf.constant(list(track_to_id.values()), tf.string)
  return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values),
                                   default_value="")


def to_query_id_pairs(dataset: tf.data.Dataset, track_to_id: dict) -> tf.data.Dataset:
  """Per-query examples -> (inputs = query, targets = phi(track)) examples."""
  table = track_id_table(track_to_id)  # built once, captured by the pipeline

  def expand(ex):
    tracks = tf.cond(ex["expand"], lambda: ex["track_ids"], lambda: ex["track_ids"][:1])
    n = tf.shape(tracks)[0]
    return tf.data.Dataset.from_tensor_slices({
        "inputs": tf.fill([n], ex["query"]),
        "targets": table.lookup(tracks),
        "track_id": tracks,
        "query_id": tf.fill([n], ex["query_id"]),
        "relevant_track_ids": tf.repeat(ex["track_ids"][tf.newaxis], n, axis=0),
    })

  return dataset.flat_map(expand)


@seqio.map_over_dataset
def check_mapped(ex):
  """Fails loudly on a track the ID map does not know (a stale ID map)."""
  tf.debugging.assert_greater(tf.strings.length(ex["targets"]), 0,
                              message="track without an ID in the ID map: rebuild the IDs")
  return ex
