"""Imports a Hugging Face T5 v1.1 / Flan-T5 checkpoint from a local directory.

The directory is what `save_pretrained` writes (or a snapshot of a model repo
such as google/flan-t5-base): `config.json` plus the weights as

* `model.safetensors`, or shards listed in `model.safetensors.index.json`,
  read with the safetensors numpy API (no pickle); bfloat16/float8 tensors,
  which numpy cannot name, are read from the same file format by a small
  header parser into `ml_dtypes` arrays;
* else `pytorch_model.bin` (or shards listed in `pytorch_model.bin.index.json`)
  read with `torch.load(weights_only=True)`, which refuses to run code.

Nothing is downloaded. Only the architecture `network.T5Model` implements is
accepted (model_type t5/mt5, gated-GELU, untied LM head); anything else is
refused with `UnsupportedCheckpointError`.

Names (torch Linear weights are [out, in]; ours are [in, out], so transposed)::

  shared.weight                                      token_embedder/embedding
  {stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight  (.T)
                                                     {stack}/relpos_bias/rel_embedding
  encoder.block.{i}.layer.0.SelfAttention.{q,k,v,o}  encoder/layers_{i}/attention/{query,key,value,out}
  encoder.block.{i}.layer.0.layer_norm               .../pre_attention_layer_norm/scale
  encoder.block.{i}.layer.1.DenseReluDense.{wi_0,wi_1,wo}   .../mlp/{wi_0,wi_1,wo}
  encoder.block.{i}.layer.1.layer_norm               .../pre_mlp_layer_norm/scale
  decoder.block.{i}.layer.0.SelfAttention / layer_norm      .../self_attention, pre_self_attention_layer_norm
  decoder.block.{i}.layer.1.EncDecAttention / layer_norm    .../encoder_decoder_attention,
                                                            pre_cross_attention_layer_norm
  decoder.block.{i}.layer.2.DenseReluDense / layer_norm     .../mlp, pre_mlp_layer_norm
  {encoder,decoder}.final_layer_norm.weight          encoder/encoder_norm, decoder/decoder_norm
  lm_head.weight                                     decoder/logits_dense/kernel
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any, Dict, Iterator, Mapping, Tuple

import ml_dtypes
import numpy as np

from text2tracks_jax.models.configs import T5Config

PyTree = Any

SUPPORTED_MODEL_TYPES = ("t5", "mt5")
# HF maps "gated-gelu" to the tanh approximation (gelu_new); these are the same.
SUPPORTED_FEED_FORWARD = ("gated-gelu", "gated-gelu_new", "gated-gelu_pytorch_tanh")
# Copies of `shared.weight` that some checkpoints also store.
_TIED_COPIES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")

# Defaults of transformers.T5Config, used for keys a config.json leaves out.
_HF_DEFAULTS = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6,
                    num_decoder_layers=None, num_heads=8,
                    relative_attention_num_buckets=32,
                    relative_attention_max_distance=128, dropout_rate=0.1,
                    layer_norm_epsilon=1e-6, feed_forward_proj="relu",
                    tie_word_embeddings=True, is_encoder_decoder=True)


class UnsupportedCheckpointError(ValueError):
  """The checkpoint is not a T5 v1.1 / Flan-T5 (gated-GELU, untied) model."""


# ----------------------------------------------------------------------------
# config.json


def config_from_hf(hf_config: Mapping[str, Any], **overrides) -> T5Config:
  """`T5Config` from the dict of a HF `config.json`; `overrides` win.

  Raises:
    UnsupportedCheckpointError: another architecture (e.g. original T5 with
      ReLU and tied embeddings, UMT5, a decoder-only model).
  """
  get = lambda key: hf_config.get(key, _HF_DEFAULTS.get(key))
  problems = []
  model_type = hf_config.get("model_type", "t5")
  if model_type not in SUPPORTED_MODEL_TYPES:
    problems.append(f"model_type={model_type!r} (supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
  if get("feed_forward_proj") not in SUPPORTED_FEED_FORWARD:
    problems.append(f"feed_forward_proj={get('feed_forward_proj')!r} (only the gated-GELU "
                    "feed-forward of T5 v1.1 / Flan-T5 is implemented; original T5 "
                    "checkpoints use 'relu')")
  if get("tie_word_embeddings"):
    problems.append("tie_word_embeddings=True (T5 v1.1 / Flan-T5 have an untied LM head; "
                    "tied heads also rescale logits by d_model**-0.5)")
  if not get("is_encoder_decoder"):
    problems.append("is_encoder_decoder=False")
  if problems:
    raise UnsupportedCheckpointError(
        "unsupported Hugging Face T5 config: " + "; ".join(problems))
  num_layers = int(get("num_layers"))
  num_decoder_layers = get("num_decoder_layers")
  fields = dict(
      vocab_size=int(get("vocab_size")), d_model=int(get("d_model")),
      d_kv=int(get("d_kv")), d_ff=int(get("d_ff")), num_heads=int(get("num_heads")),
      num_encoder_layers=num_layers,
      num_decoder_layers=int(num_decoder_layers) if num_decoder_layers else num_layers,
      dropout_rate=float(get("dropout_rate")),
      relative_attention_num_buckets=int(get("relative_attention_num_buckets")),
      relative_attention_max_distance=int(get("relative_attention_max_distance")),
      layer_norm_epsilon=float(get("layer_norm_epsilon")))
  fields.update(overrides)
  return T5Config(**fields)


def load_hf_config(path: os.PathLike | str, **overrides) -> T5Config:
  """Reads `<path>/config.json` (see `config_from_hf`)."""
  config_path = Path(path) / "config.json"
  if not config_path.is_file():
    raise FileNotFoundError(f"no config.json in {path}")
  return config_from_hf(json.loads(config_path.read_text()), **overrides)


# ----------------------------------------------------------------------------
# Weights.

_SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8,
    "BOOL": np.bool_,
}


def _ml_dtype(name: str):
  return {"BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn,
          "F8_E5M2": ml_dtypes.float8_e5m2}[name]


def _read_safetensors_raw(path: Path) -> Dict[str, np.ndarray]:
  """Reads a .safetensors file without the library (for dtypes numpy lacks).

  Layout: little-endian u64 header size N, N bytes of JSON
  {name: {dtype, shape, data_offsets: [begin, end]}}, then the data buffer.
  """
  with open(path, "rb") as f:
    (header_size,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(header_size))
  data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_size)
  out = {}
  for name, info in header.items():
    if name == "__metadata__":
      continue
    dtype = _SAFETENSORS_DTYPES.get(info["dtype"]) or _ml_dtype(info["dtype"])
    begin, end = info["data_offsets"]
    out[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
  return out


def _read_safetensors(path: Path) -> Dict[str, np.ndarray]:
  # lazy: safetensors is optional (the `bench`/`test` extras)
  from safetensors import numpy as safetensors_np  # pylint: disable=import-outside-toplevel
  try:
    return safetensors_np.load_file(str(path))
  except TypeError:  # e.g. "data type 'bfloat16' not understood"
    return _read_safetensors_raw(path)


def _read_torch_bin(path: Path) -> Dict[str, np.ndarray]:
  try:  # lazy: torch is optional, only needed to read pytorch_model.bin
    import torch  # pylint: disable=import-outside-toplevel
  except ImportError as e:
    raise ImportError(f"reading {path} needs torch (pip install torch); "
                      "a model.safetensors checkpoint does not") from e
  state = torch.load(str(path), map_location="cpu", weights_only=True)
  out = {}
  for name, tensor in state.items():
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16:
      tensor = tensor.float()
    out[name] = tensor.numpy()
  return out


def _sharded_files(index_path: Path) -> list:
  weight_map = json.loads(index_path.read_text())["weight_map"]
  return sorted(set(weight_map.values()))


def load_hf_state_dict(path: os.PathLike | str) -> Dict[str, np.ndarray]:
  """{HF parameter name: numpy array} from a checkpoint directory (see module doc)."""
  path = Path(path)
  candidates = [
      ("model.safetensors.index.json", _read_safetensors, True),
      ("model.safetensors", _read_safetensors, False),
      ("pytorch_model.bin.index.json", _read_torch_bin, True),
      ("pytorch_model.bin", _read_torch_bin, False),
  ]
  for filename, reader, sharded in candidates:
    file_path = path / filename
    if not file_path.is_file():
      continue
    files = [path / f for f in _sharded_files(file_path)] if sharded else [file_path]
    state: Dict[str, np.ndarray] = {}
    for f in files:
      state.update(reader(f))
    return state
  raise FileNotFoundError(
      f"no Hugging Face weights in {path}: looked for "
      + ", ".join(c[0] for c in candidates))


# ----------------------------------------------------------------------------
# Name mapping.

_ATTENTION = (("q", "query"), ("k", "key"), ("v", "value"), ("o", "out"))
_MLP = ("wi_0", "wi_1", "wo")


def name_map(config: T5Config) -> Iterator[Tuple[str, Tuple[str, ...], bool]]:
  """Yields (HF name, our parameter path, transpose?) for every parameter."""
  yield "shared.weight", ("token_embedder", "embedding"), False
  yield "lm_head.weight", ("decoder", "logits_dense", "kernel"), True
  stacks = (("encoder", config.num_encoder_layers,
             (("SelfAttention", "attention", "pre_attention_layer_norm"),),
             "encoder_norm"),
            ("decoder", config.num_decoder_layers,
             (("SelfAttention", "self_attention", "pre_self_attention_layer_norm"),
              ("EncDecAttention", "encoder_decoder_attention",
               "pre_cross_attention_layer_norm")),
             "decoder_norm"))
  for stack, num_layers, attentions, final_norm in stacks:
    yield (f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
           (stack, "relpos_bias", "rel_embedding"), True)
    yield f"{stack}.final_layer_norm.weight", (stack, final_norm, "scale"), False
    for i in range(num_layers):
      block, layer = f"{stack}.block.{i}.layer", f"layers_{i}"
      for j, (hf_attention, attention, norm) in enumerate(attentions):
        for hf_proj, proj in _ATTENTION:
          yield (f"{block}.{j}.{hf_attention}.{hf_proj}.weight",
                 (stack, layer, attention, proj, "kernel"), True)
        yield f"{block}.{j}.layer_norm.weight", (stack, layer, norm, "scale"), False
      j = len(attentions)
      for proj in _MLP:
        yield (f"{block}.{j}.DenseReluDense.{proj}.weight",
               (stack, layer, "mlp", proj, "kernel"), True)
      yield f"{block}.{j}.layer_norm.weight", (stack, layer, "pre_mlp_layer_norm", "scale"), False


def _set(tree: dict, path: Tuple[str, ...], value) -> None:
  for key in path[:-1]:
    tree = tree.setdefault(key, {})
  tree[path[-1]] = value


def _get(tree: Mapping, path: Tuple[str, ...]):
  for key in path:
    tree = tree[key]
  return tree


def _expected_shape(config: T5Config, path: Tuple[str, ...]) -> Tuple[int, ...]:
  d, inner, ff, v = config.d_model, config.inner_dim, config.d_ff, config.vocab_size
  leaf_parent = path[-2]
  if path[0] == "token_embedder":
    return (v, d)
  if leaf_parent == "logits_dense":
    return (d, v)
  if leaf_parent == "relpos_bias":
    return (config.num_heads, config.relative_attention_num_buckets)
  if path[-1] == "scale":
    return (d,)
  return {"query": (d, inner), "key": (d, inner), "value": (d, inner), "out": (inner, d),
          "wi_0": (d, ff), "wi_1": (d, ff), "wo": (ff, d)}[leaf_parent]


def params_from_hf_state_dict(state_dict: Mapping[str, np.ndarray],
                              config: T5Config) -> PyTree:
  """Our parameter tree (nested dicts of float32 numpy arrays) from HF names.

  Raises:
    UnsupportedCheckpointError: missing or unexpected parameters, or shapes
      that do not match `config`.
  """
  params: dict = {}
  used = set()
  missing, bad_shapes = [], []
  for hf_name, path, transpose in name_map(config):
    if hf_name not in state_dict:
      missing.append(hf_name)
      continue
    used.add(hf_name)
    value = np.asarray(state_dict[hf_name], dtype=np.float32)
    if transpose:
      value = value.T
    if value.shape != _expected_shape(config, path):
      bad_shapes.append(f"{hf_name}: {value.shape} != {_expected_shape(config, path)}")
      continue
    _set(params, path, np.ascontiguousarray(value))
  unexpected = sorted(set(state_dict) - used - set(_TIED_COPIES))
  if missing or unexpected or bad_shapes:
    def head(names):
      return ", ".join(names[:5]) + (f" (+{len(names) - 5} more)" if len(names) > 5 else "")
    parts = []
    if missing:
      parts.append(f"missing {len(missing)}: {head(missing)}")
    if unexpected:
      parts.append(f"unexpected {len(unexpected)}: {head(unexpected)}")
    if bad_shapes:
      parts.append(f"wrong shapes: {head(bad_shapes)}")
    raise UnsupportedCheckpointError(
        "Hugging Face state dict does not match a T5 v1.1 model of this config: "
        + "; ".join(parts))
  return params


def hf_state_dict_from_params(params: PyTree, config: T5Config) -> Dict[str, np.ndarray]:
  """The inverse mapping: HF names -> float32 numpy arrays (for exporting)."""
  out = {}
  for hf_name, path, transpose in name_map(config):
    value = np.asarray(_get(params, path), dtype=np.float32)
    out[hf_name] = np.ascontiguousarray(value.T if transpose else value)
  return out


def load_hf_checkpoint(path: os.PathLike | str, **config_overrides) -> Tuple[T5Config, PyTree]:
  """(T5Config, params) from a local HF checkpoint directory.

  Args:
    path: directory with config.json and the weights.
    **config_overrides: e.g. dtype="bfloat16", dropout_rate=0.0.
  Returns:
    The config read from config.json (plus overrides) and the parameter tree
    of `network.T5Model` as float32 numpy arrays (device_put/shard them).
  """
  config = load_hf_config(path, **config_overrides)
  return config, params_from_hf_state_dict(load_hf_state_dict(path), config)
