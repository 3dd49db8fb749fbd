"""Flax T5 v1.1 / Flan-T5 network and checkpoint import (HF, T5X).

  configs.py             T5Config, named sizes (tiny, small, base, large, xl)
  network.py             T5Model (encode / decode / init_cache), cached decoding
                         helpers, candidate (gathered) LM-head logits
  partitioning.py        the `data` x `model` mesh, logical axis rules, shardings
  hf_import.py           Hugging Face safetensors / pytorch_model.bin import
  t5x_import.py          T5X checkpoint import (Orbax and legacy msgpack)
  pretrained.py          load_pretrained(path): either of the two
  resize.py              resize_vocab for an ID strategy's new tokens
"""

from text2tracks_jax.models.configs import T5Config, get_config
from text2tracks_jax.models.network import (T5Model, abstract_params, candidate_logits,
                                            decode_step, dense_logits, init_decode_cache,
                                            init_params, lm_head_kernel, param_logical_axes)
from text2tracks_jax.models.pretrained import load_pretrained
from text2tracks_jax.models.resize import resize_vocab
