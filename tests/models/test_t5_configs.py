"""Named sizes, parameter counts and the gin files of gin_configs/models/."""

from pathlib import Path

import gin
import pytest

from text2tracks_jax import cli
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


def _gin_model_config(gin_files, bindings=()):
  """%MODEL_CONFIG after parsing `gin_files` as the CLI does (includes resolve
  from the repository root)."""
  args = type("Args", (), {"gin_file": list(gin_files), "gin_bindings": list(bindings)})()
  gin.clear_config()
  try:
    cli.parse_gin(args)
    return gin.query_parameter("%MODEL_CONFIG").scoped_configurable_fn()
  finally:
    gin.clear_config()


@pytest.mark.parametrize("size", configs.SIZES)
def test_gin_file_binds_the_named_size(size):
  assert _gin_model_config([str(GIN_DIR / f"{size}.gin")]) == configs.get_config(size)


@pytest.mark.parametrize("size", configs.SIZES)
def test_gin_macros_override(size):
  cfg = _gin_model_config(
      [str(GIN_DIR / f"{size}.gin")],
      ["VOCAB_SIZE = 8320", "ACTIVATION_DTYPE = 'bfloat16'", "DROPOUT_RATE = 0.0",
       "REMAT_POLICY = 'full'"])
  assert cfg == configs.get_config(size, vocab_size=8320, dtype="bfloat16", dropout_rate=0.0,
                                   remat_policy="full")


def test_a_later_size_file_replaces_an_earlier_one():
  # docs/scaling.md: train_tiny.gin (which includes tiny.gin), then another size.
  cfg = _gin_model_config([str(GIN_DIR.parents[0] / "runs" / "train_tiny.gin"),
                           str(GIN_DIR / "xl.gin")], ["DROPOUT_RATE = 0.0"])
  assert cfg == configs.xl(dropout_rate=0.0)


def test_gin_bindings_leave_python_calls_alone():
  # Dynamic registration configures only gin's references to get_config.
  args = type("Args", (), {"gin_file": [str(GIN_DIR / "tiny.gin")], "gin_bindings": []})()
  gin.clear_config()
  try:
    cli.parse_gin(args)
    assert configs.get_config("small") == configs.small()
  finally:
    gin.clear_config()


def test_common_gin_alone_names_no_size():
  with pytest.raises(Exception, match="size"):
    _gin_model_config([str(GIN_DIR / "common.gin")])


def test_config_validation():
  with pytest.raises(ValueError, match="dtype"):
    configs.tiny(dtype="float64")
  with pytest.raises(ValueError, match="remat_policy"):
    configs.tiny(remat_policy="sometimes")
  with pytest.raises(ValueError, match="unknown model size"):
    configs.get_config("huge")
  assert configs.tiny(vocab_size=None, dropout_rate=None) == configs.tiny()  # gin's None macros
  assert hash(configs.tiny(dropout_broadcast_dims=[-2])) == hash(
      configs.tiny(dropout_broadcast_dims=(-2,)))
