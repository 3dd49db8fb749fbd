"""Decoding: diverse beam search (T5X `decode_fn`) and prefix-trie constraints.

* `beam_search.diverse_beam_search`: the T5X decode function
  (`EncoderDecoderModel.decode_fn = @diverse_beam_search`), Hugging Face
  semantics for `num_beams` / `num_beam_groups` / `diversity_penalty`.
* `generate.generate`: the same search over our `network.T5Model`, jitted.
* `constraints.build_trie` / `PrefixTrie`: the valid IDs as a flattened trie;
  `lookup_leaves`, `invalid_share`, `leaf_mask` on the host.
"""

from text2tracks_jax.decoding.beam_search import (DecodeResult, DecodingState,
                                                  diverse_beam_search, search)
from text2tracks_jax.decoding.constraints import (PrefixTrie, build_trie, invalid_share,
                                                  leaf_mask, lookup_ids, lookup_leaves)
from text2tracks_jax.decoding.generation import generate

__all__ = ["DecodeResult", "DecodingState", "PrefixTrie", "build_trie", "diverse_beam_search",
           "generate", "invalid_share", "leaf_mask", "lookup_ids", "lookup_leaves", "search"]
