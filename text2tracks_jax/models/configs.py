"""`T5Config`: the hyper-parameters of a T5 v1.1 / Flan-T5 encoder-decoder.

Field names follow Hugging Face's `T5Config` (the format of the checkpoints
people download), so `hf_import.config_from_hf` is a plain copy. The named
sizes are the Flan-T5 (= T5 v1.1) shapes plus `tiny` for CPU tests and the
demo::

  size   d_model  layers(enc+dec)  heads x d_kv  d_ff   params (vocab 32128)
  tiny   128      2+2              4 x 32        512    3.3M (vocab 8192)
  small  512      8+8              6 x 64        1024   77.0M
  base   768      12+12            12 x 64       2048   247.6M
  large  1024     24+24            16 x 64       2816   783.2M
  xl     2048     24+24            32 x 64       5120   2.85B

`get_config(name, **overrides)` is the one definition of the sizes. In gin
(T5X style, dynamic registration) a size is a file under `gin_configs/models/`
that includes `common.gin` (`MODEL_CONFIG = @configs.get_config()` and the
macros) and binds only `configs.get_config.size`.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import jax.numpy as jnp

REMAT_POLICIES = ("none", "full", "dots")


@dataclasses.dataclass(frozen=True)
class BertConfig:
  """Shapes of a pretrained BERT encoder (`models/bert.py`), Hugging Face's names."""
  vocab_size: int = 30522
  hidden_size: int = 384
  num_layers: int = 6
  num_heads: int = 12
  intermediate_size: int = 1536
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12

  @property
  def head_dim(self) -> int:
    return self.hidden_size // self.num_heads


# The pretrained encoders a `T5Config.encoder` may name, with their shapes
# (checked against the checkpoint's config.json on import).
ENCODERS = {"minilm": BertConfig()}


def encoder_config(name: str) -> BertConfig:
  if name not in ENCODERS:
    raise ValueError(f"unknown pretrained encoder {name!r}; known: {sorted(ENCODERS)}")
  return ENCODERS[name]
SIZES = ("tiny", "small", "base", "large", "xl")


@dataclasses.dataclass(frozen=True)
class T5Config:
  """Shapes and numerics of the network (hashable, so it is a static arg).

  Attributes:
    vocab_size: rows of the token embedding and columns of the LM head.
    d_model: width of the residual stream ('embed' axis).
    d_kv: width of one attention head ('kv' axis).
    d_ff: width of the gated-GELU feed-forward ('mlp' axis).
    num_heads: attention heads ('heads' axis).
    num_encoder_layers / num_decoder_layers: depth of each stack.
    dropout_rate: one rate for every dropout (embeddings, sub-layer outputs,
      attention weights, feed-forward hidden, final norms), as T5.
    relative_attention_num_buckets / relative_attention_max_distance: the
      bucketed relative position bias (32 / 128 for every released T5).
    layer_norm_epsilon: epsilon of the RMS norm.
    dtype: activation dtype, "float32" or "bfloat16". Parameters are always
      float32; attention logits and softmax are computed in float32.
    float32_logits: compute the LM head matmul in float32 (T5X's choice for
      stability); logits are returned as float32 either way.
    dropout_broadcast_dims: dims along which a dropout mask is shared (T5X
      uses (-2,), i.e. one mask for all positions); () = independent, as HF.
    remat_policy: rematerialisation of each layer in the backward pass:
      "none", "full" (recompute everything) or "dots" (save matmul outputs
      without batch dims, jax.checkpoint_policies.dots_with_no_batch_dims_saveable).
    encoder: "t5" (the T5 encoder, sharing the token embedding) or the name of
      a pretrained BERT encoder (`ENCODERS`: "minilm", `models/bert.py`), warm-started from
      its checkpoint and projected to d_model (Rothe et al. 2020). Its tasks
      read queries with the encoder's WordPiece (`tasks.task_name(...,
      encoder=...)`); the num_encoder_layers / d_kv / num_heads / d_ff fields
      then describe the decoder only.
    frozen_encoder_layers: with a pretrained encoder, its embeddings and
      first k layers are not trained (k >= its depth: the whole encoder).
  """
  vocab_size: int = 32128
  d_model: int = 512
  d_kv: int = 64
  d_ff: int = 1024
  num_heads: int = 6
  num_encoder_layers: int = 8
  num_decoder_layers: int = 8
  dropout_rate: float = 0.1
  relative_attention_num_buckets: int = 32
  relative_attention_max_distance: int = 128
  layer_norm_epsilon: float = 1e-6
  dtype: str = "float32"
  float32_logits: bool = True
  dropout_broadcast_dims: Tuple[int, ...] = ()
  remat_policy: str = "none"
  encoder: str = "t5"
  frozen_encoder_layers: int = 0

  def __post_init__(self):
    if self.dtype not in ("float32", "bfloat16"):
      raise ValueError(f"T5Config.dtype must be 'float32' or 'bfloat16', got {self.dtype!r}")
    if self.remat_policy not in REMAT_POLICIES:
      raise ValueError(f"T5Config.remat_policy must be one of {REMAT_POLICIES}, "
                       f"got {self.remat_policy!r}")
    if self.encoder != "t5" and self.encoder not in ENCODERS:
      raise ValueError(f"T5Config.encoder must be 't5' or one of {sorted(ENCODERS)}, "
                       f"got {self.encoder!r}")
    if self.frozen_encoder_layers < 0:
      raise ValueError("T5Config.frozen_encoder_layers must be >= 0, got "
                       f"{self.frozen_encoder_layers}")
    for name in ("vocab_size", "d_model", "d_kv", "d_ff", "num_heads",
                 "num_encoder_layers", "num_decoder_layers"):
      if int(getattr(self, name)) <= 0:
        raise ValueError(f"T5Config.{name} must be positive, got {getattr(self, name)}")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError(f"T5Config.dropout_rate must be in [0, 1), got {self.dropout_rate}")
    # gin and JSON give lists; keep the dataclass hashable.
    object.__setattr__(self, "dropout_broadcast_dims", tuple(self.dropout_broadcast_dims))

  @property
  def activation_dtype(self):
    return jnp.dtype(self.dtype)

  @property
  def inner_dim(self) -> int:
    """num_heads * d_kv: the 'joined_kv' axis of the attention kernels."""
    return self.num_heads * self.d_kv

  def replace(self, **changes) -> "T5Config":
    return dataclasses.replace(self, **changes)

  def to_dict(self) -> dict:
    return dataclasses.asdict(self)


_SIZE_FIELDS = {
    "tiny": dict(vocab_size=8192, d_model=128, d_kv=32, d_ff=512, num_heads=4,
                 num_encoder_layers=2, num_decoder_layers=2),
    "small": dict(d_model=512, d_kv=64, d_ff=1024, num_heads=6,
                  num_encoder_layers=8, num_decoder_layers=8),
    "base": dict(d_model=768, d_kv=64, d_ff=2048, num_heads=12,
                 num_encoder_layers=12, num_decoder_layers=12),
    "large": dict(d_model=1024, d_kv=64, d_ff=2816, num_heads=16,
                  num_encoder_layers=24, num_decoder_layers=24),
    "xl": dict(d_model=2048, d_kv=64, d_ff=5120, num_heads=32,
               num_encoder_layers=24, num_decoder_layers=24),
}


def get_config(size: str = "small", **overrides) -> T5Config:
  """The named size (see the module docstring) with `overrides` applied.

  An override of None keeps the size's value: gin's `VOCAB_SIZE = None` means
  the size's own vocabulary, so the numbers stay here.
  """
  if size not in _SIZE_FIELDS:
    raise ValueError(f"unknown model size {size!r}; known: {', '.join(SIZES)}")
  overrides = {k: v for k, v in overrides.items() if v is not None}
  return T5Config(**{**_SIZE_FIELDS[size], **overrides})


def tiny(**overrides) -> T5Config:
  return get_config("tiny", **overrides)


def small(**overrides) -> T5Config:
  return get_config("small", **overrides)


def base(**overrides) -> T5Config:
  return get_config("base", **overrides)


def large(**overrides) -> T5Config:
  return get_config("large", **overrides)


def xl(**overrides) -> T5Config:
  return get_config("xl", **overrides)
