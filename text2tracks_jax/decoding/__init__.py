"""Decoding: diverse beam search (T5X `decode_fn`) and generation; pure: takes
`tokens_to_logits` and a prefix trie (`ids.prefix_trie`), knows no trainer,
data or files.

* `beam_search.diverse_beam_search`: the T5X decode function
  (`EncoderDecoderModel.decode_fn = @diverse_beam_search`), Hugging Face
  semantics for `num_beams` / `num_beam_groups` / `diversity_penalty`.
* `generation.generate`: the same search over our `network.T5Model`, jitted.
* `beam_search.expand_cache` / `gather_cache`: T5X's cache rules (beams
  expanded batch-major; per-query leaves kept at one row per query), also
  used by `experiments.exact_rank` to score many IDs per query.
"""

from text2tracks_jax.decoding.beam_search import (DecodeResult, DecodingState,
                                                  diverse_beam_search, expand_cache,
                                                  gather_cache, search)
from text2tracks_jax.decoding.generation import generate

__all__ = ["DecodeResult", "DecodingState", "diverse_beam_search", "expand_cache",
           "gather_cache", "generate", "search"]
