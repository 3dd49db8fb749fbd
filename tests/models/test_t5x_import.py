"""T5X import: name mapping from a flat dict, Orbax and legacy msgpack dirs."""

import jax
import numpy as np
import pytest

from text2tracks_jax.models import configs, network, t5x_import

CFG = configs.tiny(vocab_size=96, d_model=32, d_kv=8, d_ff=48, num_heads=4,
                   num_encoder_layers=2, num_decoder_layers=3)


@pytest.fixture(scope="module")
def params():
  rng = np.random.default_rng(0)
  shapes = network.abstract_params(network.T5Model(CFG))
  return jax.tree.map(lambda s: rng.standard_normal(s.shape).astype(np.float32), shapes)


def _flat(tree, prefix):
  return {prefix + "/".join(str(k.key) for k in path): leaf
          for path, leaf in jax.tree_util.tree_leaves_with_path(tree)}


def _assert_same(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(x, y)


def test_flat_t5x_names_map_to_our_tree(params):
  flat = _flat(params, "target/")
  assert "target/encoder/layers_0/attention/query/kernel" in flat
  assert "target/decoder/logits_dense/kernel" in flat
  assert "target/encoder/relpos_bias/rel_embedding" in flat
  assert "target/token_embedder/embedding" in flat
  assert "target/decoder/layers_2/encoder_decoder_attention/out/kernel" in flat
  flat["state/step"] = np.array(7)
  flat["state/param_states/decoder/logits_dense/kernel/v_row"] = np.zeros(32)
  _assert_same(t5x_import.params_from_t5x_flat(flat, CFG), params)
  # TensorStore directory names use dots.
  dotted = {k.replace("/", "."): v for k, v in flat.items()}
  _assert_same(t5x_import.params_from_t5x_flat(dotted, CFG), params)
  inferred = t5x_import.config_from_params(params, dropout_rate=CFG.dropout_rate)
  assert inferred == CFG


def test_bad_t5x_trees_are_refused(params):
  flat = _flat(params, "target/")
  with pytest.raises(t5x_import.UnsupportedT5XCheckpointError, match="missing"):
    t5x_import.params_from_t5x_flat(
        {k: v for k, v in flat.items() if "layers_1/mlp/wo" not in k}, CFG)
  with pytest.raises(t5x_import.UnsupportedT5XCheckpointError, match="scan_layers"):
    t5x_import.params_from_t5x_flat(
        {"target/encoder/encoder/layers/attention/query/kernel": np.zeros((32, 2, 32))})
  with pytest.raises(t5x_import.UnsupportedT5XCheckpointError, match="unexpected parameter"):
    t5x_import.params_from_t5x_flat({"target/encoder/layers_0/attention/query/bias": np.zeros(3)})
  with pytest.raises(t5x_import.UnsupportedT5XCheckpointError, match="wrong shapes"):
    t5x_import.params_from_t5x_flat(flat, CFG.replace(d_ff=64))


def test_orbax_checkpoint_with_t5x_layout(params, tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  state = {"target": params,
           "state": {"step": np.array(1000, np.int32),
                     "param_states": jax.tree.map(lambda x: {"m": np.zeros_like(x)}, params)}}
  ckpt = tmp_path / "checkpoint_1000"
  ocp.PyTreeCheckpointer().save(ckpt, state)
  _assert_same(t5x_import.load_t5x_checkpoint(ckpt, CFG), params)


def test_legacy_msgpack_tensorstore_checkpoint(params, tmp_path):
  from flax import serialization  # pylint: disable=import-outside-toplevel
  import tensorstore as ts  # pylint: disable=import-outside-toplevel
  ckpt = tmp_path / "checkpoint_1198000"
  ckpt.mkdir()

  def written(path, leaf):
    """As T5X writes it: big arrays to zarr next to the msgpack, small inline."""
    name = "target." + ".".join(str(k.key) for k in path)
    if leaf.ndim < 2:
      return leaf
    spec = {"driver": "zarr", "dtype": "float32",
            "kvstore": {"driver": "file", "path": name},
            "metadata": {"shape": list(leaf.shape), "chunks": list(leaf.shape),
                         "compressor": {"id": "gzip"}}}
    if "logits_dense" in name:  # a checkpoint copied from GCS
      spec = {"driver": "zarr", "dtype": "float32",
              "kvstore": {"driver": "gcs", "bucket": "t5x-dummy-bucket"}, "path": name,
              "metadata": spec["metadata"]}
    local = {**spec, "kvstore": {"driver": "file", "path": str(ckpt / name)}}
    local.pop("path", None)
    store = ts.open(local, create=True, open=True).result()
    store.write(leaf).result()
    return spec

  target = jax.tree_util.tree_map_with_path(written, params)
  contents = {"version": 3, "optimizer": {
      "target": target, "state": {"step": np.array(1198000), "param_states": {}}}}
  (ckpt / "checkpoint").write_bytes(serialization.msgpack_serialize(contents))
  assert (ckpt / "target.encoder.layers_0.attention.query.kernel").is_dir()
  _assert_same(t5x_import.load_t5x_checkpoint(ckpt, CFG), params)


def test_unknown_directories_are_refused(tmp_path):
  with pytest.raises(t5x_import.UnsupportedT5XCheckpointError, match="neither"):
    t5x_import.load_t5x_checkpoint(tmp_path)
  (tmp_path / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-1"\n')
  with pytest.raises(t5x_import.UnsupportedT5XCheckpointError, match="TensorFlow"):
    t5x_import.load_t5x_checkpoint(tmp_path)


def test_load_pretrained_dispatches_on_the_directory(params, tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import load_pretrained  # pylint: disable=import-outside-toplevel
  ocp.PyTreeCheckpointer().save(tmp_path / "t5x", {"target": params})
  config, loaded = load_pretrained(tmp_path / "t5x", dropout_rate=0.0, dtype="bfloat16")
  assert config == CFG.replace(dropout_rate=0.0, dtype="bfloat16")
  _assert_same(loaded, params)
