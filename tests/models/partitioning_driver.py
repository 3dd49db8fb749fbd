"""Compiles a train step and a beam search on 8 fake CPU devices (a fresh
process: the device count is fixed at JAX's start) for test_partitioning.py.

usage: python partitioning_driver.py OUT_JSON

Writes, per compiled program: how many sharding constraints name the `model`
axis in the lowered program, the sharding the compiler chose for the MLP
hidden state (the input of each `mlp/wo`) and for the residual stream (the
input of each `pre_mlp_layer_norm`), and the per-device temp bytes
(`compiled.memory_analysis()`); for decoding, also whether the results equal
those of an unsharded search.
"""

import json
import os
import sys
import tempfile

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import flax.linen as nn  # pylint: disable=wrong-import-position
import jax  # pylint: disable=wrong-import-position
import jax.numpy as jnp  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from text2tracks_jax.decoding import generation  # pylint: disable=wrong-import-position
from text2tracks_jax.models import configs, network, partitioning  # pylint: disable=wrong-import-position
from text2tracks_jax.training import optimizers, trainer  # pylint: disable=wrong-import-position

BATCH, INPUTS, TARGETS = 16, 32, 8
CONFIG = configs.get_config("tiny", vocab_size=512, d_model=64, d_ff=256, num_heads=4, d_kv=16,
                            num_encoder_layers=1, num_decoder_layers=1)


class ShardingProbe:
  """Records, at compile time, the sharding XLA chose for the inputs of
  modules named `wo` (MLP hidden [B, T, mlp]) and `pre_mlp_layer_norm`
  (residual stream [B, T, embed]); use the instance as the interceptor of
  `nn.intercept_methods` while tracing."""

  def __init__(self):
    self.specs = {}

  def __call__(self, next_fun, args, kwargs, context):
    name = context.module.name
    if context.method_name == "__call__" and name in ("wo", "pre_mlp_layer_norm"):
      path = "/".join(context.module.scope.path)
      jax.debug.inspect_array_sharding(
          args[0], callback=lambda s, path=path: self.specs.setdefault(path, _spec(s)))
    return next_fun(*args, **kwargs)

  def summary(self):
    """{"mlp_hidden": [specs of every wo input], "residual": [...]}, sorted, unique."""
    out = {"mlp_hidden": set(), "residual": set()}
    for path, spec in self.specs.items():
      out["mlp_hidden" if path.endswith("/wo") else "residual"].add(spec)
    return {k: sorted(v) for k, v in out.items()}


def _spec(sharding) -> str:
  """A NamedSharding's spec as text, e.g. "('data', None, 'model')" (GSPMD
  shardings, with no mesh axis names, become "replicated" or their text)."""
  if sharding.is_fully_replicated:
    return "replicated"
  spec = getattr(sharding, "spec", None)
  return str(tuple(spec)) if spec is not None else str(sharding)


def _model_constraints(lowered) -> int:
  """Sharding constraints naming the `model` axis in the lowered program."""
  return sum(1 for line in lowered.as_text().splitlines()
             if "sharding_constraint" in line and '"model"' in line)


def train_step(mesh, rules=None) -> dict:
  model = network.T5Model(CONFIG)
  opt = optimizers.create_optimizer(optimizers.learning_rate_schedule(10))
  t = trainer.Trainer(model, opt, tempfile.mkdtemp(),
                      trainer.TrainConfig(batch_size=BATCH, async_checkpoints=False),
                      mesh=mesh, rules=rules)
  sharding = partitioning.batch_sharding(mesh)
  batch = {k: jax.ShapeDtypeStruct((BATCH, n), jnp.int32, sharding=sharding)
           for k, n in (("encoder_input_tokens", INPUTS), ("decoder_input_tokens", TARGETS),
                        ("decoder_target_tokens", TARGETS))}
  batch["decoder_loss_weights"] = jax.ShapeDtypeStruct((BATCH, TARGETS), jnp.float32,
                                                       sharding=sharding)
  probe = ShardingProbe()
  with nn.intercept_methods(probe):
    lowered = t._step_fn.lower(t.abstract_state, batch, None)  # pylint: disable=protected-access
  compiled = lowered.compile()
  t.close()
  return {"model_constraints": _model_constraints(lowered), **probe.summary(),
          "temp_bytes": int(compiled.memory_analysis().temp_size_in_bytes)}


def decode(mesh) -> dict:
  """Beam search with replicated params (as inference places them) and the
  queries split over `data`: only the rules can put `model` in the layouts."""
  model = network.T5Model(CONFIG)
  params = network.init_params(model, jax.random.key(0))
  tokens = np.random.default_rng(0).integers(2, CONFIG.vocab_size, (8, 12)).astype(np.int32)
  kwargs = dict(num_beams=4, num_beam_groups=2, diversity_penalty=0.5, max_new_tokens=4)
  reference = generation.generate(model, params, tokens, **kwargs)
  sharded_params = jax.device_put(params, partitioning.replicated(mesh))
  sharded_tokens = jax.device_put(tokens, partitioning.batch_sharding(mesh))
  probe = ShardingProbe()
  with nn.intercept_methods(probe):
    out = generation.generate(model, sharded_params, sharded_tokens, mesh=mesh, **kwargs)
  same = (np.array_equal(np.asarray(out.sequences), np.asarray(reference.sequences))
          and np.allclose(np.asarray(out.scores), np.asarray(reference.scores), atol=1e-4))
  return {**probe.summary(), "same_as_unsharded": bool(same)}


def main():
  devices = jax.devices()
  assert len(devices) == 8, devices
  data_model = partitioning.create_mesh(4)  # 2 x 4
  result = {
      "train_2x1": train_step(partitioning.create_mesh(1, devices[:2])),
      "train_2x4": train_step(data_model),
      "train_2x4_2d_activations": train_step(
          data_model, partitioning.standard_logical_axis_rules(activation_partitioning_dims=2)),
      "decode_2x4": decode(data_model),
  }
  with open(sys.argv[1], "w") as f:
    json.dump(result, f, indent=2)
  print(json.dumps(result, indent=2))


if __name__ == "__main__":
  main()
