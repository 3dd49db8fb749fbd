"""Hugging Face import: a random tiny T5ForConditionalGeneration, saved both
as safetensors and as pytorch_model.bin, gives our model the same numbers."""

import functools
import json
import os

os.environ.setdefault("USE_TF", "0")

import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import pytest  # pylint: disable=wrong-import-position

from text2tracks_jax.models import hf_import, network  # pylint: disable=wrong-import-position

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

HF_CONFIG = dict(vocab_size=128, d_model=64, d_kv=16, d_ff=96, num_layers=2,
                 num_decoder_layers=3, num_heads=4, feed_forward_proj="gated-gelu",
                 tie_word_embeddings=False, dropout_rate=0.0, decoder_start_token_id=0,
                 pad_token_id=0, eos_token_id=1)


def _random_hf_model(seed=0):
  torch.manual_seed(seed)
  model = transformers.T5ForConditionalGeneration(transformers.T5Config(**HF_CONFIG)).eval()
  # HF's init makes the relative position bias tiny; make every part matter.
  with torch.no_grad():
    for name, p in model.named_parameters():
      if "layer_norm" in name:
        p.copy_(1.0 + 0.2 * torch.randn_like(p))
      elif "relative_attention_bias" in name or name == "shared.weight":
        p.normal_(0.0, 1.0)
      else:
        p.normal_(0.0, 0.1)
  return model


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
  """The model is tiny; idle torch threads spinning against XLA's cost seconds."""
  threads = torch.get_num_threads()
  torch.set_num_threads(1)
  yield
  torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def hf_model():
  return _random_hf_model()


@pytest.fixture(scope="module")
def saved(hf_model, tmp_path_factory):
  safetensors_dir = tmp_path_factory.mktemp("hf_safetensors")
  bin_dir = tmp_path_factory.mktemp("hf_bin")
  hf_model.save_pretrained(safetensors_dir, safe_serialization=True)
  hf_model.save_pretrained(bin_dir, safe_serialization=False)
  assert (safetensors_dir / "model.safetensors").is_file()
  assert (bin_dir / "pytorch_model.bin").is_file()
  return safetensors_dir, bin_dir


@pytest.fixture(scope="module")
def imported(saved):
  config, params = hf_import.load_hf_checkpoint(saved[0])
  model = network.T5Model(config)
  return model, params, jax.jit(lambda p, e, d: model.apply({"params": p}, e, d,
                                                            enable_dropout=False))


def _inputs(seed=0, batch=3, src=40, tgt=20):
  rng = np.random.default_rng(seed)
  enc = rng.integers(2, 128, (batch, src))
  enc[1, 25:] = 0
  enc[2, 5:] = 0
  dec = rng.integers(2, 128, (batch, tgt))
  dec[:, 0] = 0  # decoder_start_token_id = 0: T5X's shifted-right inputs
  dec[1, 12:] = 0
  return enc, dec


def _hf_forward(hf_model, enc, dec):
  with torch.no_grad():
    out = hf_model(input_ids=torch.tensor(enc), attention_mask=torch.tensor(enc > 0).long(),
                   decoder_input_ids=torch.tensor(dec))
  return out.encoder_last_hidden_state.numpy(), out.logits.numpy()


def test_config_read_from_config_json(imported):
  config = imported[0].config
  assert (config.vocab_size, config.d_model, config.d_kv, config.d_ff, config.num_heads,
          config.num_encoder_layers, config.num_decoder_layers) == (128, 64, 16, 96, 4, 2, 3)
  assert config.relative_attention_num_buckets == 32
  assert config.relative_attention_max_distance == 128


def test_safetensors_import_matches_hf_logits(hf_model, imported):
  model, params, forward = imported
  enc, dec = _inputs()
  hf_encoded, hf_logits = _hf_forward(hf_model, enc, dec)
  encoded = jax.jit(lambda p, e: model.apply({"params": p}, e, enable_dropout=False,
                                             method=model.encode))(params, enc)
  np.testing.assert_allclose(encoded, hf_encoded, atol=1e-4, rtol=0)
  np.testing.assert_allclose(forward(params, enc, dec), hf_logits, atol=1e-4, rtol=0)


def test_pytorch_bin_import_is_identical(hf_model, saved, imported):
  _, params, forward = imported
  config, bin_params = hf_import.load_hf_checkpoint(saved[1])
  assert config == imported[0].config
  for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(bin_params)):
    np.testing.assert_array_equal(a, b)
  assert jax.tree.structure(params) == jax.tree.structure(bin_params)
  enc, dec = _inputs(seed=1)
  np.testing.assert_allclose(forward(bin_params, enc, dec), _hf_forward(hf_model, enc, dec)[1],
                             atol=1e-4, rtol=0)


def test_cached_decoding_matches_hf_incremental_decoding(hf_model, imported):
  model, params, _ = imported
  enc, dec = _inputs(seed=2, tgt=20)
  dec[1, 12:] = 5  # no padding inside a generated sequence
  attention_mask = torch.tensor(enc > 0).long()
  with torch.no_grad():
    encoder_outputs = hf_model.get_encoder()(input_ids=torch.tensor(enc),
                                             attention_mask=attention_mask)
    past, hf_steps = None, []
    for i in range(dec.shape[1]):
      out = hf_model(encoder_outputs=encoder_outputs, attention_mask=attention_mask,
                     decoder_input_ids=torch.tensor(dec[:, i:i + 1]), past_key_values=past,
                     use_cache=True)
      past = out.past_key_values
      hf_steps.append(out.logits.numpy())
  encoded = jax.jit(lambda p, e: model.apply({"params": p}, e, enable_dropout=False,
                                             method=model.encode))(params, enc)
  cache = jax.jit(functools.partial(network.init_decode_cache, model),
                  static_argnums=3)(params, encoded, enc, dec.shape[1])
  step = jax.jit(functools.partial(network.decode_step, model))
  for i in range(dec.shape[1]):
    logits, cache = step(params, cache, dec[:, i:i + 1])
    np.testing.assert_allclose(logits, hf_steps[i], atol=1e-4, rtol=0, err_msg=f"step {i}")


def test_sharded_safetensors_and_export_round_trip(hf_model, imported, tmp_path):
  hf_model.save_pretrained(tmp_path, safe_serialization=True, max_shard_size="100KB")
  index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
  assert len(set(index["weight_map"].values())) > 1
  _, sharded = hf_import.load_hf_checkpoint(tmp_path)
  for a, b in zip(jax.tree.leaves(imported[1]), jax.tree.leaves(sharded)):
    np.testing.assert_array_equal(a, b)
  exported = hf_import.hf_state_dict_from_params(sharded, imported[0].config)
  state = {k: v.numpy() for k, v in hf_model.state_dict().items()}
  assert set(exported) == set(state) - {"encoder.embed_tokens.weight",
                                        "decoder.embed_tokens.weight"}
  for name, value in exported.items():
    np.testing.assert_array_equal(value, state[name], err_msg=name)


def test_bfloat16_safetensors_are_read_without_torch_pickles(tmp_path):
  from safetensors.torch import save_file  # pylint: disable=import-outside-toplevel
  tensors = {"a": torch.randn(3, 5).bfloat16(), "b": torch.randn(4).half(),
             "c": torch.arange(6, dtype=torch.int64).reshape(2, 3)}
  save_file(tensors, str(tmp_path / "model.safetensors"))
  state = hf_import.load_hf_state_dict(tmp_path)
  np.testing.assert_array_equal(state["a"].astype(np.float32), tensors["a"].float().numpy())
  np.testing.assert_array_equal(state["b"], tensors["b"].numpy())
  np.testing.assert_array_equal(state["c"], tensors["c"].numpy())


@pytest.mark.parametrize("change, message", [
    (dict(feed_forward_proj="relu"), "feed_forward_proj"),
    (dict(tie_word_embeddings=True), "tie_word_embeddings"),
    (dict(model_type="umt5"), "model_type"),
])
def test_unsupported_configs_are_refused(change, message):
  config = {**HF_CONFIG, "model_type": "t5", **change}
  with pytest.raises(hf_import.UnsupportedCheckpointError, match=message):
    hf_import.config_from_hf(config)


def test_missing_and_unexpected_weights_are_refused(saved, tmp_path):
  config = hf_import.load_hf_config(saved[0])
  state = hf_import.load_hf_state_dict(saved[0])
  broken = dict(state)
  del broken["decoder.block.2.layer.1.EncDecAttention.k.weight"]
  broken["encoder.block.0.layer.0.SelfAttention.q.bias"] = np.zeros(64, np.float32)
  with pytest.raises(hf_import.UnsupportedCheckpointError, match="missing 1.*unexpected 1"):
    hf_import.params_from_hf_state_dict(broken, config)
  with pytest.raises(hf_import.UnsupportedCheckpointError, match="wrong shapes"):
    hf_import.params_from_hf_state_dict(state, config.replace(d_ff=128))
  with pytest.raises(FileNotFoundError, match="model.safetensors"):
    hf_import.load_hf_state_dict(tmp_path)


def test_load_pretrained_reads_hf_directories(saved, imported):
  from text2tracks_jax.models import load_pretrained  # pylint: disable=import-outside-toplevel
  config, params = load_pretrained(saved[0], dtype="bfloat16")
  assert config == imported[0].config.replace(dtype="bfloat16")
  assert jax.tree.structure(params) == jax.tree.structure(imported[1])
