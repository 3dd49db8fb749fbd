"""Per-device memory of a sharded train step: with and without model partitioning.

The project's `Trainer` step is compiled (not run) on 8 fake CPU devices for a
`data` x `model` mesh with the same 2 data rows (so the same per-device batch)
and 1, 2 or 4 model partitions, under the standard (1-D) logical axis rules and
with `activation_partitioning_dims=2`; `compiled.memory_analysis()` gives the
per-device temp (activations and other temporaries) and argument (params,
optimizer state, batch) bytes. Global batch 64, inputs 64, targets 8 (the
paper's batch, a semantic ID's length). Target: temp bytes at most 0.75x the
unsplit step's with k = 2 model partitions and 0.5x with k = 4 (where the heads
divide); not 1/k, as the residual stream and the per-token losses are not split
over `model` under the 1-D rules.

  python -m benchmarks.run sharded_step_memory [--quick]   # --quick: tiny only
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
BATCH, INPUTS, TARGETS = 64, 64, 8


def _worker(size: str) -> dict:
  """Runs in a process started with 8 fake CPU devices."""
  import tempfile  # pylint: disable=import-outside-toplevel

  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel

  from text2tracks_jax.models import configs, network, partitioning  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers, trainer  # pylint: disable=import-outside-toplevel

  config = configs.get_config(size)
  model = network.T5Model(config)
  optimizer = optimizers.create_optimizer(optimizers.learning_rate_schedule(10))
  rows = []
  for partitions in (1, 2, 4):
    if config.num_heads % partitions:
      continue
    for dims in ((1, 2) if partitions > 1 else (1,)):
      mesh = partitioning.create_mesh(partitions, jax.devices()[:2 * partitions])
      rules = partitioning.standard_logical_axis_rules(activation_partitioning_dims=dims)
      t = trainer.Trainer(model, optimizer, tempfile.mkdtemp(),
                          trainer.TrainConfig(batch_size=BATCH, async_checkpoints=False),
                          mesh=mesh, rules=rules)
      sharding = partitioning.batch_sharding(mesh)
      batch = {k: jax.ShapeDtypeStruct((BATCH, n), dtype, sharding=sharding)
               for k, n, dtype in (("encoder_input_tokens", INPUTS, jnp.int32),
                                   ("decoder_input_tokens", TARGETS, jnp.int32),
                                   ("decoder_target_tokens", TARGETS, jnp.int32),
                                   ("decoder_loss_weights", TARGETS, jnp.float32))}
      memory = t._step_fn.lower(t.abstract_state, batch, None).compile().memory_analysis()  # pylint: disable=protected-access
      t.close()
      rows.append({"mesh": f"2x{partitions}", "activation_partitioning_dims": dims,
                   "temp_mib": round(memory.temp_size_in_bytes / 2**20, 1),
                   "argument_mib": round(memory.argument_size_in_bytes / 2**20, 1)})
  return {"size": size, "batch": BATCH, "inputs": INPUTS, "targets": TARGETS, "rows": rows}


def measure(size: str) -> dict:
  env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3",
         "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  out = subprocess.run([sys.executable, "-m", "benchmarks.bench_sharding", size],
                       capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def sharded_step_memory(workdir: Path, quick: bool) -> dict:
  del workdir
  results = [measure(size) for size in (("tiny",) if quick else ("tiny", "small"))]
  targets, headline = [], {}
  for r in results:
    unsplit = next(row["temp_mib"] for row in r["rows"] if row["mesh"] == "2x1")
    for row in r["rows"]:
      headline[f"{r['size']} {row['mesh']} act{row['activation_partitioning_dims']}d temp MiB"] = (
          row["temp_mib"])
      if row["mesh"] != "2x1" and row["activation_partitioning_dims"] == 1:
        bound = {"2x2": 0.75, "2x4": 0.5}[row["mesh"]]
        targets.append({"what": f"{r['size']} {row['mesh']}: temp <= {bound}x 2x1",
                        "ok": row["temp_mib"] <= bound * unsplit})
  return {"headline": headline, "targets": targets, "results": results}


BENCHMARKS = {"sharded_step_memory": sharded_step_memory}


if __name__ == "__main__":
  print(json.dumps(_worker(sys.argv[1])))
