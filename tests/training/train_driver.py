"""Runs a small training job for the trainer tests (in a fresh process).

usage: python train_driver.py WORKDIR [--devices N] [--partitions M] [--steps S]
         [--lr LR] [--checkpoint-every K] [--sleep-per-step SECONDS]

Writes WORKDIR/result.json: the per-step losses and a digest of the final
params; the trainer's progress lines go to stderr (`logs.configure`, as the
CLI's). Multi-process settings come from T2T_* environment variables.
"""

import argparse
import json
import os
import sys
import time

p = argparse.ArgumentParser()
p.add_argument("workdir")
p.add_argument("--devices", type=int, default=1)
p.add_argument("--partitions", type=int, default=1)
p.add_argument("--steps", type=int, default=12)
p.add_argument("--lr", type=float, default=3e-3)
p.add_argument("--checkpoint-every", type=int, default=1000)
p.add_argument("--sleep-per-step", type=float, default=0.0)
p.add_argument("--optimizer", default="adamw")
args = p.parse_args()
os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={args.devices}"

from text2tracks_jax import logs  # pylint: disable=wrong-import-position
from text2tracks_jax.training import distributed  # pylint: disable=wrong-import-position
logs.configure()
distributed.initialize()

import jax  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from text2tracks_jax.models import configs, network, partitioning  # pylint: disable=wrong-import-position
from text2tracks_jax.training import optimizers, trainer  # pylint: disable=wrong-import-position
from text2tracks_jax.training.input_pipeline import TokenizedExamples  # pylint: disable=wrong-import-position


def examples(n=96, s=10, t=4, vocab=64, seed=0):
  rng = np.random.default_rng(seed)
  inputs = rng.integers(2, vocab, (n, s)).astype(np.int32)
  inputs[:, 7:] *= rng.random((n, 3)) < 0.5  # some padding
  targets = rng.integers(2, vocab, (n, t)).astype(np.int32)
  targets[:, -1] = 1  # EOS
  return TokenizedExamples(inputs, targets)


cfg = configs.get_config("tiny", vocab_size=64, d_model=32, d_ff=64, num_heads=2, d_kv=16,
                         dropout_rate=0.1)
model = network.T5Model(cfg)
schedule = optimizers.learning_rate_schedule(args.steps, learning_rate=args.lr, warmup_steps=2)
optimizer = optimizers.create_optimizer(schedule, name=args.optimizer)
losses = {}


t = trainer.Trainer(model, optimizer, args.workdir,
                    trainer.TrainConfig(batch_size=16, seed=0, log_every_steps=1,
                                        checkpoint_every_steps=args.checkpoint_every),
                    mesh=partitioning.create_mesh(args.partitions))
orig = t._write  # pylint: disable=protected-access


def record(step, scalars):
  losses[step] = scalars["loss"]
  if args.sleep_per_step:
    time.sleep(args.sleep_per_step)
  orig(step, scalars)


t._write = record  # pylint: disable=protected-access
try:
  state = t.fit(examples(), args.steps, schedule)
except trainer.NonFiniteLossError as e:
  print(f"NONFINITE: {e}", flush=True)
  t.close()
  sys.exit(3)
params = jax.tree.map(lambda x: np.asarray(jax.device_get(x)).astype(np.float64),
                      jax.experimental.multihost_utils.process_allgather(state["params"], tiled=True)
                      if jax.process_count() > 1 else state["params"])
leaves = jax.tree.leaves(params)
digest = [float(np.sum(x)) for x in leaves] + [float(np.sum(np.abs(x))) for x in leaves]
t.close()
if jax.process_index() == 0:
  with open(os.path.join(args.workdir, "result.json"), "w") as f:
    json.dump({"losses": losses, "digest": digest, "devices": jax.device_count(),
               "processes": jax.process_count()}, f)
