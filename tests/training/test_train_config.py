"""`train()` and `TrainConfig` share one set of defaults (TrainConfig's), and
every trainer setting is a `train.<name>` gin binding."""

import dataclasses
import inspect

import gin

from text2tracks_jax.training import train as train_lib
from text2tracks_jax.training.trainer import TrainConfig


def test_every_trainer_setting_is_a_train_argument_with_its_default():
  params = inspect.signature(train_lib.train).parameters
  for field in dataclasses.fields(TrainConfig):
    assert field.name in params, f"train() lacks TrainConfig.{field.name}"
    assert params[field.name].default == field.default, field.name


def test_checkpoint_every_steps_default_is_the_documented_one():
  # docs/scaling.md: "the default 1000 steps".
  assert TrainConfig().checkpoint_every_steps == 1000


def test_async_checkpoints_is_a_gin_binding():
  gin.clear_config()
  try:
    gin.parse_config(["train.async_checkpoints = False", "train.checkpoint_every_steps = 7"])
    bindings = gin.get_bindings(train_lib.train)
  finally:
    gin.clear_config()
  assert bindings["async_checkpoints"] is False and bindings["checkpoint_every_steps"] == 7
