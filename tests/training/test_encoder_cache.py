"""Training from cached frozen-encoder states is training from the tokens."""

import jax
import numpy as np
import optax
import pytest

from text2tracks_jax.models import configs, network
from text2tracks_jax.training import encoder_cache
from text2tracks_jax.training.trainer import TrainConfig, Trainer


@pytest.mark.parametrize("frozen", [4, 6])
def test_loss_and_gradients_from_cached_states_equal_the_full_encoder(frozen, tmp_path):
  cfg = configs.get_config("tiny", encoder="minilm", frozen_encoder_layers=frozen,
                           vocab_size=256, dropout_rate=0.1)
  model = network.T5Model(cfg)
  params = network.warm_start(cfg, network.init_params(model, jax.random.key(0)))
  rng = np.random.default_rng(0)
  queries = rng.integers(1000, 5000, size=(5, 8)).astype(np.int32)
  queries[:, 0], queries[:, -2:] = 101, 0  # [CLS] ... padding
  inputs = queries[rng.integers(0, 5, size=16)]  # repeated queries, as in a train set
  targets = rng.integers(2, 256, size=(16, 3)).astype(np.int32)
  targets[:, -1] = 1
  cache = encoder_cache.EncoderStateCache(model, params, inputs, batch_size=4)
  assert cache.states.shape == (5, 8, 384)
  trainer = Trainer(model, optax.sgd(0.1), tmp_path, TrainConfig(batch_size=16))
  batch = {"encoder_input_tokens": inputs, "decoder_target_tokens": targets,
           "decoder_input_tokens": np.pad(targets, ((0, 0), (1, 0)))[:, :-1],
           "decoder_loss_weights": np.ones(targets.shape, np.float32)}
  cached = {**batch, "encoder_states": cache.states_for(inputs)}
  key = jax.random.key(3)  # dropout on: the trained layers and decoder draw the same masks
  loss_fn = lambda p, b: trainer._loss(p, b, key, None, True)[0]  # pylint: disable=protected-access
  full, g_full = jax.value_and_grad(loss_fn)(params, batch)
  fast, g_fast = jax.value_and_grad(loss_fn)(params, cached)
  np.testing.assert_allclose(float(fast), float(full), rtol=1e-5)
  for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_full)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, rtol=1e-4)
  with pytest.raises(ValueError, match="not built for"):
    cache.states_for(np.ones((1, 8), np.int32))


def test_only_models_with_a_frozen_pretrained_part_use_the_cache():
  assert not encoder_cache.applies(configs.get_config("tiny"))
  assert not encoder_cache.applies(configs.get_config("tiny", encoder="minilm"))
  assert encoder_cache.applies(configs.get_config("tiny", encoder="minilm",
                                                  frozen_encoder_layers=2))
