"""The pretrained BERT encoder (all-MiniLM-L6-v2) against Hugging Face's
BertModel, and the frozen-encoder training it allows."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
import transformers

from text2tracks_jax.models import bert, configs, network
from text2tracks_jax.training import optimizers

TOKENS = np.array([[101, 2023, 2003, 1037, 3231, 102, 0, 0],
                   [101, 5890, 21209, 2015, 102, 0, 0, 0]], np.int32)


@pytest.fixture(scope="module")
def checkpoint():
  return bert.load_checkpoint("minilm")


def test_encoder_outputs_equal_hugging_face_bert(checkpoint):
  reference = transformers.BertModel.from_pretrained(
      str(bert.default_checkpoint_dir()), local_files_only=True, add_pooling_layer=False).eval()
  with torch.no_grad():
    want = reference(input_ids=torch.tensor(TOKENS, dtype=torch.long),
                     attention_mask=torch.tensor(TOKENS > 0, dtype=torch.long)
                     ).last_hidden_state.numpy()
  got = bert.BertEncoder(bert.encoder_config("minilm")).apply(
      {"params": checkpoint}, jnp.asarray(TOKENS))
  real = TOKENS > 0  # padded positions attend like HF's too, but nothing reads them
  np.testing.assert_allclose(np.asarray(got)[real], want[real], atol=2e-5)


def test_a_checkpoint_of_another_shape_is_refused(tmp_path):
  d = bert.default_checkpoint_dir()
  (tmp_path / "config.json").write_text(
      (d / "config.json").read_text().replace('"num_hidden_layers": 6', '"num_hidden_layers": 12'))
  with pytest.raises(ValueError, match="num_hidden_layers 12 \\(expected 6\\)"):
    bert.load_checkpoint("minilm", str(tmp_path))


def _model(frozen):
  cfg = configs.get_config("tiny", encoder="minilm", frozen_encoder_layers=frozen,
                           vocab_size=512, dropout_rate=0.0)
  model = network.T5Model(cfg)
  return cfg, model, network.warm_start(cfg, network.init_params(model, jax.random.key(0)))


def _loss(model, params):
  targets = jnp.array([[5, 6, 1], [7, 1, 0]], jnp.int32)
  inputs = jnp.pad(targets, ((0, 0), (1, 0)))[:, :-1]
  logits = model.apply({"params": params}, jnp.asarray(TOKENS), inputs, targets,
                       enable_dropout=False)
  return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()


def test_warm_start_puts_the_checkpoint_in_the_encoder(checkpoint):
  _, _, params = _model(0)
  for a, b in zip(jax.tree.leaves(params["encoder"]["bert"]), jax.tree.leaves(checkpoint)):
    np.testing.assert_array_equal(np.asarray(a), b)
  assert set(params["encoder"]) == {"bert", "projection", "encoder_norm"}


@pytest.mark.parametrize("frozen", [0, 4, 6])
def test_gradients_reach_exactly_the_trainable_part(frozen):
  cfg, model, params = _model(frozen)
  grads = jax.grad(lambda p: _loss(model, p))(params)
  mask = network.trainable_mask(cfg, params)
  flat = jax.tree_util.tree_flatten_with_path(grads)[0]
  for (path, g), trained in zip(flat, jax.tree.leaves(mask)):
    name = "/".join(str(getattr(k, "key", k)) for k in path)
    layer = next((int(k.key.split("_")[1]) for k in path
                  if str(getattr(k, "key", "")).startswith("layers_")), None)
    in_bert = "bert" in name
    expect = not in_bert or (frozen == 0) or (layer is not None and layer >= frozen)
    assert trained == expect, name
    if in_bert and not expect:
      assert not np.any(np.asarray(g)), f"{name} gets a gradient though frozen"
  top = grads["encoder"]["bert"]["layers_5"]["wo"]["kernel"]
  assert bool(np.any(np.asarray(top))) == (frozen < 6)


def test_frozen_optimizer_leaves_the_encoder_and_trains_the_rest():
  cfg, model, params = _model(6)
  opt = optimizers.freeze(optimizers.create_optimizer(optax.constant_schedule(1e-2), "adafactor"),
                          network.trainable_mask(cfg, params))
  state = opt.init(params)
  grads = jax.grad(lambda p: _loss(model, p))(params)
  updates, _ = opt.update(grads, state, params)
  new = optax.apply_updates(params, updates)
  for a, b in zip(jax.tree.leaves(params["encoder"]["bert"]),
                  jax.tree.leaves(new["encoder"]["bert"])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), params["decoder"], new["decoder"])
  assert all(jax.tree.leaves(moved))
  assert float(_loss(model, new)) < float(_loss(model, params))
  # No optimizer state for the 22M frozen parameters.
  sizes = sum(np.size(x) for x in jax.tree.leaves(state))
  assert sizes < network.num_params(params["decoder"]) * 2


def test_config_refuses_an_unknown_encoder():
  with pytest.raises(ValueError, match="T5Config.encoder"):
    configs.get_config("tiny", encoder="bert-large")
