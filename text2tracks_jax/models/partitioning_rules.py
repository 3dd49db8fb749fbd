"""Logical axis names -> mesh axes (`data`, `model`), T5X/MaxText style.

Parameters and activations of `network.T5Model` carry logical axis names
(`batch`, `length`, `vocab`, `embed`, `mlp`, `heads`, `kv`, `joined_kv`,
`relpos_buckets`); a rules table maps them to the axes of a
`jax.sharding.Mesh(devices, ("data", "model"))`::

  rules = standard_logical_axis_rules()
  shardings = param_shardings(model, mesh, rules)      # for jit out_shardings
  with mesh, nn.logical_axis_rules(rules):
    ...                                                # activation constraints

The default (1-D activation and parameter partitioning) is T5X's: data
parallel over `data`, Megatron-style model parallel over `model` (vocab, mlp,
heads, joined_kv), `embed` replicated. parameter_partitioning_dims=2 also
shards parameters' `embed` axis over `data` (ZeRO-3/FSDP-like);
activation_partitioning_dims=2 shards activations' `embed` over `model`.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import flax.linen as nn
import jax
from jax.sharding import Mesh, PartitionSpec

from text2tracks_jax.models import network

PyTree = Any
LogicalRules = List[Tuple[str, Optional[str]]]

_MODEL_PARALLEL = [("vocab", "model"), ("mlp", "model"), ("heads", "model"),
                   ("kv", None), ("joined_kv", "model")]
_REPLICATED = [("relpos_buckets", None), ("length", None), ("layers", None),
               ("stack", None), ("mlp_activations", None)]


def standard_logical_axis_rules(
    activation_partitioning_dims: int = 1, parameter_partitioning_dims: int = 1,
    additional_rules: Sequence[Tuple[str, Optional[str]]] = ()) -> LogicalRules:
  """The rules list for `nn.logical_axis_rules` / `nn.logical_to_mesh_sharding`.

  Earlier rules take precedence and a mesh axis is used at most once per
  array: with parameter_partitioning_dims=2 a kernel [embed, mlp] gets
  (data, model), and an activation [batch, length, embed] keeps `data` for
  the batch.
  """
  if activation_partitioning_dims not in (1, 2) or parameter_partitioning_dims not in (1, 2):
    raise ValueError("activation_partitioning_dims and parameter_partitioning_dims "
                     f"must be 1 or 2, got {activation_partitioning_dims}, "
                     f"{parameter_partitioning_dims}")
  embed = []
  if activation_partitioning_dims == 2:
    embed.append(("embed", "model"))
  if parameter_partitioning_dims == 2:
    embed.append(("embed", "data"))
  if not embed:
    embed.append(("embed", None))
  return [("batch", "data")] + _MODEL_PARALLEL + embed + _REPLICATED + list(additional_rules)


def param_shardings(model: network.T5Model, mesh: Mesh,
                    rules: Optional[LogicalRules] = None) -> PyTree:
  """`NamedSharding` per parameter (same tree as the params)."""
  rules = standard_logical_axis_rules() if rules is None else rules
  return nn.logical_to_mesh_sharding(network.param_logical_axes(model), mesh, rules)


def cache_logical_axes(cache: PyTree) -> PyTree:
  """Logical `PartitionSpec` per decoding-cache leaf (see network's docstring):
  keys/values heads first ('batch', 'heads', 'length', 'kv'), encoder_mask
  ('batch', 'length'), cache_index replicated."""
  names = {0: (), 2: ("batch", "length"), 4: ("batch", "heads", "length", "kv")}
  return jax.tree.map(lambda x: PartitionSpec(*names[len(x.shape)]), cache)


def cache_shardings(cache: PyTree, mesh: Mesh, rules: Optional[LogicalRules] = None) -> PyTree:
  """`NamedSharding` per cache leaf (batch over `data`, heads over `model`)."""
  rules = standard_logical_axis_rules() if rules is None else rules
  return nn.logical_to_mesh_sharding(cache_logical_axes(cache), mesh, rules)
