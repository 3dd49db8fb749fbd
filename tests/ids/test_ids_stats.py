"""The statistics written with every ID map."""

import numpy as np

from text2tracks_jax.ids import stats
from text2tracks_jax.ids.id_map import group_collisions
from text2tracks_jax.ids.inputs import load_inputs


def test_prefix_sharing_measures_cluster_structure(cluster_data):
  inputs = load_inputs(cluster_data)
  cluster = np.array([int(t[1]) if t.startswith("c") else 9 for t in inputs.track_ids])
  planted = stats.prefix_sharing(inputs, cluster, pairs=20_000, seed=0)
  assert planted["cooccurring"] == 1.0  # playlists never mix the two clusters
  assert 0.4 < planted["random"] < 0.6 and 1.6 < planted["ratio"] < 2.5
  noise = np.random.default_rng(0).integers(0, 2, len(cluster))
  assert abs(stats.prefix_sharing(inputs, noise, pairs=20_000)["ratio"] - 1.0) < 0.1
  again = stats.prefix_sharing(inputs, cluster, pairs=20_000, seed=0)
  assert again == planted


def test_cooccurring_pairs_come_from_one_playlist(cluster_data):
  inputs = load_inputs(cluster_data)
  a, b = stats.sample_cooccurring_pairs(inputs, 500, np.random.default_rng(1))
  together = {(x, y) for q in range(len(inputs.queries))
              for x in inputs.tracks[inputs.offsets[q]:inputs.offsets[q + 1]]
              for y in inputs.tracks[inputs.offsets[q]:inputs.offsets[q + 1]] if x != y}
  assert all((x, y) in together for x, y in zip(a.tolist(), b.tolist()))


def test_collision_stats():
  g = group_collisions(["x", "x", "y", "z", "z", "z"], np.zeros(6, int),
                       np.array(list("abcdef"), dtype=object))
  s = stats.collision_stats(g)
  assert s["ids"] == 3 and s["ids_with_collision"] == round(2 / 3, 5)
  assert s["tracks_sharing_id"] == round(5 / 6, 5)
  assert s["tracks_per_id"] == {"mean": 2.0, "max": 3}
