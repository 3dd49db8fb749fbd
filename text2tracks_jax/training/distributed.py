"""Multi-process set-up: `jax.distributed.initialize` from flags or environment.

Every process of a job runs the same command; `initialize()` joins them.
Where the settings come from, first match wins:

1. arguments, else `T2T_COORDINATOR_ADDRESS` (host:port of process 0),
   `T2T_NUM_PROCESSES` and `T2T_PROCESS_ID` (what `launch/local.py` and
   `launch/slurm_gpu.sbatch` set);
2. a SLURM step with several tasks (`srun` set `SLURM_JOB_ID`,
   `SLURM_STEP_NODELIST`, `SLURM_NTASKS` > 1, `SLURM_PROCID`, `SLURM_LOCALID`):
   JAX's own SLURM detection (coordinator = first host of the step, port from
   the job id; with several tasks per node each task gets its local GPU);
3. `T2T_AUTO_DISTRIBUTED=1` (or `auto=True`): `jax.distributed.initialize()`
   with no arguments, which detects Cloud TPU VM slices (what
   `launch/tpu_vm.py` sets), SLURM and Open MPI;
4. otherwise a single process: nothing to do.

On CPU, collectives across processes use gloo. `initialize` must run before
anything touches a JAX backend (`jax.devices()`, the first array).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Mapping, Optional

import gin
import jax
from jax.experimental import multihost_utils

_SLURM_STEP = ("SLURM_JOB_ID", "SLURM_STEP_NODELIST", "SLURM_NTASKS", "SLURM_PROCID",
               "SLURM_LOCALID")

_initialized = False


@dataclasses.dataclass(frozen=True)
class Settings:
  """How this process joins the job. `source` is "explicit", "slurm" or "auto";
  coordinator/num_processes/process_id are None when JAX detects them."""

  source: str
  coordinator_address: Optional[str] = None
  num_processes: Optional[int] = None
  process_id: Optional[int] = None


def settings_from_env(env: Mapping[str, str], coordinator_address: Optional[str] = None,
                      num_processes: Optional[int] = None, process_id: Optional[int] = None,
                      auto: Optional[bool] = None) -> Optional[Settings]:
  """What `initialize` will do in environment `env`; None = single process."""
  coordinator_address = coordinator_address or env.get("T2T_COORDINATOR_ADDRESS")
  num_processes = num_processes or int(env.get("T2T_NUM_PROCESSES", "0") or 0)
  if process_id is None and env.get("T2T_PROCESS_ID"):
    process_id = int(env["T2T_PROCESS_ID"])
  if coordinator_address and num_processes > 1:
    if process_id is None or not 0 <= process_id < num_processes:
      raise ValueError(f"T2T_PROCESS_ID={process_id} must be in [0, {num_processes}) when "
                       f"T2T_COORDINATOR_ADDRESS={coordinator_address} and "
                       f"T2T_NUM_PROCESSES={num_processes} are set")
    return Settings("explicit", coordinator_address, num_processes, process_id)
  if all(k in env for k in _SLURM_STEP) and int(env["SLURM_NTASKS"]) > 1:
    return Settings("slurm", None, int(env["SLURM_NTASKS"]), int(env["SLURM_PROCID"]))
  if (env.get("T2T_AUTO_DISTRIBUTED") == "1") if auto is None else auto:
    return Settings("auto")
  return None


@gin.configurable
def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, auto: bool | None = None) -> bool:
  """Joins the job's processes; returns True if running multi-process."""
  global _initialized
  if _initialized:
    return jax.process_count() > 1
  settings = settings_from_env(os.environ, coordinator_address, num_processes, process_id, auto)
  if settings is None:
    return False
  # Only affects the CPU client; must be set before the backend starts.
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if settings.source == "explicit":
    jax.distributed.initialize(settings.coordinator_address, settings.num_processes,
                               settings.process_id)
  else:  # JAX detects SLURM, Cloud TPU, Open MPI.
    jax.distributed.initialize()
  _initialized = True
  return jax.process_count() > 1


def barrier(name: str) -> None:
  """Blocks until every process reaches `barrier(name)` (no-op in one process)."""
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)
