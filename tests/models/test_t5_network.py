"""The Flax T5: masks, cached decoding, candidate logits, dropout, sharding."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec

from text2tracks_jax.decoding import beam_search
from text2tracks_jax.models import configs, network, partitioning

PER_QUERY = network.PER_QUERY_CACHE_KEYS

# Small enough to compile in about a second; lengths below exceed the exact
# buckets (8 bidirectional, 16 causal) so the logarithmic buckets are used.
CFG = configs.tiny(vocab_size=160, d_model=64, d_kv=16, d_ff=96, num_heads=4,
                   num_encoder_layers=2, num_decoder_layers=3, dropout_rate=0.0)
# One layer per stack where only compile time would grow with depth.
SHALLOW = CFG.replace(num_encoder_layers=1, num_decoder_layers=1)


def random_params(model, seed=0):
  """Quick random parameters with sensible scales (no jitted init needed)."""
  rng = np.random.default_rng(seed)
  def draw(path, leaf):
    name = "/".join(str(k.key) for k in path)
    if name.endswith("scale"):
      return (1.0 + 0.2 * rng.standard_normal(leaf.shape)).astype(np.float32)
    if "embedding" in name:  # token embedding, relative position bias
      return rng.standard_normal(leaf.shape).astype(np.float32)
    std = 1.0 / np.sqrt(leaf.shape[0])
    if "query" in name:  # T5 folds the 1/sqrt(d_kv) logit scaling into the init
      std /= np.sqrt(CFG.d_kv)
    return (std * rng.standard_normal(leaf.shape)).astype(np.float32)
  return jax.tree_util.tree_map_with_path(draw, network.abstract_params(model))


class Jitted:
  """The model's entry points, jitted once per module (compiling dominates)."""

  def __init__(self, model):
    self.forward = jax.jit(lambda p, e, d: model.apply({"params": p}, e, d, enable_dropout=False))
    self.encode = jax.jit(lambda p, e: model.apply(
        {"params": p}, e, enable_dropout=False, method=model.encode))
    self.init_cache = jax.jit(functools.partial(network.init_decode_cache, model),
                              static_argnums=3)
    self.step = jax.jit(functools.partial(network.decode_step, model),
                        static_argnames="return_hidden")


@pytest.fixture(scope="module")
def model_and_params():
  model = network.T5Model(CFG)
  return model, random_params(model)


@pytest.fixture(scope="module")
def jitted(model_and_params):
  return Jitted(model_and_params[0])


def _batch(seed=0, batch=3, src=37, tgt=21):
  rng = np.random.default_rng(seed)
  enc = rng.integers(2, CFG.vocab_size, (batch, src)).astype(np.int32)
  enc[1 % batch, 25:] = 0
  enc[2 % batch, 4:] = 0
  dec_targets = rng.integers(2, CFG.vocab_size, (batch, tgt)).astype(np.int32)
  dec_targets[1 % batch, 15:] = 0
  dec_inputs = np.concatenate([np.zeros((batch, 1), np.int32), dec_targets[:, :-1]], 1)
  return enc, dec_inputs, dec_targets


def test_init_params_shapes_dtypes_and_axes():
  shallow = network.init_params(network.T5Model(SHALLOW), jax.random.key(0))
  assert jax.tree.map(lambda x: (x.shape, x.dtype), shallow) == jax.tree.map(
      lambda x: (x.shape, x.dtype), network.abstract_params(network.T5Model(SHALLOW)))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(shallow))
  query = shallow["encoder"]["layers_0"]["attention"]["query"]["kernel"]
  key = shallow["encoder"]["layers_0"]["attention"]["key"]["kernel"]
  assert float(jnp.std(query)) < float(jnp.std(key)) / 2  # 1/sqrt(d_kv) folded in
  model = network.T5Model(CFG)
  params = network.abstract_params(model)
  layer = params["encoder"]["layers_0"]
  assert layer["attention"]["query"]["kernel"].shape == (64, 64)
  assert layer["mlp"]["wi_0"]["kernel"].shape == (64, 96)
  assert params["decoder"]["logits_dense"]["kernel"].shape == (64, 160)
  assert params["encoder"]["relpos_bias"]["rel_embedding"].shape == (4, 32)
  assert "relpos_bias" not in params["decoder"]["layers_0"]  # one per stack
  axes = network.param_logical_axes(model)
  assert axes["token_embedder"]["embedding"] == PartitionSpec("vocab", "embed")
  assert axes["decoder"]["logits_dense"]["kernel"] == PartitionSpec("embed", "vocab")
  assert axes["encoder"]["layers_1"]["attention"]["out"]["kernel"] == PartitionSpec(
      "joined_kv", "embed")
  assert axes["decoder"]["layers_2"]["mlp"]["wo"]["kernel"] == PartitionSpec("mlp", "embed")
  assert axes["decoder"]["relpos_bias"]["rel_embedding"] == PartitionSpec(
      "heads", "relpos_buckets")
  assert all(len(spec) == len(leaf.shape) for spec, leaf in zip(
      jax.tree.leaves(axes, is_leaf=lambda x: isinstance(x, PartitionSpec)),
      jax.tree.leaves(params)))


def test_padding_does_not_change_real_positions(model_and_params, jitted):
  model, params = model_and_params
  enc, dec_in, dec_tgt = _batch()
  logits = jitted.forward(params, enc, dec_in)
  assert logits.shape == (3, 21, CFG.vocab_size) and logits.dtype == jnp.float32
  # More padding on the right of both sides: same logits at real positions.
  more = jitted.forward(params, np.pad(enc, ((0, 0), (0, 5))), np.pad(dec_in, ((0, 0), (0, 4))))
  np.testing.assert_allclose(more[:, :21], logits, atol=1e-5)
  # decoder_target_tokens only masks target padding, redundant with causality.
  with_targets = jax.jit(lambda p: model.apply(
      {"params": p}, enc, dec_in, dec_tgt, enable_dropout=False))(params)
  np.testing.assert_allclose(with_targets[0], logits[0], atol=1e-5)
  np.testing.assert_allclose(with_targets[1, :15], logits[1, :15], atol=1e-5)


def test_greedy_cached_decoding_matches_teacher_forcing(model_and_params, jitted):
  _, params = model_and_params
  enc, _, _ = _batch()
  steps = 21
  cache = jitted.init_cache(params, jitted.encode(params, enc), enc, steps)
  tokens = np.zeros((3, 1), np.int32)
  inputs, step_logits = [], []
  for _ in range(steps):
    logits, cache = jitted.step(params, cache, tokens)
    assert logits.shape == (3, 1, CFG.vocab_size)
    inputs.append(tokens)
    step_logits.append(logits)
    tokens = np.asarray(jnp.argmax(logits, -1), np.int32)
  assert int(cache["decoder"]["cache_index"]) == steps
  full = jitted.forward(params, enc, np.concatenate(inputs, 1))
  np.testing.assert_allclose(np.concatenate(step_logits, 1), full, atol=1e-5, rtol=0)


def test_multi_token_cache_steps_and_candidate_logits(model_and_params, jitted):
  _, params = model_and_params
  enc, dec_in, _ = _batch(seed=1)
  full = np.asarray(jitted.forward(params, enc, dec_in))
  cache = jitted.init_cache(params, jitted.encode(params, enc), enc, 21)
  chunk, cache = jitted.step(params, cache, dec_in[:, :7])  # a forced prefix
  np.testing.assert_allclose(chunk, full[:, :7], atol=1e-5)
  ids = np.random.default_rng(0).integers(0, CFG.vocab_size, (3, 1, 5))
  picked, cache2 = jitted.step(params, cache, dec_in[:, 7:8], ids)
  np.testing.assert_allclose(picked, np.take_along_axis(full[:, 7:8], ids, -1), atol=1e-5)
  assert int(cache2["decoder"]["cache_index"]) == 8
  flat_ids = ids[:, 0]  # [B, K] with a [B, 1] step: the beam-search shape
  picked2, _ = jitted.step(params, cache, dec_in[:, 7:8], flat_ids)
  assert picked2.shape == (3, 1, 5)
  np.testing.assert_allclose(picked2, picked, atol=1e-6)
  hidden, _ = jitted.step(params, cache, dec_in[:, 7:8], return_hidden=True)
  assert hidden.shape == (3, 1, CFG.d_model)
  # The pure gather path on [B, D] states equals the dense logits at those ids.
  kernel = network.lm_head_kernel(params)
  dense = np.asarray(network.dense_logits(hidden[:, 0], kernel))
  np.testing.assert_allclose(dense, full[:, 7], atol=1e-5)
  np.testing.assert_allclose(network.candidate_logits(hidden[:, 0], kernel, ids[:, 0]),
                             np.take_along_axis(dense, ids[:, 0], -1), atol=1e-5)


def test_cache_layout_tile_and_gather(model_and_params, jitted):
  _, params = model_and_params
  enc, dec_in, _ = _batch(seed=2)
  cache = jitted.init_cache(params, jitted.encode(params, enc), enc, 21)
  layer = cache["decoder"]["layers_1"]
  # Keys/values are stored heads first: [B, H, L, d_kv].
  assert layer["self_attention"]["cached_key"].shape == (3, 4, 21, 16)
  assert layer["encoder_decoder_attention"]["cached_key"].shape == (3, 4, 37, 16)
  assert layer["encoder_decoder_attention"]["cached_value"].shape == (3, 4, 37, 16)
  assert cache["decoder"]["encoder_mask"].shape == (3, 37)
  assert cache["decoder"]["cache_index"].shape == ()
  _, cache = jitted.step(params, cache, dec_in[:, :7])
  beams = beam_search.expand_cache(cache, 2)  # [B*2, ...], rows b*2 + j
  logits, beams = jitted.step(params, beams, np.repeat(dec_in[:, 7:8], 2, 0))
  expected, _ = jitted.step(params, cache, dec_in[:, 7:8])
  np.testing.assert_allclose(logits[::2], expected, atol=1e-5)
  np.testing.assert_allclose(logits[1::2], expected, atol=1e-5)
  # Reordering beams reorders every batch-leading leaf; the index is shared.
  order = np.array([5, 4, 3, 2, 1, 0])
  gathered = beam_search.gather_cache(beams, order)
  for attention in ("self_attention", "encoder_decoder_attention"):
    np.testing.assert_array_equal(
        gathered["decoder"]["layers_0"][attention]["cached_key"],
        np.asarray(beams["decoder"]["layers_0"][attention]["cached_key"])[order])
  assert int(gathered["decoder"]["cache_index"]) == 8
  # Cross-attention entries may stay at one row per query: the beams of a
  # query are folded into its query positions, same logits.
  shared = beam_search.expand_cache(cache, 2, per_query_cache_keys=PER_QUERY)
  assert shared["decoder"]["layers_0"]["encoder_decoder_attention"]["cached_key"].shape[0] == 3
  assert shared["decoder"]["encoder_mask"].shape == (3, 37)
  assert shared["decoder"]["layers_0"]["self_attention"]["cached_key"].shape[0] == 6
  step_in = np.repeat(dec_in[:, 7:8], 2, 0)
  shared_logits, shared = jitted.step(params, shared, step_in)
  np.testing.assert_allclose(shared_logits, logits, atol=1e-5)
  swap = np.array([1, 0, 3, 2, 5, 4])  # beams swap within their query
  shared = beam_search.gather_cache(shared, swap, per_query_cache_keys=PER_QUERY)
  assert shared["decoder"]["layers_0"]["encoder_decoder_attention"]["cached_key"].shape[0] == 3
  shared_logits, _ = jitted.step(params, shared, step_in)
  expected, _ = jitted.step(params, beam_search.gather_cache(beams, swap), step_in)
  np.testing.assert_allclose(shared_logits, expected, atol=1e-5)



def test_beam_slot_cache_equals_a_reordered_cache(model_and_params, jitted):
  """A beam-slot cache (self-attention keys/values never reordered, only
  `kv_beam`) gives the logits of the T5X path that gathers every leaf, over
  steps with random beam origins; its first step may run on the B query rows."""
  model, params = model_and_params
  enc, _, _ = _batch(seed=3)
  beams, steps, length = 4, 6, 8
  encoded = jitted.encode(params, enc)
  slots_init = jax.jit(functools.partial(network.init_decode_cache, model),
                       static_argnums=(3, 4))
  slots = slots_init(params, encoded, enc, length, beams)
  layer = slots["decoder"]["layers_2"]["self_attention"]
  assert layer["cached_key"].shape == (3, 4, 16, length * beams)  # [B, H, d_kv, L * n]
  assert layer["cached_value"].shape == (3, 4, length * beams, 16)  # [B, H, L * n, d_kv]
  assert slots["decoder"]["kv_beam"].shape == (3, length)
  reference = beam_search.expand_cache(jitted.init_cache(params, encoded, enc, length), beams)
  keep = network.BEAM_SLOT_PER_QUERY_CACHE_KEYS
  rng = np.random.default_rng(0)
  tokens = rng.integers(2, CFG.vocab_size, (3 * beams, 1)).astype(np.int32)
  first, slots = jitted.step(params, slots, tokens[::beams])  # the B query rows
  slots = beam_search.expand_cache(slots, beams, per_query_cache_keys=keep)
  assert slots["decoder"]["layers_0"]["self_attention"]["cached_key"].shape[0] == 3
  assert slots["decoder"]["kv_beam"].shape == (3 * beams, length)
  expected, reference = jitted.step(params, reference, np.repeat(tokens[::beams], beams, 0))
  np.testing.assert_allclose(np.repeat(first, beams, 0), expected, atol=1e-5)
  for _ in range(steps - 1):
    # Beams move within their query, some duplicated, some dropped.
    origin = (np.arange(3)[:, None] * beams + rng.integers(0, beams, (3, beams))).reshape(-1)
    reference = beam_search.gather_cache(reference, origin)
    slots = beam_search.gather_cache(slots, origin, per_query_cache_keys=keep)
    tokens = rng.integers(2, CFG.vocab_size, (3 * beams, 1)).astype(np.int32)
    expected, reference = jitted.step(params, reference, tokens)
    got, slots = jitted.step(params, slots, tokens)
    np.testing.assert_allclose(got, expected, atol=1e-5)
  with pytest.raises(ValueError, match="one position at a time"):
    jitted.step(params, slots, np.zeros((3 * beams, 2), np.int32))

def test_dropout():
  params = random_params(network.T5Model(SHALLOW))
  enc, dec_in, _ = _batch()
  forward = jax.jit(lambda p, e, d: network.T5Model(SHALLOW).apply(
      {"params": p}, e, d, enable_dropout=False))
  dropout_model = network.T5Model(SHALLOW.replace(dropout_rate=0.3))
  apply = jax.jit(lambda key, on: dropout_model.apply(
      {"params": params}, enc, dec_in, enable_dropout=on, rngs={"dropout": key}),
      static_argnums=1)
  key = functools.partial(jax.random.key, impl="rbg")  # compiles faster on CPU
  a, b, c = apply(key(1), True), apply(key(1), True), apply(key(2), True)
  np.testing.assert_array_equal(a, b)
  assert np.abs(np.asarray(a) - np.asarray(c)).max() > 1e-2
  off = apply(key(1), False)
  np.testing.assert_allclose(off, forward(params, enc, dec_in), atol=1e-5)


def test_bfloat16_activations_stay_close(model_and_params, jitted):
  _, params = model_and_params
  enc, dec_in, _ = _batch()
  ref = jitted.forward(params, enc, dec_in)
  bf16_model = network.T5Model(CFG.replace(dtype="bfloat16"))
  bf16 = jax.jit(lambda p: bf16_model.apply({"params": p}, enc, dec_in, enable_dropout=False))(
      params)
  assert bf16.dtype == jnp.float32
  err = np.abs(np.asarray(bf16) - np.asarray(ref)).max() / np.abs(np.asarray(ref)).max()
  assert err < 0.1


def test_remat_gives_the_same_gradients():
  params = random_params(network.T5Model(SHALLOW))
  enc, dec_in, dec_tgt = _batch(batch=2, src=9, tgt=5)
  def grads(policy):
    model = network.T5Model(SHALLOW.replace(remat_policy=policy))
    def loss(p):
      logits = model.apply({"params": p}, enc, dec_in, dec_tgt, enable_dropout=False)
      return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), dec_tgt[..., None], -1))
    return jax.jit(jax.grad(loss))(params)
  for a, b in zip(jax.tree.leaves(grads("none")), jax.tree.leaves(grads("full"))):
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_logical_axis_rules_and_sharded_apply(model_and_params, jitted):
  model, params = model_and_params
  rules = partitioning.standard_logical_axis_rules()
  assert ("batch", "data") in rules and ("vocab", "model") in rules
  assert ("embed", None) in rules and ("mlp", "model") in rules
  mesh = partitioning.create_mesh(1, jax.devices()[:1])
  shardings = partitioning.param_shardings(mesh, network.param_logical_axes(model), rules)
  assert shardings["decoder"]["logits_dense"]["kernel"].spec == PartitionSpec(None, "model")
  assert shardings["encoder"]["layers_0"]["mlp"]["wo"]["kernel"].spec == PartitionSpec(
      "model", None)
  fsdp = partitioning.standard_logical_axis_rules(parameter_partitioning_dims=2)
  spec = nn.logical_to_mesh_axes(("embed", "mlp"), fsdp)
  assert tuple(spec) == ("data", "model")
  enc, dec_in, _ = _batch()
  sharded = jax.device_put(params, shardings)
  forward = lambda p: model.apply({"params": p}, enc, dec_in, enable_dropout=False)
  logits = jax.jit(partitioning.with_axis_rules(forward, mesh, rules))(sharded)
  np.testing.assert_allclose(logits, jitted.forward(params, enc, dec_in), atol=1e-5)


def test_relative_position_bucket_table_saturates():
  for bidirectional in (True, False):
    table = network.relative_position_bucket_table(bidirectional, 32, 128)
    rel = np.arange(-1000, 1001)
    direct = network.relative_position_bucket(rel, bidirectional, 32, 128)
    np.testing.assert_array_equal(table[np.clip(rel, -128, 128) + 128], direct)
    assert direct.min() == 0 and direct.max() == 31
