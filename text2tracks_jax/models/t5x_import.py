"""Imports T5X checkpoints of T5 v1.1 / Flan-T5 (`t5x/examples/t5/network.py`).

Our parameter tree uses T5X's names, so the mapping is mostly a rename of the
prefix: `target/encoder/layers_0/attention/query/kernel` (T5X train state) ->
`encoder/layers_0/attention/query/kernel`. Optimizer state (`state/...`) is
dropped. Two on-disk formats are read:

* Orbax (newer T5X; a `_METADATA` file in the directory or in its `state/`
  sub-directory; OCDBT or per-array TensorStore): restored with
  `orbax.checkpoint.PyTreeCheckpointer().restore` into numpy arrays.
* Legacy T5X (the released Flan-T5 T5X checkpoints): a msgpack file
  `checkpoint` holding {"version", "optimizer": {"target": ..., "state": ...}}
  whose large leaves are TensorStore specs of zarr arrays stored next to it
  (e.g. `target.encoder.layers_0.attention.query.kernel/`); read with
  tensorstore. GCS/gfile specs are rewritten to local files relative to the
  checkpoint directory, as T5X does when a checkpoint is copied locally.

Checkpoints trained with `scan_layers=True` (a stacked `layers` axis) are
refused. Mesh-TF (TF1) checkpoints are not read; use the Hugging Face copy.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import jax
import numpy as np

from text2tracks_jax.models import network
from text2tracks_jax.models.configs import T5Config

PyTree = Any

_PREFIXES = ("optimizer/target/", "target/", "params/")
_IGNORED_PREFIXES = ("state/", "optimizer/state/", "version")
_PARAM_PATTERN = re.compile(
    r"^(token_embedder/embedding"
    r"|(encoder|decoder)/relpos_bias/rel_embedding"
    r"|encoder/encoder_norm/scale|decoder/decoder_norm/scale"
    r"|decoder/logits_dense/kernel"
    r"|(encoder|decoder)/layers_\d+/[a-z_]+(/[a-z_0-9]+)?/(kernel|scale))$")


class UnsupportedT5XCheckpointError(ValueError):
  """The checkpoint is not a (non-scanned) T5X T5 v1.1 / Flan-T5 model."""


def _normalise_name(name: str) -> Optional[str]:
  """'target.encoder.layers_0...' or 'target/encoder/...' -> 'encoder/...'.

  Returns None for optimizer state and other non-parameter entries.
  """
  name = name.replace(".", "/").strip("/")
  if name.startswith(_IGNORED_PREFIXES):
    return None
  for prefix in _PREFIXES:
    if name.startswith(prefix):
      return name[len(prefix):]
  return name


def params_from_t5x_flat(flat: Mapping[str, Any],
                         config: Optional[T5Config] = None) -> PyTree:
  """Our parameter tree from a flat {T5X path: array} dict.

  Args:
    flat: keys like 'target/encoder/layers_0/mlp/wi_0/kernel' (or with '.'
      separators, or without the 'target/' prefix); 'state/...' entries are
      ignored.
    config: if given, every parameter of `network.T5Model(config)` must be
      present with the right shape and nothing else may be.
  Returns:
    Nested dicts of float32 numpy arrays.
  """
  params: dict = {}
  names = []
  for raw_name, value in flat.items():
    name = _normalise_name(raw_name)
    if name is None:
      continue
    if re.search(r"(^|/)layers/", name) or name.startswith(("encoder/encoder/", "decoder/decoder/")):
      raise UnsupportedT5XCheckpointError(
          f"{raw_name!r} looks like a scan_layers=True checkpoint (stacked layers); "
          "only unrolled `layers_{i}` checkpoints are supported")
    if not _PARAM_PATTERN.match(name):
      raise UnsupportedT5XCheckpointError(
          f"unexpected parameter {raw_name!r}: not a T5 v1.1 / Flan-T5 T5X parameter")
    names.append(name)
    node = params
    *parents, leaf = name.split("/")
    for key in parents:
      node = node.setdefault(key, {})
    node[leaf] = np.asarray(value, dtype=np.float32)
  if not names:
    raise UnsupportedT5XCheckpointError("no model parameters found (expected 'target/...')")
  if config is not None:
    _check_against_config(params, config)
  return params


def _check_against_config(params: PyTree, config: T5Config) -> None:
  expected = network.abstract_params(network.T5Model(config))
  flat_expected = {"/".join(str(k.key) for k in path): leaf.shape
                   for path, leaf in jax.tree_util.tree_leaves_with_path(expected)}
  flat_got = {"/".join(str(k.key) for k in path): leaf.shape
              for path, leaf in jax.tree_util.tree_leaves_with_path(params)}
  missing = sorted(set(flat_expected) - set(flat_got))
  unexpected = sorted(set(flat_got) - set(flat_expected))
  wrong = [f"{k}: {flat_got[k]} != {flat_expected[k]}"
           for k in sorted(set(flat_got) & set(flat_expected))
           if tuple(flat_got[k]) != tuple(flat_expected[k])]
  if missing or unexpected or wrong:
    raise UnsupportedT5XCheckpointError(
        f"T5X parameters do not match {config}: missing {missing[:5]}, "
        f"unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}")


def config_from_params(params: PyTree, dropout_rate: float = 0.1, **overrides) -> T5Config:
  """Infers the T5Config shapes from a T5X parameter tree (T5X checkpoints
  carry no config file). `num_heads` comes from the relative position bias."""
  encoder, decoder = params["encoder"], params["decoder"]
  vocab_size, d_model = params["token_embedder"]["embedding"].shape
  num_heads, num_buckets = encoder["relpos_bias"]["rel_embedding"].shape
  inner = encoder["layers_0"]["attention"]["query"]["kernel"].shape[1]
  count = lambda stack: sum(1 for k in stack if k.startswith("layers_"))
  fields = dict(vocab_size=vocab_size, d_model=d_model, num_heads=num_heads,
                d_kv=inner // num_heads,
                d_ff=encoder["layers_0"]["mlp"]["wi_0"]["kernel"].shape[1],
                num_encoder_layers=count(encoder), num_decoder_layers=count(decoder),
                relative_attention_num_buckets=num_buckets, dropout_rate=dropout_rate)
  fields.update(overrides)
  return T5Config(**fields)


def _flatten(tree: Mapping, prefix: str = "", is_leaf=lambda x: False) -> Dict[str, Any]:
  out = {}
  for key, value in tree.items():
    name = f"{prefix}/{key}" if prefix else str(key)
    if isinstance(value, Mapping) and not is_leaf(value):
      out.update(_flatten(value, name, is_leaf))
    else:
      out[name] = value
  return out


# ----------------------------------------------------------------------------
# Orbax format.


def _is_orbax_dir(path: Path) -> bool:
  return (path / "_METADATA").exists() or (path / "_CHECKPOINT_METADATA").exists()


def restore_orbax_flat(path: os.PathLike | str) -> Dict[str, np.ndarray]:
  """Flat {'target/encoder/...': numpy array} of an Orbax PyTree checkpoint."""
  # lazy: Orbax and TensorStore only read T5X checkpoints; every user of
  # `text2tracks_jax.models` would pay their import (~0.2 s)
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  path = Path(path).absolute()
  checkpointer = ocp.PyTreeCheckpointer()
  metadata = checkpointer.metadata(path)
  tree = getattr(metadata, "item_metadata", metadata)  # StepMetadata -> TreeMetadata
  tree = getattr(tree, "tree", tree)  # TreeMetadata -> nested dict of ArrayMetadata
  restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
  restored = checkpointer.restore(path, restore_args=restore_args)
  return {k: np.asarray(v) for k, v in _flatten(restored).items()}


# ----------------------------------------------------------------------------
# Legacy msgpack + TensorStore format.


def _is_ts_spec(value: Any) -> bool:
  return isinstance(value, Mapping) and "driver" in value and (
      "kvstore" in value or "path" in value)


def _local_spec(spec: Mapping[str, Any], ckpt_dir: Path) -> dict:
  """A TensorStore spec written by T5X, re-rooted at the local `ckpt_dir`.

  T5X stores the array's directory name ('target.encoder.layers_0...')
  relative to the checkpoint, in `kvstore.path` (file/gfile/gcs drivers) or
  at the top level (older TensorStore specs); it is re-rooted in `ckpt_dir`.
  """
  spec = dict(spec)
  kvstore = dict(spec.pop("kvstore", {}) or {})
  relative = kvstore.get("path") or spec.get("path")
  spec.pop("path", None)
  if not relative:
    raise UnsupportedT5XCheckpointError(f"TensorStore spec without a path: {spec}")
  spec["kvstore"] = {"driver": "file",
                     "path": str(ckpt_dir / str(relative).rstrip("/").split("/")[-1])}
  return spec


def restore_legacy_flat(path: os.PathLike | str) -> Dict[str, np.ndarray]:
  """Flat {'target/encoder/...': numpy array} of a legacy T5X checkpoint dir."""
  # lazy: flax.serialization and TensorStore only read T5X checkpoints; every user
  # of `text2tracks_jax.models` would pay their import (~0.2 s)
  from flax import serialization  # pylint: disable=import-outside-toplevel
  import tensorstore as ts  # pylint: disable=import-outside-toplevel
  ckpt_dir = Path(path).absolute()
  with open(ckpt_dir / "checkpoint", "rb") as f:
    contents = serialization.msgpack_restore(f.read())
  if not isinstance(contents, Mapping):
    raise UnsupportedT5XCheckpointError(f"{ckpt_dir}/checkpoint is not a T5X msgpack state")
  tree = contents.get("optimizer", contents)
  flat = _flatten(tree, is_leaf=_is_ts_spec)
  out = {}
  for name, value in flat.items():
    if _normalise_name(name) is None:
      continue  # optimizer state: not read at all
    if _is_ts_spec(value):
      store = ts.open(_local_spec(value, ckpt_dir), open=True, read=True).result()
      value = store.read().result()
    out[name] = np.asarray(value)
  return out


def load_t5x_checkpoint(path: os.PathLike | str,
                        config: Optional[T5Config] = None) -> PyTree:
  """Parameter tree (float32 numpy) of a T5X checkpoint directory.

  Args:
    path: a `checkpoint_<step>` directory (Orbax or legacy format).
    config: checked against if given; else use `config_from_params`.
  """
  path = Path(path)
  if not path.is_dir():
    raise FileNotFoundError(f"no T5X checkpoint directory at {path}")
  if _is_orbax_dir(path):
    flat = restore_orbax_flat(path)
  elif _is_orbax_dir(path / "state"):
    flat = restore_orbax_flat(path / "state")
  elif (path / "checkpoint").is_file():
    with open(path / "checkpoint", "rb") as f:
      if f.read(21) == b"model_checkpoint_path":
        raise UnsupportedT5XCheckpointError(
            f"{path} is a TensorFlow (Mesh-TF) checkpoint; convert it with T5X or use "
            "the Hugging Face copy of the model")
    flat = restore_legacy_flat(path)
  else:
    raise UnsupportedT5XCheckpointError(
        f"{path} is neither an Orbax checkpoint (_METADATA) nor a T5X msgpack "
        "checkpoint (a `checkpoint` file)")
  return params_from_t5x_flat(flat, config)
