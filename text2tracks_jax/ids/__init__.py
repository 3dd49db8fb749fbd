"""Track ID strategies phi (paper section 3): how a track is written as an ID.

One module per kind of phi, one for the artifact:

  content.py       artist-name-track-name   "Velora Kin - Midnight Solane"
  integer.py       track-int                "1001"
                   artist-int-track-seq     "1001_1001"
                   artist-iid-track-seq     "<1001>1001" (top-K artists as tokens)
  learned.py       semantic-ids-cf / -text  "<+12><-3><+7>"
    embeddings.py    word2vec over train playlists / MiniLM over train queries
    discretizers.py  sparse coding (the paper's), hierarchical and residual k-means
  id_map.py        the artifact: track -> ID, ID -> tracks by popularity, new tokens
  tokenizer.py     SentencePiece + whole new tokens: splitting and counting
  stats.py         tokens per ID, collisions, prefix sharing
  prefix_trie.py   the tokenized IDs as a flattened prefix trie (JAX arrays): what
                   constrained decoding and the trie loss walk; not imported here
  build.py         build_ids(): dataset in, artifact out (`text2tracks build-ids`)

    from text2tracks_jax import ids
    id_map = ids.build_ids("runs/demo/data", "semantic-ids-cf", "runs/demo/ids/cf")
    id_map = ids.load_id_map("runs/demo/ids/cf")
    id_map.track_to_id["t0000123"]       # '<+12><-3><+7>'
    id_map.pieces('<+12><-3><+7>')       # ['<+12>', '<-3>', '<+7>']
    id_map.id_to_tracks['<+12><-3><+7>'] # tracks, most train-popular first
"""

from text2tracks_jax.ids.build import PAPER_STRATEGIES, STRATEGIES, build_ids, format_stats
from text2tracks_jax.ids.id_map import IdMap, IdMapError, load_array, load_id_map
from text2tracks_jax.ids.tokenizer import TokenSplitter, count_tokens, train_sentencepiece

__all__ = ["PAPER_STRATEGIES", "STRATEGIES", "IdMap", "IdMapError", "TokenSplitter", "build_ids", "count_tokens",
           "format_stats", "load_array", "load_id_map", "train_sentencepiece"]
