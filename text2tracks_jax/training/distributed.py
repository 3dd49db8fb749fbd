"""Multi-process set-up: `jax.distributed.initialize` from flags or environment.

Every process runs the same command. The coordinator address, process count
and id come from arguments, else from `T2T_COORDINATOR_ADDRESS`,
`T2T_NUM_PROCESSES`, `T2T_PROCESS_ID`; on Cloud TPU and SLURM, JAX finds them
itself (`jax.distributed.initialize()` with no arguments) when
`T2T_AUTO_DISTRIBUTED=1`. On CPU, collectives across processes use gloo.
"""

from __future__ import annotations

import os

import gin
import jax

_initialized = False


@gin.configurable
def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, auto: bool | None = None) -> bool:
  """Joins the job's processes; returns True if running multi-process."""
  global _initialized
  if _initialized:
    return jax.process_count() > 1
  env = os.environ
  coordinator_address = coordinator_address or env.get("T2T_COORDINATOR_ADDRESS")
  num_processes = num_processes or int(env.get("T2T_NUM_PROCESSES", "0") or 0)
  if process_id is None and env.get("T2T_PROCESS_ID"):
    process_id = int(env["T2T_PROCESS_ID"])
  auto = env.get("T2T_AUTO_DISTRIBUTED") == "1" if auto is None else auto
  if coordinator_address and num_processes and num_processes > 1:
    # Only affects the CPU client; must be set before the backend starts.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address, num_processes, process_id)
  elif auto:
    jax.distributed.initialize()
  else:
    return False
  _initialized = True
  return jax.process_count() > 1
