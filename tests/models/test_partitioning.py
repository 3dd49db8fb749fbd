"""The logical axis rules take effect where the model is traced: the train
step and beam search, on 8 fake CPU devices with a 2 (data) x 4 (model) mesh.

The programs are compiled by partitioning_driver.py in a fresh process (the
fake device count is fixed when JAX starts); the tests read its report.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import pytest

from text2tracks_jax.models import partitioning

DRIVER = str(Path(__file__).with_name("partitioning_driver.py"))
ROOT = str(Path(__file__).resolve().parents[2])
MODEL_SHARDED = "('data', None, 'model')"  # [B, T, features]: batch over data, features over model


@pytest.fixture(scope="module")
def report(tmp_path_factory):
  out = tmp_path_factory.mktemp("partitioning") / "report.json"
  env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
  env.pop("XLA_FLAGS", None)
  proc = subprocess.run([sys.executable, DRIVER, str(out)], env=env, capture_output=True,
                        text=True, timeout=600)
  if proc.returncode != 0:
    raise AssertionError(f"driver failed ({proc.returncode}):\n{proc.stdout}\n"
                         f"{proc.stderr[-3000:]}")
  return json.loads(out.read_text())


def test_train_step_is_traced_under_the_rules(report):
  # One constraint per activation the network names (attention, MLP, residual,
  # logits), forward and backward: none if the rules are not entered.
  assert report["train_2x4"]["model_constraints"] >= 10
  assert report["train_2x4"]["mlp_hidden"] == [MODEL_SHARDED]
  assert report["train_2x4"]["residual"] == ["('data',)"]  # embed replicated (1-D rules)


def test_model_partitioning_divides_per_device_temp_memory(report):
  # Same per-device batch (data = 2): splitting the model 4 ways must at least
  # halve the step's temporaries (measured: 5.8 MB -> 2.7 MB).
  assert report["train_2x1"]["mlp_hidden"] == ["('data',)"]
  assert report["train_2x4"]["temp_bytes"] <= 0.5 * report["train_2x1"]["temp_bytes"]


def test_2d_activation_rules_shard_the_residual_stream_and_save_memory(report):
  two_d = report["train_2x4_2d_activations"]
  assert two_d["residual"] == [MODEL_SHARDED]
  assert two_d["mlp_hidden"] == [MODEL_SHARDED]
  assert two_d["temp_bytes"] < 0.8 * report["train_2x4"]["temp_bytes"]


def test_beam_search_is_traced_under_the_rules(report):
  # Replicated params, queries over `data`: left to XLA, the MLP hidden state
  # stays replicated over `model`; the rules split it, and the results match
  # the unsharded search.
  decode = report["decode_2x4"]
  assert decode["mlp_hidden"] == [MODEL_SHARDED]
  assert decode["same_as_unsharded"]


def test_rules_and_mesh():
  rules = partitioning.standard_logical_axis_rules()
  assert dict(rules)["batch"] == "data" and dict(rules)["mlp"] == "model"
  assert ("embed", "model") in partitioning.standard_logical_axis_rules(
      activation_partitioning_dims=2)
  hash(rules)  # a static jit argument
  with pytest.raises(ValueError):
    partitioning.standard_logical_axis_rules(activation_partitioning_dims=3)
  mesh = partitioning.create_mesh(1, jax.devices()[:1])
  assert mesh.axis_names == ("data", "model") and mesh.devices.shape == (1, 1)
  with pytest.raises(ValueError, match="cannot be split"):
    partitioning.create_mesh(3, jax.devices()[:1] * 2)
