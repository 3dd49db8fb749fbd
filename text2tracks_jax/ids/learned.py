"""Learned phi: semantic IDs = discretize(embedding(t)).

semantic-ids-cf embeds tracks with word2vec over train playlists,
semantic-ids-text with MiniLM over their train queries, semantic-ids-hybrid
(not in the paper) with both, concatenated (embeddings.py); a
discretizer (discretizers.py; the paper's is sparse coding) turns each vector
into `c` whole tokens, e.g. "<+12><-3><+7>". IDs may collide (Table 1: not
UI); `id_to_tracks` then lists the tracks by train popularity. With
`disambiguate=True`, every track of a colliding group gets one more token
"<d{rank}>" (rank 0 = most popular), so IDs become unique and no ID is a
prefix of another; unique IDs are left as they are.
"""

from __future__ import annotations

import time

import gin
import numpy as np

from text2tracks_jax.ids import discretizers as discretizers_lib
from text2tracks_jax.ids import embeddings as embeddings_lib
from text2tracks_jax.ids.id_map import Assignment, group_collisions
from text2tracks_jax.ids.inputs import IdInputs

# Embedding name -> the gin-configurable functions it runs, itself first (their
# bindings shape the vectors, so an experiment stage's settings hold them).
EMBEDDING_CALLS = {"cf": (embeddings_lib.cf_embeddings,),
                   "text": (embeddings_lib.text_embeddings,),
                   "hybrid": (embeddings_lib.hybrid_embeddings, embeddings_lib.cf_embeddings,
                              embeddings_lib.text_embeddings)}
EMBEDDINGS = {name: calls[0] for name, calls in EMBEDDING_CALLS.items()}


def disambiguation_suffix(ids: np.ndarray, popularity: np.ndarray, track_ids: np.ndarray):
  """Appends "<d{rank}>" to the IDs of colliding groups: ([N] ids, new tokens)."""
  groups = group_collisions(ids, popularity, track_ids)
  colliding = groups.sizes[groups.id_index] > 1
  if not colliding.any():
    return ids, []
  rank = groups.rank()
  suffix = np.asarray([f"<d{r}>" for r in range(int(rank[colliding].max()) + 1)], dtype=object)
  out = np.asarray(ids, dtype=object).copy()
  out[colliding] = out[colliding] + suffix[rank[colliding]]
  return out, suffix.tolist()


@gin.configurable
def semantic_ids(inputs: IdInputs, *, embedding: str = "cf",
                 discretizer: str = "sparse-coding", disambiguate: bool = False,
                 save_embeddings: bool = False,
                 seed: int = 0, embedding_options: dict | None = None,
                 discretizer_options: dict | None = None) -> Assignment:
  """phi(t) = discretizer(embedding(t)) as concatenated whole tokens."""
  if embedding not in EMBEDDINGS:
    raise ValueError(f"unknown embedding {embedding!r}; expected one of {sorted(EMBEDDINGS)}")
  if discretizer not in discretizers_lib.DISCRETIZERS:
    raise ValueError(f"unknown discretizer {discretizer!r}; expected one of "
                     f"{sorted(discretizers_lib.DISCRETIZERS)}")
  start = time.perf_counter()
  emb = EMBEDDINGS[embedding](inputs, seed=seed, **(embedding_options or {}))
  embed_seconds = time.perf_counter() - start
  start = time.perf_counter()
  codes = discretizers_lib.DISCRETIZERS[discretizer](
      emb.vectors, seed=seed, trusted=emb.source == embeddings_lib.LEARNED,
      **(discretizer_options or {}))
  ids = codes.id_strings()
  discretize_seconds = time.perf_counter() - start
  new_tokens = list(codes.lexicon)
  suffix_tokens = []
  if disambiguate:
    ids, suffix_tokens = disambiguation_suffix(ids, inputs.popularity, inputs.track_ids)
    new_tokens += suffix_tokens
  info = {"embedding": emb.info, "discretizer": codes.info,
          "unseen_tracks": int((~inputs.in_train).sum()),
          "lexicon_size": len(codes.lexicon),
          "lexicon_used": int(len(np.unique(codes.tokens))),
          "disambiguation_tokens": len(suffix_tokens),
          "seconds": {"embedding": round(embed_seconds, 2),
                      "discretization": round(discretize_seconds, 2)}}
  config = {"embedding": embedding, "discretizer": discretizer, "disambiguate": disambiguate,
            "embedding_config": emb.config, "discretizer_config": codes.config}
  arrays = {"codes": codes.tokens, "embedding_source": emb.source, **codes.arrays}
  if save_embeddings:
    arrays["embeddings"] = emb.vectors
  return Assignment(ids=ids, new_tokens=new_tokens, config=config, info=info, arrays=arrays)
