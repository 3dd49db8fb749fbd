"""Orbax checkpoints of the train state plus the input position.

Each checkpoint step holds two items: `state` (params, optimizer state, step;
restored straight into the shardings of the current mesh, so a checkpoint
written on 8 devices restores on 1 and vice versa) and `data` (JSON: the input
iterator's position and what defines the data order). Orbax writes a step into
a temporary directory and renames it when complete, so a crash during a save
leaves the previous checkpoint as the latest good one.
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp


class Checkpointer:
  """Periodic/final saves, keep-N, async; restore of the latest good step."""

  def __init__(self, directory, *, max_to_keep: int = 3, async_save: bool = True):
    self.directory = Path(directory).absolute()
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


def abstract_like(tree, shardings):
  """ShapeDtypeStructs of `tree` (arrays or structs) carrying `shardings`."""
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
                      tree, shardings)


def load_trained(workdir, step=None):
  """(T5Config, params, step) of a training run's checkpoint (latest by default).

  Only the parameters are kept; they come back as host arrays for inference.
  """
  import json  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs  # pylint: disable=import-outside-toplevel
  workdir = Path(workdir)
  info_path = workdir / "train_config.json"
  if not info_path.exists():
    raise FileNotFoundError(f"{workdir}: no train_config.json; is it a `text2tracks train` workdir?")
  info = json.loads(info_path.read_text())
  config = configs.T5Config(**{k: tuple(v) if isinstance(v, list) else v
                               for k, v in info["model_config"].items()})
  manager = ocp.CheckpointManager(workdir.absolute() / "checkpoints", item_names=("state", "data"))
  step = manager.latest_step() if step is None else step
  if step is None:
    raise FileNotFoundError(f"{workdir}/checkpoints: no complete checkpoint")
  state = manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore()))["state"]
  manager.close()
  return config, jax.tree.map(np.asarray, state["params"]), step
