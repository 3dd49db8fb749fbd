"""The one sharding story: a `data` x `model` mesh and logical axis rules.

Parameters and activations of `network.T5Model` carry logical axis names
(`batch`, `length`, `vocab`, `embed`, `mlp`, `heads`, `kv`, `joined_kv`,
`relpos_buckets`); a rules table maps them onto the axes of a
`jax.sharding.Mesh(devices, ("data", "model"))`, as in T5X and MaxText::

  mesh = create_mesh(num_partitions=2)
  rules = standard_logical_axis_rules()
  shardings = param_shardings(mesh, network.param_logical_axes(model), rules)
  step = jax.jit(with_axis_rules(step_fn, mesh, rules), out_shardings=...)

Parameters are placed by `param_shardings` (jit in/out shardings); the
activation constraints inside the network (`nn.with_logical_constraint`)
take effect only while the model is *traced* under `axis_rules(mesh, rules)`
(MaxText's `with mesh, nn_partitioning.axis_rules(rules):`); outside it they
return their input unchanged and XLA picks the activation layouts.
`with_axis_rules` enters the rules inside the traced function, so a jit
cache hit can never reuse a trace made without them. The train step, the
parameter init and diverse beam search (`decoding.generation.generate(...,
mesh=...)`) all trace under these rules.

The default (1-D activation and parameter partitioning) is T5X's: data
parallel over `data`, Megatron-style model parallel over `model` (vocab, mlp,
heads, joined_kv), `embed` replicated. parameter_partitioning_dims=2 also
shards parameters' `embed` axis over `data` (ZeRO-3/FSDP-like);
activation_partitioning_dims=2 shards activations' `embed` over `model`.
Batches are split over `data`; optimizer states follow their parameter.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import flax.linen as nn
import gin
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

PyTree = Any
LogicalRules = Tuple[Tuple[str, Optional[str]], ...]

DATA, MODEL = "data", "model"

_MODEL_PARALLEL = (("vocab", MODEL), ("mlp", MODEL), ("heads", MODEL), ("kv", None),
                   ("joined_kv", MODEL))
_REPLICATED = (("relpos_buckets", None), ("length", None), ("layers", None), ("stack", None),
               ("mlp_activations", None))


@gin.configurable
def standard_logical_axis_rules(
    activation_partitioning_dims: int = 1, parameter_partitioning_dims: int = 1,
    additional_rules: Sequence[Tuple[str, Optional[str]]] = ()) -> LogicalRules:
  """The rules for `nn.logical_axis_rules` / `nn.logical_to_mesh_sharding`.

  Earlier rules take precedence and a mesh axis is used at most once per
  array: with parameter_partitioning_dims=2 a kernel [embed, mlp] gets
  (data, model), and an activation [batch, length, embed] keeps `data` for
  the batch. A tuple (hashable: a static argument of `jax.jit`).
  """
  if activation_partitioning_dims not in (1, 2) or parameter_partitioning_dims not in (1, 2):
    raise ValueError("activation_partitioning_dims and parameter_partitioning_dims "
                     f"must be 1 or 2, got {activation_partitioning_dims}, "
                     f"{parameter_partitioning_dims}")
  embed = []
  if activation_partitioning_dims == 2:
    embed.append(("embed", MODEL))
  if parameter_partitioning_dims == 2:
    embed.append(("embed", DATA))
  if not embed:
    embed.append(("embed", None))
  return ((("batch", DATA),) + _MODEL_PARALLEL + tuple(embed) + _REPLICATED
          + tuple(tuple(r) for r in additional_rules))


@gin.configurable
def create_mesh(num_partitions: int = 1, devices=None) -> Mesh:
  """A [data, model] mesh over `devices` (default: all devices of every process).

  `num_partitions` devices share one model replica (model parallelism); the
  rest of the devices are data parallel.
  """
  devices = np.asarray(jax.devices() if devices is None else devices)
  if devices.size % num_partitions:
    raise ValueError(f"{devices.size} devices cannot be split into model partitions "
                     f"of {num_partitions}")
  return Mesh(devices.reshape(devices.size // num_partitions, num_partitions), (DATA, MODEL))


@contextlib.contextmanager
def axis_rules(mesh: Optional[Mesh], rules: Optional[LogicalRules] = None) -> Iterator[None]:
  """The network's activation constraints take effect in what is traced inside.

  MaxText's `with mesh, nn_partitioning.axis_rules(rules):`, for this JAX:
  flax applies a logical constraint only under an abstract mesh, which the
  legacy `with mesh:` does not set and `jax.set_mesh` may not set inside
  `jit`; `jax.sharding.use_abstract_mesh` works in both places (the devices
  come from the jitted arguments, which live on `mesh`). `mesh=None`:
  nothing (one device, no constraints). `rules` default:
  `standard_logical_axis_rules()`.
  """
  if mesh is None:
    yield
    return
  rules = standard_logical_axis_rules() if rules is None else rules
  with jax.sharding.use_abstract_mesh(mesh.abstract_mesh), nn.logical_axis_rules(rules):
    yield


def with_axis_rules(fn: Callable, mesh: Optional[Mesh],
                    rules: Optional[LogicalRules] = None) -> Callable:
  """`fn` traced under `axis_rules(mesh, rules)`; wrap it before `jax.jit`, so
  that no jit cache hit can reuse a trace made without the rules."""
  rules = standard_logical_axis_rules() if rules is None else rules

  @functools.wraps(fn)
  def wrapped(*args, **kwargs):
    with axis_rules(mesh, rules):
      return fn(*args, **kwargs)
  return wrapped


def param_shardings(mesh: Mesh, logical_specs: PyTree,
                    rules: Optional[LogicalRules] = None) -> PyTree:
  """Tree of `PartitionSpec`s of logical names (`network.param_logical_axes`)
  -> tree of `NamedSharding`s."""
  rules = standard_logical_axis_rules() if rules is None else rules
  return nn.logical_to_mesh_sharding(logical_specs, mesh, rules)


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis over `data`."""
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
