"""Orbax checkpoints of the train state plus the input position.

Each checkpoint step holds two items: `state` (params, optimizer state, step;
restored straight into the shardings of the current mesh, so a checkpoint
written on 8 devices restores on 1 and vice versa) and `data` (JSON: the input
iterator's position and what defines the data order). Orbax writes a step into
a temporary directory and renames it when complete, so a crash during a save
leaves the previous checkpoint as the latest good one. Directories may be
any path `etils.epath` and TensorStore open (local, `gs://...`).
"""

from __future__ import annotations

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath

from text2tracks_jax.data.errors import InputError
from text2tracks_jax.models import configs
from text2tracks_jax.training import fingerprints


class Checkpointer:
  """Periodic/final saves, keep-N, async; restore of the latest good step."""

  def __init__(self, directory, *, max_to_keep: int = 3, async_save: bool = True):
    self.directory = _absolute(directory)
    options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True,
                                           enable_async_checkpointing=async_save)
    self.manager = ocp.CheckpointManager(self.directory, options=options,
                                         item_names=("state", "data"))

  def latest_step(self):
    return self.manager.latest_step()

  def save(self, step: int, state, data: dict) -> None:
    self.manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data)), force=True)

  def restore(self, step: int, abstract_state):
    """-> (state laid out like `abstract_state` (ShapeDtypeStructs with
    shardings), data dict)."""
    out = self.manager.restore(step, args=ocp.args.Composite(
        state=ocp.args.StandardRestore(abstract_state), data=ocp.args.JsonRestore()))
    return out["state"], out["data"]

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def latest_step(directory):
  """The latest complete checkpoint step under `directory`, or None; creates nothing."""
  directory = _absolute(directory)
  if not directory.is_dir():
    return None
  steps = ocp.utils.checkpoint_steps(directory)
  return max(steps) if steps else None


def abstract_like(tree, shardings):
  """ShapeDtypeStructs of `tree` (arrays or structs) carrying `shardings`."""
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                      tree, shardings)


def _absolute(path) -> epath.Path:
  """`path` as an absolute epath; `gs://...` is kept as is (`absolute()` would
  prefix it with the working directory)."""
  path = epath.Path(path)
  return path if path.is_absolute() else path.absolute()


def load_trained(workdir, step=None):
  """(T5Config, params, step) of a training run's checkpoint (latest by default).

  Only the parameters are read; they come back as NumPy arrays, a full copy in
  every process (whatever mesh wrote them), for inference. A workdir without
  train_config.json or a complete checkpoint raises `InputError`; nothing is
  written.
  """
  workdir = _absolute(workdir)
  info = fingerprints.read_train_config(workdir)
  config = configs.T5Config(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in info["model_config"].items()})
  no_checkpoint = InputError(workdir, None, None, "no complete checkpoint under checkpoints/ "
                             "(train first, or let a running `train` save one)")
  if not (workdir / "checkpoints").is_dir():
    raise no_checkpoint  # before the manager, which would create the directory
  manager = ocp.CheckpointManager(workdir / "checkpoints", item_handlers={
      "state": ocp.PyTreeCheckpointHandler(), "data": ocp.JsonCheckpointHandler()})
  step = manager.latest_step() if step is None else step
  if step is None:
    manager.close()
    raise no_checkpoint
  params = manager.item_metadata(step)["state"]["params"]
  as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), params)
  state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
      item={"params": params}, restore_args={"params": as_numpy}, partial_restore=True)))["state"]
  manager.close()
  return config, state["params"], step
