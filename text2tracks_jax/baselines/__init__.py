"""Baselines that rank catalog tracks for a text query (the paper's Table 3).

One module per baseline, each a gin-configurable function that fits on the
catalog + train split and returns a `ranking.Ranker`:

  popularity     `popularity.popularity`: most frequent train tracks, any query.
  bm25           `bm25.bm25`: bm25s over each track's concatenated train titles.
  biencoder-zs   `biencoder.biencoder`: sentence-transformers cosine similarity.
  biencoder-ft   the same, fine-tuned with MultipleNegativesRankingLoss first.
  cooccurrence   `cooccurrence.cooccurrence`: naive Bayes over title words with
                 a popularity prior (the honest lexical bar).

`run(name, data_dir=..., out=...)` writes predictions JSONL in the format of
`text2tracks infer` (see `runner`). Lists hold top_n tracks, best first, ties
to the smaller track id; only a baseline with no evidence for enough tracks
(fewer than top_n tracks in train) writes a shorter list.
"""

from text2tracks_jax.baselines.runner import BUILDERS, NAMES, run

__all__ = ["BUILDERS", "NAMES", "run"]
