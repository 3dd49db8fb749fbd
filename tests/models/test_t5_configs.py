"""Named sizes, parameter counts and the gin files of gin_configs/models/."""

from pathlib import Path

import gin
import pytest

from text2tracks_jax.models import configs, network

GIN_DIR = Path(__file__).resolve().parents[2] / "gin_configs" / "models"


def _count(size, **overrides):
  model = network.T5Model(configs.get_config(size, **overrides))
  return network.num_params(network.abstract_params(model))


def test_flan_t5_parameter_counts_from_shapes():
  # google/flan-t5-small has 76,961,152 and flan-t5-base 247,577,856 parameters.
  assert _count("small") == 76_961_152
  assert _count("base") == 247_577_856


def test_tiny_shapes():
  cfg = configs.tiny()
  assert (cfg.d_model, cfg.num_encoder_layers, cfg.num_decoder_layers, cfg.num_heads,
          cfg.d_kv, cfg.d_ff, cfg.vocab_size) == (128, 2, 2, 4, 32, 512, 8192)
  assert cfg.inner_dim == 128


@pytest.mark.parametrize("size", configs.SIZES)
def test_gin_file_binds_the_named_size(size):
  gin.clear_config()
  try:
    gin.parse_config_files_and_bindings([str(GIN_DIR / f"{size}.gin")], [])
    cfg = gin.query_parameter("%MODEL_CONFIG").scoped_configurable_fn()
  finally:
    gin.clear_config()
  assert cfg == configs.get_config(size)


def test_gin_macros_override():
  gin.clear_config()
  try:
    gin.parse_config_files_and_bindings(
        [str(GIN_DIR / "tiny.gin")],
        ["VOCAB_SIZE = 8320", "ACTIVATION_DTYPE = 'bfloat16'", "DROPOUT_RATE = 0.0"])
    cfg = gin.query_parameter("%MODEL_CONFIG").scoped_configurable_fn()
  finally:
    gin.clear_config()
  assert cfg == configs.tiny(vocab_size=8320, dtype="bfloat16", dropout_rate=0.0)


def test_config_validation():
  with pytest.raises(ValueError, match="dtype"):
    configs.tiny(dtype="float64")
  with pytest.raises(ValueError, match="remat_policy"):
    configs.tiny(remat_policy="sometimes")
  with pytest.raises(ValueError, match="unknown model size"):
    configs.get_config("huge")
  assert hash(configs.tiny(dropout_broadcast_dims=[-2])) == hash(
      configs.tiny(dropout_broadcast_dims=(-2,)))
