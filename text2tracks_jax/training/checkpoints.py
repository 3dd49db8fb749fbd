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
