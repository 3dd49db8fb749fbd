"""Statistics written with every ID map.

- tokens_per_id: decoding steps per track after tokenization (SentencePiece
  for text, one per new whole token, no EOS): the paper reports ~15 for
  artist-name-track-name, ~4 for track-int, 3 for semantic IDs. `mean` is over
  catalog tracks, `train_pair_mean` over train (query, track) pairs, i.e.
  what the model is trained to generate.
- collisions: distinct IDs, share of IDs naming more than one track, tracks
  per ID, share of tracks that share their ID.
- prefix_sharing: P(two tracks share their first token) for pairs that
  co-occur in a train playlist vs. for random pairs of train (query, track)
  pairs (same popularity skew), and the ratio. > 1 means the first token
  groups tracks the way playlists do.
"""

from __future__ import annotations

import numpy as np

from text2tracks_jax.ids.id_map import Collisions
from text2tracks_jax.ids.inputs import IdInputs
from text2tracks_jax.ids.tokenizer import count_tokens


def describe(values) -> dict:
  a = np.asarray(values, np.float64)
  if not len(a):
    return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0}
  return {"mean": round(float(a.mean()), 3), "p50": float(np.percentile(a, 50)),
          "p95": float(np.percentile(a, 95)), "max": int(a.max())}


def sample_cooccurring_pairs(inputs: IdInputs, n: int, rng: np.random.Generator):
  """[n] (a, b) track rows from the same train playlist, uniform over all
  ordered co-occurring pairs; empty arrays if no playlist has 2 tracks."""
  lengths = np.diff(inputs.offsets)
  weight = (lengths * (lengths - 1)).astype(np.float64)
  if weight.sum() == 0 or n <= 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  q = rng.choice(len(lengths), n, p=weight / weight.sum())
  i = rng.integers(0, lengths[q])
  j = rng.integers(0, lengths[q] - 1)
  j = j + (j >= i)
  base = inputs.offsets[q]
  return inputs.tracks[base + i].astype(np.int64), inputs.tracks[base + j].astype(np.int64)


def sample_random_pairs(inputs: IdInputs, n: int, rng: np.random.Generator):
  """[<= n] (a, b) tracks of two independent random train pairs, a != b."""
  if len(inputs.tracks) == 0 or n <= 0:
    return np.zeros(0, np.int64), np.zeros(0, np.int64)
  a = inputs.tracks[rng.integers(0, len(inputs.tracks), n)].astype(np.int64)
  b = inputs.tracks[rng.integers(0, len(inputs.tracks), n)].astype(np.int64)
  keep = a != b
  return a[keep], b[keep]


def prefix_sharing(inputs: IdInputs, first_token: np.ndarray, *, pairs: int = 100_000,
                   seed: int = 0) -> dict:
  """How much more often co-occurring tracks share their first ID token."""
  rng = np.random.default_rng(seed)
  a, b = sample_cooccurring_pairs(inputs, pairs, rng)
  ra, rb = sample_random_pairs(inputs, pairs, rng)
  p_co = float(np.mean(first_token[a] == first_token[b])) if len(a) else 0.0
  p_rand = float(np.mean(first_token[ra] == first_token[rb])) if len(ra) else 0.0
  return {"cooccurring": round(p_co, 5), "random": round(p_rand, 5),
          "ratio": round(p_co / p_rand, 3) if p_rand > 0 else None,
          "pairs": int(len(a)), "random_pairs": int(len(ra))}


def collision_stats(collisions: Collisions) -> dict:
  sizes = collisions.sizes
  return {"tracks": int(sizes.sum()), "ids": int(len(sizes)),
          "ids_with_collision": round(float(np.mean(sizes > 1)), 5) if len(sizes) else 0.0,
          "tracks_sharing_id": round(float(sizes[sizes > 1].sum() / max(sizes.sum(), 1)), 5),
          "tracks_per_id": {"mean": round(float(sizes.mean()), 4) if len(sizes) else 0.0,
                            "max": int(sizes.max(initial=0))}}


def id_stats(inputs: IdInputs, ids: np.ndarray, new_tokens: list, collisions: Collisions,
             spm_path, *, pairs: int = 100_000, seed: int = 0) -> dict:
  """All statistics of one ID map (see the module docstring)."""
  lengths, first = count_tokens(list(ids), spm_path, new_tokens)
  tokens = describe(lengths)
  tokens["train_pair_mean"] = (round(float(lengths[inputs.tracks].mean()), 3)
                               if len(inputs.tracks) else 0.0)
  return {"tokens_per_id": tokens, "collisions": collision_stats(collisions),
          "new_tokens": len(new_tokens),
          "prefix_sharing": prefix_sharing(inputs, first, pairs=pairs, seed=seed),
          "unseen_tracks": int((~inputs.in_train).sum())}
