"""The T5 v1.1 / Flan-T5 encoder-decoder in Flax linen.

Architecture (identical to Hugging Face's `T5ForConditionalGeneration` with
`feed_forward_proj="gated-gelu"`, `tie_word_embeddings=False`):

* RMS layer norm (no mean subtraction, no bias), pre-norm residual blocks;
* bucketed relative position bias, bidirectional in the encoder and causal in
  the decoder, owned by each stack (`relpos_bias`) and computed once per
  forward pass, then shared by all its layers;
* gated-GELU feed-forward `wo(gelu_tanh(wi_0 x) * wi_1 x)`;
* no biases; attention logits are not scaled by 1/sqrt(d_kv) (T5 folds the
  factor into the query initialisation); untied LM head (`logits_dense`).

Parameter tree (the T5X layout, so T5X checkpoints map one to one)::

  token_embedder/embedding                       [vocab, embed]
  encoder/relpos_bias/rel_embedding              [heads, relpos_buckets]
  encoder/layers_{i}/pre_attention_layer_norm/scale          [embed]
  encoder/layers_{i}/attention/{query,key,value}/kernel      [embed, joined_kv]
  encoder/layers_{i}/attention/out/kernel                    [joined_kv, embed]
  encoder/layers_{i}/pre_mlp_layer_norm/scale                [embed]
  encoder/layers_{i}/mlp/{wi_0,wi_1}/kernel                  [embed, mlp]
  encoder/layers_{i}/mlp/wo/kernel                           [mlp, embed]
  encoder/encoder_norm/scale                                 [embed]
  decoder/relpos_bias/rel_embedding              [heads, relpos_buckets]
  decoder/layers_{i}/pre_self_attention_layer_norm, self_attention/...,
                     pre_cross_attention_layer_norm, encoder_decoder_attention/...,
                     pre_mlp_layer_norm, mlp/...
  decoder/decoder_norm/scale                                 [embed]
  decoder/logits_dense/kernel                                [embed, vocab]

Every parameter carries its logical axis names (shown in brackets) through
`nn.with_logical_partitioning`; `partitioning.standard_logical_axis_rules`
maps them onto a `data` x `model` mesh. Activations are constrained with the
names `batch`, `length`, `embed`, `heads`, `kv`, `mlp`, `vocab` when traced
under `partitioning.axis_rules` (a no-op elsewhere).

Conventions (T5X): token id 0 is padding and masks attention keys;
`decoder_input_tokens` are the targets shifted right with 0 as BOS.

Autoregressive decoding keeps a "cache" collection (see `T5Model.init_cache`)::

  cache/decoder/cache_index                                   []  int32
  cache/decoder/encoder_mask                                  [B, L_enc] bool
  cache/decoder/layers_{i}/self_attention/cached_{key,value}  [B, H, L_max, d_kv]
  cache/decoder/layers_{i}/encoder_decoder_attention/cached_{key,value}
                                                              [B, H, L_enc, d_kv]

Every leaf but `cache_index` has the batch on axis 0, so beam search may tile
and gather the cache along axis 0 (`decoding.beam_search.expand_cache` /
`gather_cache`); the scalar
`cache_index` is shared by all rows. Keys/values are stored heads first so
that a step contracts them without transposing the cache (faster decoding
than [B, L, H, d_kv]: BENCHMARKS.md, "Decoding"). Cross-attention
keys/values are projected once when the cache is created, not at every step.
Beam search may keep them and the encoder mask (`PER_QUERY_CACHE_KEYS`) at B
rows while the self-attention leaves hold B * n rows (n beams per query, rows
b*n .. b*n+n-1): a step then folds each query's beams into the query
positions of one attention (`expand_cache(cache, n,
per_query_cache_keys=PER_QUERY_CACHE_KEYS)`).

A beam-slot cache (`init_cache(..., num_beams=n)`, for beam search) goes one
step further: the self-attention keys/values are never reordered either::

  cache/decoder/kv_beam                                  [B(*n), L_max] int32
  cache/decoder/layers_{i}/self_attention/cached_key     [B, H, d_kv, L_max * n]
  cache/decoder/layers_{i}/self_attention/cached_value   [B, H, L_max * n, d_kv]

Each query has n slots; a step's row b*n + i writes its key/value into slot
i at the current position, and `kv_beam[r, s]` names the slot that holds
row r's key/value at position s. Beam search reorders only `kv_beam` (a
few ints per row) instead of every layer's keys/values
(`BEAM_SLOT_PER_QUERY_CACHE_KEYS` keep one row per query), and a step attends
each query's n*L slots at once with the other beams' slots masked (exactly
the same softmax terms; BENCHMARKS.md, "Decoding"). The first step may run on
the B query rows before `kv_beam` is expanded to B*n rows (it writes slot 0).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Tuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from text2tracks_jax.models import bert
from text2tracks_jax.models.configs import T5Config

Array = jax.Array
PyTree = Any

# Decoding-cache entries that depend only on the encoder input, hence are the
# same for every beam of a query (see the module docstring).
PER_QUERY_CACHE_KEYS = ("encoder_decoder_attention", "encoder_mask")
# A beam-slot cache (`init_cache(..., num_beams=n)`) also keeps its
# self-attention keys/values at one row per query: only `kv_beam` (and
# `cache_index`) follow the beams.
BEAM_SLOT_PER_QUERY_CACHE_KEYS = PER_QUERY_CACHE_KEYS + ("self_attention",)

# Additive bias for masked attention logits (T5X's value). Finite, so a row
# with every key masked gives a uniform distribution instead of NaN.
MASK_BIAS = -1e10

_kernel_init = nn.initializers.variance_scaling(1.0, "fan_in", "normal")
_mlp_init = nn.initializers.variance_scaling(1.0, "fan_in", "truncated_normal")
_relpos_init = nn.initializers.variance_scaling(1.0, "fan_avg", "uniform")
_embedding_init = nn.initializers.normal(stddev=1.0)


def _partitioned(init: Callable, axes: Tuple[Optional[str], ...]) -> Callable:
  return nn.with_logical_partitioning(init, axes)


def _constrain(x: Array, axes: Tuple[str, ...]) -> Array:
  """Logical sharding constraint; a no-op outside `partitioning.axis_rules`."""
  return nn.with_logical_constraint(x, axes)


# ----------------------------------------------------------------------------
# Relative position buckets.


def relative_position_bucket(relative_position: np.ndarray, bidirectional: bool,
                             num_buckets: int, max_distance: int) -> np.ndarray:
  """T5's bucket of `relative_position = key_position - query_position`.

  Exact for |r| < num_buckets/4 (bidirectional) or num_buckets/2 (causal),
  logarithmic up to `max_distance`, then saturated. Computed in float32 with
  the arithmetic of Mesh-TF and Hugging Face (no epsilon inside the log, unlike
  T5X's layers.py), which is what the released checkpoints were trained with.

  Args:
    relative_position: int array, any shape.
  Returns:
    int32 array of the same shape with values in [0, num_buckets).
  """
  rel = np.asarray(relative_position, dtype=np.int64)
  buckets = np.zeros_like(rel)
  if bidirectional:
    num_buckets //= 2
    buckets += (rel > 0).astype(np.int64) * num_buckets
    n = np.abs(rel)
  else:
    n = -np.minimum(rel, 0)
  max_exact = num_buckets // 2
  is_small = n < max_exact
  n_safe = np.maximum(n, 1).astype(np.float32)
  scaled = (np.log(n_safe / np.float32(max_exact))
            / np.float32(np.log(max_distance / max_exact))
            * np.float32(num_buckets - max_exact))
  large = np.minimum(max_exact + scaled.astype(np.int64), num_buckets - 1)
  return (buckets + np.where(is_small, n, large)).astype(np.int32)


def relative_position_bucket_table(bidirectional: bool, num_buckets: int,
                                   max_distance: int) -> np.ndarray:
  """Buckets of r = -max_distance..max_distance, shape [2 * max_distance + 1].

  Every |r| >= max_distance falls in a saturated bucket, so looking up
  `table[clip(r, -max_distance, max_distance) + max_distance]` is exact for
  any r, and works for traced positions (the decode step).
  """
  rel = np.arange(-max_distance, max_distance + 1)
  return relative_position_bucket(rel, bidirectional, num_buckets, max_distance)


# ----------------------------------------------------------------------------
# Layers.


class RMSNorm(nn.Module):
  """T5 layer norm: x / sqrt(mean(x^2) + eps) * scale, statistics in float32."""
  epsilon: float = 1e-6
  dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x: Array) -> Array:
    """[..., embed] -> [..., embed] in `dtype`."""
    scale = self.param("scale", _partitioned(nn.initializers.ones, ("embed",)),
                       (x.shape[-1],), jnp.float32)
    x32 = x.astype(jnp.float32)
    variance = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
    y = (x32 * lax.rsqrt(variance + self.epsilon)).astype(self.dtype)
    return y * scale.astype(self.dtype)


class RelativePositionBias(nn.Module):
  """Learned per-head bias for each relative position bucket."""
  num_heads: int
  num_buckets: int = 32
  max_distance: int = 128
  bidirectional: bool = True

  @nn.compact
  def __call__(self, query_positions: Array, key_positions: Array) -> Array:
    """Positions [Tq] and [Tk] (int, may be traced) -> float32 bias [1, H, Tq, Tk]."""
    table = jnp.asarray(relative_position_bucket_table(
        self.bidirectional, self.num_buckets, self.max_distance))
    rel = key_positions[None, :] - query_positions[:, None]
    rel = jnp.clip(rel, -self.max_distance, self.max_distance) + self.max_distance
    buckets = table[rel]  # [Tq, Tk]
    embedding = self.param(
        "rel_embedding", _partitioned(_relpos_init, ("heads", "relpos_buckets")),
        (self.num_heads, self.num_buckets), jnp.float32)
    return jnp.take(embedding, buckets, axis=1)[None]  # [1, H, Tq, Tk]


def _dense(features: int, axes: Tuple[str, str], dtype, name: str,
           init: Callable = _kernel_init) -> nn.Dense:
  return nn.Dense(features, use_bias=False, dtype=dtype, param_dtype=jnp.float32,
                  kernel_init=_partitioned(init, axes), name=name)


def _query_init(d_kv: int) -> Callable:
  """T5's query init: the 1/sqrt(d_kv) logit scaling is folded in here."""
  def init(key, shape, dtype=jnp.float32):
    return _kernel_init(key, shape, dtype) / np.sqrt(d_kv).astype(np.float32)
  return init


def _write_cache(cache: Array, new: Array, index: Array) -> Array:
  """cache [B, H, L, d_kv] with new [B, H, T, d_kv] at positions index.."""
  return lax.dynamic_update_slice(cache, new.astype(cache.dtype), (0, 0, index, 0))


def _write_beam_slots(cache: Array, new: Array, index: Array, slots: int, axis: int) -> Array:
  """Beam-slot cache with its flat slot axis (L * n, n = `slots`) at `axis`:
  keys [Bq, H, d_kv, L * n] (axis 3) or values [Bq, H, L * n, d_kv] (axis 2),
  with one step's new [Bq * m, H, 1, d_kv] (row b*m + i, m <= n) written into
  slot i of query b at position `index`: flat slot index * n + i."""
  bq, heads = cache.shape[:2]
  m, d_kv = new.shape[0] // bq, new.shape[-1]
  if new.shape[2] != 1:
    raise ValueError(f"a beam-slot cache is stepped one position at a time, not {new.shape[2]}")
  new = new.reshape(bq, m, heads, d_kv)
  new = new.transpose((0, 2, 3, 1) if axis == 3 else (0, 2, 1, 3))
  start = [0, 0, 0, 0]
  start[axis] = index * slots
  return lax.dynamic_update_slice(cache, new.astype(cache.dtype), start)


def _beam_slot_attention(q: Array, k: Array, v: Array, bias: Array, kv_beam: Array,
                         dtype) -> Array:
  """Self-attention of beams over a beam-slot cache, without reordering it.

  q [Bq * m, 1, H, d_kv] (m beam rows per query); k [Bq, H, d_kv, L * n];
  v [Bq, H, L * n, d_kv]; bias [1, H, 1, L] (relative position + causal);
  kv_beam [Bq * m, L]: row r's key/value at position s is in slot
  kv_beam[r, s] of its query. The m beams of a query attend to all L * n
  columns of that query in one batched matmul; columns of another beam's
  slot get MASK_BIAS, so each softmax is over the row's own history (the
  same terms as a reordered cache's). -> [Bq * m, 1, H, d_kv].

  Keys are stored [.., d_kv, L * n], the operand layout XLA's CPU matmuls
  take as is (stored [.., n, L, d_kv], XLA transposed the whole cache for
  every matmul); values [.., L * n, d_kv], so that their weighted sum is an
  [m, L * n] x [L * n, d_kv] matmul per (query, head), asked for heads first
  (stored like the keys, it was [d_kv, L * n] x [L * n, m], an output m
  wide: about twice as slow in a step; BENCHMARKS.md). A step writes m
  adjacent slots of each in place.
  """
  bq, heads, d_kv, columns = k.shape
  rows = q.shape[0]
  m, length = rows // bq, kv_beam.shape[1]
  n = columns // length
  logits = jnp.einsum("bqhd,bhdk->bhqk", q.reshape(bq, m, heads, d_kv), k,
                      preferred_element_type=jnp.float32)  # [Bq, H, m, L * n]
  own = kv_beam.reshape(bq, m, length, 1) == jnp.arange(n)  # [Bq, m, L, n]
  mask = jnp.where(own, 0.0, MASK_BIAS).astype(jnp.float32).reshape(bq, 1, m, columns)
  position_bias = jnp.broadcast_to(bias[..., None], bias.shape + (n,)).reshape(
      bias.shape[:3] + (columns,))  # [1, H, 1, L * n]
  weights = jax.nn.softmax(logits + position_bias + mask, axis=-1)
  out = jnp.einsum("bhqk,bhkd->bhqd", weights.astype(dtype), v.astype(dtype))
  return jnp.swapaxes(out, 1, 2).reshape(rows, 1, heads, d_kv)


class MultiHeadAttention(nn.Module):
  """Multi-head dot-product attention without biases or logit scaling."""
  config: T5Config

  @nn.compact
  def __call__(self, inputs_q: Array, inputs_kv: Optional[Array], bias: Array,
               enable_dropout: bool = False, decode: bool = False,
               cache_index: Optional[Array] = None,
               static_kv: bool = False, kv_beam: Optional[Array] = None,
               num_beams: Optional[int] = None) -> Array:
    """Attends `inputs_q` [B, Tq, D] to `inputs_kv` [B, Tk, D].

    Args:
      bias: float32, broadcastable to [B, H, Tq, Tk]: relative position bias
        plus MASK_BIAS on masked (query, key) pairs.
      decode: use the "cache" collection, whose keys/values are stored heads
        first, [B, H, Tk, d_kv]. If the cache does not exist yet it is
        created (self-attention: zeros shaped like this call's keys, with Tk
        the maximal decode length; cross-attention, `static_kv=True`: the
        projected keys/values of `inputs_kv`) and the call computes plain
        attention. Otherwise self-attention writes this
        call's Tq keys/values at `cache_index` and attends over the whole cache
        (Tk = cache length, future slots masked by `bias`); cross-attention
        reuses its cached keys/values and ignores `inputs_kv`.
      kv_beam, num_beams: beam-slot self-attention cache (module docstring):
        `num_beams` when creating it (keys [B, H, d_kv, Tk * n], values
        [B, H, Tk * n, d_kv]); when stepping it,
        `kv_beam` [B * m, Tk] int (m beam rows per query at this step), the
        slot that holds each row's key/value at each position (this step's
        slots already written).
    Returns:
      [B, Tq, D] in the activation dtype.
    """
    cfg = self.config
    dtype = cfg.activation_dtype
    heads, d_kv = cfg.num_heads, cfg.d_kv
    query = _dense(cfg.inner_dim, ("embed", "joined_kv"), dtype, "query", _query_init(d_kv))
    key = _dense(cfg.inner_dim, ("embed", "joined_kv"), dtype, "key")
    value = _dense(cfg.inner_dim, ("embed", "joined_kv"), dtype, "value")

    def split_heads(x):  # [B, T, H*d_kv] -> [B, T, H, d_kv]
      x = x.reshape(x.shape[:-1] + (heads, d_kv))
      return _constrain(x, ("batch", "length", "heads", "kv"))

    def heads_first(x):  # [B, T, H*d_kv] -> [B, H, T, d_kv]
      x = jnp.swapaxes(x.reshape(x.shape[:-1] + (heads, d_kv)), 1, 2)
      return _constrain(x, ("batch", "heads", "length", "kv"))

    q = split_heads(query(inputs_q))
    beam_slots = False
    if not decode:
      kv_axes = "bkhd"  # keys/values [B, Tk, H, d_kv]
      k, v = split_heads(key(inputs_kv)), split_heads(value(inputs_kv))
    else:
      # Cached keys/values are stored heads first ([B, H, Tk, d_kv]), so that
      # no decoding step transposes the whole cache to contract it.
      kv_axes = "bhkd"
      if static_kv and self.has_variable("cache", "cached_key"):
        k = self.get_variable("cache", "cached_key")
        v = self.get_variable("cache", "cached_value")
      else:
        k, v = heads_first(key(inputs_kv)), heads_first(value(inputs_kv))
        if static_kv:  # cross-attention: projected once
          self.put_variable("cache", "cached_key", k)
          self.put_variable("cache", "cached_value", v)
        else:
          initialized = self.has_variable("cache", "cached_key")
          if num_beams is None:
            key_shape = value_shape = k.shape
          else:
            key_shape = k.shape[:2] + (d_kv, k.shape[2] * num_beams)
            value_shape = k.shape[:2] + (k.shape[2] * num_beams, d_kv)
          cached_key = self.variable("cache", "cached_key", jnp.zeros, key_shape, k.dtype)
          cached_value = self.variable("cache", "cached_value", jnp.zeros, value_shape, v.dtype)
          if initialized:
            if kv_beam is None:
              write_key = write_value = _write_cache
            else:
              write_key, write_value = (functools.partial(
                  _write_beam_slots, slots=cached_key.value.shape[3] // kv_beam.shape[1],
                  axis=axis) for axis in (3, 2))
            k = write_key(cached_key.value, k, cache_index)
            v = write_value(cached_value.value, v, cache_index)
            cached_key.value, cached_value.value = k, v
            beam_slots = kv_beam is not None

    if k.shape[0] != q.shape[0] and not (decode and (static_kv or beam_slots)):
      raise ValueError(f"{q.shape[0]} query rows for {k.shape[0]} key/value rows")
    if q.shape[0] % k.shape[0]:
      raise ValueError(f"{q.shape[0]} query rows for {k.shape[0]} key/value rows of queries")
    if beam_slots:  # a decoding step: deterministic
      out = _beam_slot_attention(q, k, v, bias, kv_beam, dtype)
    else:
      # Cached cross-attention with one row per query for its n beams (rows
      # b*n .. b*n+n-1, see the module docstring): the beams
      # become query positions, [B*n, Tq] -> [B, n*Tq], so the shared keys
      # and values are neither copied nor read once per beam.
      q = q.reshape((k.shape[0], -1) + q.shape[2:])
      logits = jnp.einsum(f"bqhd,{kv_axes}->bhqk", q, k, preferred_element_type=jnp.float32)
      weights = jax.nn.softmax(logits + bias, axis=-1)
      weights = nn.Dropout(cfg.dropout_rate)(weights, deterministic=not enable_dropout)
      if decode:
        # Heads-first output, then one small transpose: asked for [B, Tq, H,
        # d_kv] directly, XLA:CPU emits a slow strided dot (0.8 ms against
        # 0.1 ms for small's cross-attention at 10 beams; BENCHMARKS.md).
        out = jnp.einsum(f"bhqk,{kv_axes}->bhqd", weights.astype(dtype), v.astype(dtype))
        out = jnp.swapaxes(out, 1, 2)
      else:
        out = jnp.einsum(f"bhqk,{kv_axes}->bqhd", weights.astype(dtype), v.astype(dtype))
    out = out.reshape(inputs_q.shape[:2] + (cfg.inner_dim,))
    out = _dense(cfg.d_model, ("joined_kv", "embed"), dtype, "out")(out)
    return _constrain(out, ("batch", "length", "embed"))


class GatedGeluMlp(nn.Module):
  """wo(dropout(gelu_tanh(wi_0 x) * wi_1 x)): HF's T5DenseGatedActDense."""
  config: T5Config

  @nn.compact
  def __call__(self, x: Array, enable_dropout: bool = False) -> Array:
    """[B, T, embed] -> [B, T, embed]."""
    cfg = self.config
    dtype = cfg.activation_dtype
    gate = _dense(cfg.d_ff, ("embed", "mlp"), dtype, "wi_0", _mlp_init)(x)
    linear = _dense(cfg.d_ff, ("embed", "mlp"), dtype, "wi_1", _mlp_init)(x)
    h = jax.nn.gelu(gate, approximate=True) * linear
    h = _constrain(h, ("batch", "length", "mlp"))
    h = nn.Dropout(cfg.dropout_rate)(h, deterministic=not enable_dropout)
    out = _dense(cfg.d_model, ("mlp", "embed"), dtype, "wo", _mlp_init)(h)
    return _constrain(out, ("batch", "length", "embed"))


def _dropout(cfg: T5Config) -> nn.Dropout:
  return nn.Dropout(cfg.dropout_rate, broadcast_dims=cfg.dropout_broadcast_dims)


class EncoderLayer(nn.Module):
  """Pre-norm self-attention block then pre-norm feed-forward block."""
  config: T5Config

  @nn.compact
  def __call__(self, x: Array, bias: Array, enable_dropout: bool = False) -> Array:
    """x [B, T, D], bias [B or 1, H, T, T] -> [B, T, D]."""
    cfg = self.config
    deterministic = not enable_dropout
    norm = functools.partial(RMSNorm, cfg.layer_norm_epsilon, cfg.activation_dtype)
    y = norm(name="pre_attention_layer_norm")(x)
    y = MultiHeadAttention(cfg, name="attention")(y, y, bias, enable_dropout)
    x = x + _dropout(cfg)(y, deterministic=deterministic)
    y = norm(name="pre_mlp_layer_norm")(x)
    y = GatedGeluMlp(cfg, name="mlp")(y, enable_dropout)
    x = x + _dropout(cfg)(y, deterministic=deterministic)
    return _constrain(x, ("batch", "length", "embed"))


class DecoderLayer(nn.Module):
  """Self-attention, cross-attention and feed-forward blocks, all pre-norm."""
  config: T5Config

  @nn.compact
  def __call__(self, x: Array, encoded: Optional[Array], self_bias: Array,
               cross_bias: Array, enable_dropout: bool = False,
               decode: bool = False, cache_index: Optional[Array] = None,
               kv_beam: Optional[Array] = None, num_beams: Optional[int] = None) -> Array:
    """x [B, T, D], encoded [B, S, D] -> [B, T, D] (see MultiHeadAttention)."""
    cfg = self.config
    deterministic = not enable_dropout
    norm = functools.partial(RMSNorm, cfg.layer_norm_epsilon, cfg.activation_dtype)
    y = norm(name="pre_self_attention_layer_norm")(x)
    y = MultiHeadAttention(cfg, name="self_attention")(
        y, y, self_bias, enable_dropout, decode=decode, cache_index=cache_index,
        kv_beam=kv_beam, num_beams=num_beams)
    x = x + _dropout(cfg)(y, deterministic=deterministic)
    y = norm(name="pre_cross_attention_layer_norm")(x)
    y = MultiHeadAttention(cfg, name="encoder_decoder_attention")(
        y, encoded, cross_bias, enable_dropout, decode=decode, static_kv=True)
    x = x + _dropout(cfg)(y, deterministic=deterministic)
    y = norm(name="pre_mlp_layer_norm")(x)
    y = GatedGeluMlp(cfg, name="mlp")(y, enable_dropout)
    x = x + _dropout(cfg)(y, deterministic=deterministic)
    return _constrain(x, ("batch", "length", "embed"))


def _remat(layer_cls, cfg: T5Config, static_argnums: Tuple[int, ...]):
  if cfg.remat_policy == "none":
    return layer_cls
  policy = None
  if cfg.remat_policy == "dots":
    policy = jax.checkpoint_policies.dots_with_no_batch_dims_saveable
  return nn.remat(layer_cls, static_argnums=static_argnums, policy=policy)


def padding_bias(mask: Array) -> Array:
  """Key mask [B, Tk] (True = attend) -> float32 bias [B, 1, 1, Tk]."""
  return jnp.where(mask, 0.0, MASK_BIAS).astype(jnp.float32)[:, None, None, :]


def causal_bias(query_positions: Array, key_positions: Array) -> Array:
  """float32 [1, 1, Tq, Tk]: MASK_BIAS where key position > query position."""
  allowed = key_positions[None, :] <= query_positions[:, None]
  return jnp.where(allowed, 0.0, MASK_BIAS).astype(jnp.float32)[None, None]


# ----------------------------------------------------------------------------
# LM head.


def dense_logits(hidden: Array, lm_kernel: Array, float32_logits: bool = True) -> Array:
  """hidden [..., D] x lm_kernel [D, V] -> float32 logits [..., V]."""
  dtype = jnp.float32 if float32_logits else hidden.dtype
  logits = jnp.einsum("...d,dv->...v", hidden.astype(dtype), lm_kernel.astype(dtype),
                      preferred_element_type=jnp.float32)
  return logits.astype(jnp.float32)


def candidate_logits(hidden: Array, lm_kernel: Array, candidate_ids: Array,
                     float32_logits: bool = True) -> Array:
  """Logits of the candidate tokens only: gathers LM-head columns, then matmuls.

  Equal to `jnp.take_along_axis(dense_logits(hidden, lm_kernel), ids, -1)` at
  B*K*D multiply-adds instead of B*V*D, but it also reads B*K*D kernel
  entries (strided columns of the [D, V] kernel): worth it while B*K << V,
  e.g. the few legal next tokens under a prefix trie.

  Args:
    hidden: decoder output states (after `decoder_norm`), [B, D] or [B, T, D].
    lm_kernel: `params['decoder']['logits_dense']['kernel']`, [D, V].
    candidate_ids: int token ids in [0, V): [B, K] for [B, D] states; [B, T, K]
      or [B, K] (the same candidates at every position) for [B, T, D] states.
  Returns:
    float32 logits [B, K] or [B, T, K].
  """
  if hidden.ndim == 3 and candidate_ids.ndim == 2:
    candidate_ids = jnp.broadcast_to(candidate_ids[:, None, :],
                                     hidden.shape[:2] + candidate_ids.shape[-1:])
  if candidate_ids.shape[:-1] != hidden.shape[:-1]:
    raise ValueError(f"candidate_ids {candidate_ids.shape} do not match hidden states "
                     f"{hidden.shape}")
  dtype = jnp.float32 if float32_logits else hidden.dtype
  columns = jnp.take(lm_kernel, candidate_ids, axis=1).astype(dtype)  # [D, B, (T,) K]
  columns = jnp.moveaxis(columns, 0, -1)  # [B, (T,) K, D]
  logits = jnp.einsum("...d,...kd->...k", hidden.astype(dtype), columns,
                      preferred_element_type=jnp.float32)
  return logits.astype(jnp.float32)


class LMHead(nn.Module):
  """Untied output projection `logits_dense` (kernel [embed, vocab])."""
  vocab_size: int
  float32_logits: bool = True

  @nn.compact
  def __call__(self, hidden: Array, candidate_ids: Optional[Array] = None) -> Array:
    """hidden [B, T, D] -> logits [B, T, V], or [B, T, K] for `candidate_ids`."""
    kernel = self.param("kernel", _partitioned(_mlp_init, ("embed", "vocab")),
                        (hidden.shape[-1], self.vocab_size), jnp.float32)
    if candidate_ids is None:
      return _constrain(dense_logits(hidden, kernel, self.float32_logits),
                        ("batch", "length", "vocab"))
    return candidate_logits(hidden, kernel, candidate_ids, self.float32_logits)


# ----------------------------------------------------------------------------
# Stacks.


class Encoder(nn.Module):
  """Token embedding, encoder layers, final RMS norm."""
  config: T5Config
  embedder: nn.Module

  @nn.compact
  def __call__(self, encoder_input_tokens: Array, enable_dropout: bool = False) -> Array:
    """[B, S] int -> [B, S, D]."""
    cfg = self.config
    deterministic = not enable_dropout
    tokens = encoder_input_tokens.astype(jnp.int32)
    x = self.embedder(tokens).astype(cfg.activation_dtype)
    x = _dropout(cfg)(x, deterministic=deterministic)
    x = _constrain(x, ("batch", "length", "embed"))
    positions = jnp.arange(tokens.shape[1])
    relpos = RelativePositionBias(cfg.num_heads, cfg.relative_attention_num_buckets,
                                  cfg.relative_attention_max_distance,
                                  bidirectional=True, name="relpos_bias")
    bias = relpos(positions, positions) + padding_bias(tokens > 0)  # [B, H, S, S]
    layer_cls = _remat(EncoderLayer, cfg, static_argnums=(3,))
    for i in range(cfg.num_encoder_layers):
      x = layer_cls(cfg, name=f"layers_{i}")(x, bias, enable_dropout)
    x = RMSNorm(cfg.layer_norm_epsilon, cfg.activation_dtype, name="encoder_norm")(x)
    return _dropout(cfg)(x, deterministic=deterministic)


class PretrainedEncoder(nn.Module):
  """A pretrained BERT (`bert.BertEncoder`, `config.encoder`) projected to
  d_model and RMS-normed, so the T5 decoder attends to it as to its own
  encoder. Parameters: encoder/bert/..., encoder/projection/kernel [hidden,
  embed], encoder/encoder_norm/scale [embed]."""
  config: T5Config

  @nn.compact
  def __call__(self, encoder_input_tokens: Array, enable_dropout: bool = False,
               frozen_states: Optional[Array] = None, frozen_only: bool = False) -> Array:
    """[B, S] WordPiece ids (0 = [PAD]) -> [B, S, D]; `frozen_states` /
    `frozen_only`: see `bert.BertEncoder` (`frozen_only` returns the frozen
    part's [B, S, hidden] output)."""
    cfg = self.config
    x = bert.BertEncoder(bert.encoder_config(cfg.encoder), cfg.frozen_encoder_layers,
                         cfg.dropout_rate, cfg.activation_dtype, name="bert")(
                             encoder_input_tokens, enable_dropout, frozen_states, frozen_only)
    if frozen_only:
      return x
    x = _dense(cfg.d_model, ("mlp", "embed"), cfg.activation_dtype, "projection")(x)
    x = RMSNorm(cfg.layer_norm_epsilon, cfg.activation_dtype, name="encoder_norm")(x)
    x = _constrain(x, ("batch", "length", "embed"))
    return _dropout(cfg)(x, deterministic=not enable_dropout)


def trainable_mask(config: T5Config, params: PyTree) -> PyTree:
  """Same tree as `params`, True where a leaf is trained: all but the frozen
  part of a pretrained encoder (`config.frozen_encoder_layers`)."""
  def keep(path, _):
    keys = tuple(getattr(k, "key", getattr(k, "name", None)) for k in path)
    if config.encoder == "t5" or keys[:2] != ("encoder", "bert"):
      return True
    return bert.trainable(keys[2:], config.frozen_encoder_layers)
  return jax.tree_util.tree_map_with_path(keep, params)


def warm_start(config: T5Config, params: PyTree, checkpoint: Optional[str] = None) -> PyTree:
  """`params` with the pretrained encoder's weights (`bert.load_checkpoint`)
  in place of their random initialisation; a T5 encoder is left as it is."""
  if config.encoder == "t5":
    return params
  pretrained = bert.load_checkpoint(config.encoder, checkpoint)
  current = params["encoder"]["bert"]
  if jax.tree.structure(current) != jax.tree.structure(pretrained):
    raise ValueError(f"the {config.encoder} checkpoint's parameter tree differs from the model's")
  for a, b in zip(jax.tree.leaves(current), jax.tree.leaves(pretrained)):
    if a.shape != b.shape:
      raise ValueError(f"the {config.encoder} checkpoint has a {b.shape} tensor where the "
                       f"model has {a.shape}")
  encoder = {**params["encoder"], "bert": jax.tree.map(jnp.asarray, pretrained)}
  return {**params, "encoder": encoder}


class Decoder(nn.Module):
  """Token embedding, decoder layers, final RMS norm, LM head."""
  config: T5Config
  embedder: nn.Module

  def _cache_length(self) -> int:
    cache = self.variables["cache"]
    if "kv_beam" in cache:
      return cache["kv_beam"].shape[1]
    return cache["layers_0"]["self_attention"]["cached_key"].shape[2]

  def _own_slots(self, rows: int, cache_index: Array, length: int) -> Array:
    """Beam-slot cache: rows b*m + i write slot i at this step's positions;
    returns the updated `kv_beam` [rows, L] (module docstring)."""
    queries = self.variables["cache"]["layers_0"]["self_attention"]["cached_key"].shape[0]
    if rows % queries:
      raise ValueError(f"{rows} decoder rows for a beam-slot cache of {queries} queries")
    own = jnp.broadcast_to((jnp.arange(rows, dtype=jnp.int32) % (rows // queries))[:, None],
                           (rows, length))
    var = self.variable("cache", "kv_beam")
    var.value = lax.dynamic_update_slice(var.value, own, (0, cache_index))
    return var.value

  @nn.compact
  def __call__(self, encoded: Optional[Array], encoder_input_tokens: Optional[Array],
               decoder_input_tokens: Array,
               decoder_target_tokens: Optional[Array] = None,
               enable_dropout: bool = False, decode: bool = False,
               max_decode_length: Optional[int] = None,
               candidate_ids: Optional[Array] = None,
               return_hidden: bool = False, num_beams: Optional[int] = None) -> Array:
    """See `T5Model.decode` (`num_beams`: `T5Model.init_cache`)."""
    cfg = self.config
    deterministic = not enable_dropout
    tokens = decoder_input_tokens.astype(jnp.int32)
    length = tokens.shape[1]
    relpos = RelativePositionBias(cfg.num_heads, cfg.relative_attention_num_buckets,
                                  cfg.relative_attention_max_distance,
                                  bidirectional=False, name="relpos_bias")
    cache_index = kv_beam = None
    if decode and self.has_variable("cache", "cache_index"):
      # One step (or a chunk of `length` steps) against the existing cache.
      cache_length = self._cache_length()
      if max_decode_length is not None and max_decode_length != cache_length:
        raise ValueError(f"max_decode_length={max_decode_length} but the cache holds "
                         f"{cache_length} positions")
      index_var = self.variable("cache", "cache_index")
      cache_index = index_var.value
      index_var.value = cache_index + length
      encoder_mask = self.get_variable("cache", "encoder_mask")
      query_positions = cache_index + jnp.arange(length)
      key_positions = jnp.arange(cache_length)
      self_bias = (relpos(query_positions, key_positions)
                   + causal_bias(query_positions, key_positions))
      if self.has_variable("cache", "kv_beam"):
        kv_beam = self._own_slots(tokens.shape[0], cache_index, length)
    else:
      if encoder_input_tokens is None:
        raise ValueError("encoder_input_tokens is needed for the encoder padding mask")
      encoder_mask = encoder_input_tokens > 0
      if decode:  # Creating the cache: `length` is the maximal decode length.
        self.put_variable("cache", "cache_index", jnp.array(0, jnp.int32))
        self.put_variable("cache", "encoder_mask", encoder_mask)
        if num_beams is not None:
          self.put_variable("cache", "kv_beam", jnp.zeros(tokens.shape, jnp.int32))
      positions = jnp.arange(length)
      self_bias = relpos(positions, positions) + causal_bias(positions, positions)
      if decoder_target_tokens is not None and not decode:
        self_bias = self_bias + padding_bias(decoder_target_tokens > 0)
    cross_bias = padding_bias(encoder_mask)

    y = self.embedder(tokens).astype(cfg.activation_dtype)
    y = _dropout(cfg)(y, deterministic=deterministic)
    y = _constrain(y, ("batch", "length", "embed"))
    layer_cls = DecoderLayer if decode else _remat(DecoderLayer, cfg, static_argnums=(5, 6))
    for i in range(cfg.num_decoder_layers):
      y = layer_cls(cfg, name=f"layers_{i}")(
          y, encoded, self_bias, cross_bias, enable_dropout, decode, cache_index,
          kv_beam=kv_beam, num_beams=num_beams)
    y = RMSNorm(cfg.layer_norm_epsilon, cfg.activation_dtype, name="decoder_norm")(y)
    y = _dropout(cfg)(y, deterministic=deterministic)
    if return_hidden:
      return y
    return LMHead(cfg.vocab_size, cfg.float32_logits, name="logits_dense")(y, candidate_ids)


class T5Model(nn.Module):
  """Flan-T5 / T5 v1.1 encoder-decoder; methods follow T5X's `Transformer`.

  Typical use::

    model = T5Model(configs.get_config("small"))
    params = init_params(model, jax.random.key(0))
    logits = model.apply({"params": params}, enc_tokens, dec_inputs, dec_targets,
                         enable_dropout=True, rngs={"dropout": rng})

  `enable_dropout` defaults to True, as in T5X; pass False for evaluation and
  decoding.
  """
  config: T5Config

  def setup(self):
    cfg = self.config
    self.token_embedder = nn.Embed(
        cfg.vocab_size, cfg.d_model, dtype=cfg.activation_dtype, param_dtype=jnp.float32,
        embedding_init=_partitioned(_embedding_init, ("vocab", "embed")))
    if cfg.encoder == "t5":
      self.encoder = Encoder(cfg, self.token_embedder)
    else:
      self.encoder = PretrainedEncoder(cfg)
    self.decoder = Decoder(cfg, self.token_embedder)

  def encode(self, encoder_input_tokens: Array, enable_dropout: bool = True,
             frozen_states: Optional[Array] = None) -> Array:
    """encoder_input_tokens [B, S] int (0 = padding) -> encoded [B, S, D].

    Outputs at padded positions are computed like HF's (they attend to the
    real tokens) and are never attended to. `frozen_states`: a pretrained
    encoder's frozen-part output for these tokens (`frozen_encoder_states`),
    so that only its trained part runs.
    """
    if frozen_states is not None:
      return self.encoder(encoder_input_tokens, enable_dropout, frozen_states)
    return self.encoder(encoder_input_tokens, enable_dropout)

  def frozen_encoder_states(self, encoder_input_tokens: Array) -> Array:
    """[B, S] -> [B, S, hidden]: the output of a pretrained encoder's frozen
    layers (`config.frozen_encoder_layers` > 0), which no step changes."""
    return self.encoder(encoder_input_tokens, False, None, True)

  def decode(self, encoded: Optional[Array], encoder_input_tokens: Optional[Array],
             decoder_input_tokens: Array, decoder_target_tokens: Optional[Array] = None,
             enable_dropout: bool = True, decode: bool = False,
             max_decode_length: Optional[int] = None,
             candidate_ids: Optional[Array] = None,
             return_hidden: bool = False) -> Array:
    """Runs the decoder over `decoder_input_tokens` [B, T].

    Args:
      encoded: encoder outputs [B, S, D]. Unused (may be None) when stepping
        an existing cache.
      encoder_input_tokens: [B, S], for the padding mask (0 = padding).
        Unused (may be None) when stepping an existing cache.
      decoder_input_tokens: [B, T] int: targets shifted right, 0 = BOS. In
        cache mode, the T tokens at positions cache_index .. cache_index+T-1
        (T = 1 for one step).
      decoder_target_tokens: [B, T], optional; if given (teacher forcing), keys
        at target padding (0) are masked too. Redundant with the causal mask
        for right-padded targets (T5X also masks the padded query rows; their
        outputs carry no loss either way). Ignored in cache mode.
      enable_dropout: dropout on (needs a 'dropout' rng).
      decode: use/update the 'cache' collection (apply with mutable=['cache']).
        The cache must have been created by `init_cache`.
      max_decode_length: optional check against the cache length.
      candidate_ids: [B, T, K] int, or [B, K] for the same candidates at all
        T positions (the usual single step); if given, return logits only for
        these ids, [B, T, K], via `candidate_logits`.
      return_hidden: return the final decoder states [B, T, D] (after
        `decoder_norm`) instead of logits.
    Returns:
      float32 logits [B, T, V] (or [B, T, K], or hidden states [B, T, D]).
    """
    return self.decoder(encoded, encoder_input_tokens, decoder_input_tokens,
                        decoder_target_tokens, enable_dropout, decode,
                        max_decode_length, candidate_ids, return_hidden)

  def init_cache(self, encoded: Array, encoder_input_tokens: Array,
                 max_decode_length: int, num_beams: Optional[int] = None) -> None:
    """Creates the decoding cache; apply with mutable=['cache'].

    Self-attention caches hold `max_decode_length` zero positions, the cache
    index is 0, and cross-attention keys/values are projected from `encoded`
    once. Shapes: see the module docstring. Under `jax.jit` the throwaway
    forward pass this runs over a dummy [B, max_decode_length] input is dead
    code and is removed. `num_beams`: a beam-slot self-attention cache for
    beam search with up to that many beams per query (module docstring).
    """
    batch = encoded.shape[0]
    dummy = jnp.zeros((batch, max_decode_length), jnp.int32)
    self.decoder(encoded, encoder_input_tokens, dummy, None, False, True,
                 None, None, True, num_beams)

  def __call__(self, encoder_input_tokens: Array, decoder_input_tokens: Array,
               decoder_target_tokens: Optional[Array] = None,
               enable_dropout: bool = True) -> Array:
    """Teacher-forced forward pass -> float32 logits [B, T, V]."""
    encoded = self.encode(encoder_input_tokens, enable_dropout)
    return self.decode(encoded, encoder_input_tokens, decoder_input_tokens,
                       decoder_target_tokens, enable_dropout)


# ----------------------------------------------------------------------------
# Pure helpers around the module.


def _dummy_inputs(batch: int = 1, length: int = 1):
  return (jnp.ones((batch, length), jnp.int32), jnp.ones((batch, length), jnp.int32))


def init_variables(model: T5Model, rng: Array) -> PyTree:
  """`model.init` on dummy inputs: boxed variables (with logical axis names)."""
  return model.init(rng, *_dummy_inputs(), enable_dropout=False)


def init_params(model: T5Model, rng: Array) -> PyTree:
  """Randomly initialised parameters (plain float32 arrays, T5X initialisers).

  Jitted; to create them sharded, jit `init_variables` yourself with
  `out_shardings` from `partitioning.param_shardings`.
  """
  init = jax.jit(lambda key: nn.meta.unbox(init_variables(model, key)["params"]))
  return init(rng)


def abstract_params(model: T5Model) -> PyTree:
  """Parameter shapes/dtypes (`jax.ShapeDtypeStruct`) without allocating."""
  return nn.meta.unbox(_abstract_variables(model)["params"])


def param_logical_axes(model: T5Model) -> PyTree:
  """Same tree as the params, leaves `PartitionSpec`s of logical axis names."""
  return nn.get_partition_spec(_abstract_variables(model)["params"])


def _abstract_variables(model: T5Model) -> PyTree:
  return jax.eval_shape(functools.partial(init_variables, model), jax.random.key(0))


def num_params(params_or_shapes: PyTree) -> int:
  return int(sum(np.prod(x.shape) for x in jax.tree.leaves(params_or_shapes)))


def lm_head_kernel(params: PyTree) -> Array:
  """The LM head kernel [D, V] of a parameter tree (for `candidate_logits`)."""
  return params["decoder"]["logits_dense"]["kernel"]


def init_decode_cache(model: T5Model, params: PyTree, encoded: Array,
                      encoder_input_tokens: Array, max_decode_length: int,
                      num_beams: Optional[int] = None) -> PyTree:
  """The 'cache' collection for decoding `encoded` [B, S, D] (jit it);
  `num_beams`: a beam-slot cache (see `T5Model.init_cache`)."""
  _, variables = model.apply({"params": params}, encoded, encoder_input_tokens,
                             max_decode_length, num_beams, method=T5Model.init_cache,
                             mutable=["cache"])
  return variables["cache"]


def decode_step(model: T5Model, params: PyTree, cache: PyTree, decoder_tokens: Array,
                candidate_ids: Optional[Array] = None,
                return_hidden: bool = False) -> Tuple[Array, PyTree]:
  """Feeds `decoder_tokens` [B, T] (usually T = 1) at the cache's position.

  Returns (logits [B, T, V] float32 — or [B, T, K] for `candidate_ids`, or
  hidden states [B, T, D] — , the updated cache). Feeding more than the
  cache's max_decode_length positions in total is not checked under jit
  (the cache write is clamped to the last slot).
  """
  out, variables = model.apply(
      {"params": params, "cache": cache}, None, None, decoder_tokens,
      enable_dropout=False, decode=True, candidate_ids=candidate_ids,
      return_hidden=return_hidden, mutable=["cache"], method=T5Model.decode)
  return out, variables["cache"]
