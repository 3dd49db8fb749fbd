"""The device mesh and shardings: one `data` x `model` mesh, logical axis rules.

Parameters carry logical axis names (embed, mlp, heads, kv, vocab, ...); the
rules table maps them to mesh axes, as in T5X and MaxText. Batches are split
over `data`; optimizer states follow the parameter they belong to.
"""

from __future__ import annotations

import gin
import jax
import numpy as np
from flax import linen as nn
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from text2tracks_jax.models import partitioning_rules

DATA, MODEL = "data", "model"


@gin.configurable
def create_mesh(num_partitions: int = 1, devices=None) -> Mesh:
  """A [data, model] mesh over all devices (of every process).

  `num_partitions` devices share one model replica (model parallelism); the
  rest of the devices are data parallel.
  """
  devices = np.asarray(jax.devices() if devices is None else devices)
  if devices.size % num_partitions:
    raise ValueError(f"{devices.size} devices cannot be split into model partitions "
                     f"of {num_partitions}")
  return Mesh(devices.reshape(devices.size // num_partitions, num_partitions), (DATA, MODEL))


def logical_axis_rules():
  return partitioning_rules.standard_logical_axis_rules()


def param_shardings(mesh: Mesh, logical_specs):
  """Tree of `PartitionSpec`s of logical names -> tree of `NamedSharding`s."""
  return nn.logical_to_mesh_sharding(logical_specs, mesh, logical_axis_rules())


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P(DATA))


def opt_state_shardings(abstract_opt_state, abstract_params, shardings, mesh: Mesh):
  """Shardings for an optimizer state: a leaf whose key path ends with a
  parameter's path and has its shape follows that parameter; anything else
  (step counts, Adafactor's factored rows/columns) is replicated."""
  by_path = {}
  for (path, p), s in zip(jax.tree_util.tree_flatten_with_path(abstract_params)[0],
                          jax.tree.leaves(shardings)):
    by_path[tuple(path)] = (p.shape, s)

  def pick(path, leaf):
    for start in range(len(path)):
      hit = by_path.get(tuple(path[start:]))
      if hit is not None and hit[0] == getattr(leaf, "shape", None):
        return hit[1]
    return replicated(mesh)

  return jax.tree_util.tree_map_with_path(pick, abstract_opt_state)
