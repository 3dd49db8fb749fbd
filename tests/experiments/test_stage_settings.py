"""A stage's settings are its own: the gin bindings of what it calls, not of
whatever else is bound or imported (runner.py)."""

import sys
import types

import gin
import pytest

from text2tracks_jax.experiments import runner

IDS = "ids/semantic-ids-cf"


def _settings() -> dict:
  # pylint: disable=protected-access
  return {IDS: runner._ids_settings("semantic-ids-cf", 0),
          "ids/track-int": runner._ids_settings("track-int", 0),
          "train": runner._train_settings(),
          "infer": runner._infer_settings("test", {}),
          "baseline/bm25": runner._baseline_settings("bm25", "test", 0)}


def _changed(*bindings) -> set:
  """The stages whose settings the extra `bindings` change."""
  gin.clear_config()
  before = _settings()
  gin.parse_config(list(bindings))
  after = _settings()
  return {name for name in before if before[name] != after[name]}


@pytest.fixture(autouse=True)
def _clean_gin():
  gin.clear_config()
  yield
  gin.clear_config()


@pytest.mark.parametrize("binding, stages", [
    ("cf_embeddings.epochs = 3", {IDS}),
    ("sparse_coding.alpha = 0.5", {IDS}),
    ("residual_kmeans.levels = 2", set()),  # semantic-ids-cf uses sparse coding
    ("create_optimizer.name = 'adafactor'", {"train"}),
    ("standard_logical_axis_rules.activation_partitioning_dims = 2", {"train", "infer"}),
    ("infer.num_beams = 4", {"infer"}),
    ("bm25.k1 = 1.2", {"baseline/bm25"}),
])
def test_a_binding_changes_only_the_stages_that_call_it(binding, stages):
  assert _changed(binding) == stages


def test_a_new_discretizer_changes_the_semantic_id_stage():
  assert _changed("semantic_ids.discretizer = 'residual-kmeans'",
                  "residual_kmeans.levels = 2") == {IDS}


def test_importing_a_module_changes_no_stage():
  # A configurable in the packages the stages come from, bound, but called by none.
  name = "text2tracks_jax.training.unrelated_for_test"
  module = types.ModuleType(name)

  def unrelated(x=1):
    return x

  unrelated.__module__ = name
  module.unrelated = gin.configurable(unrelated, module=name)
  before = _settings()
  sys.modules[name] = module
  try:
    gin.bind_parameter(f"{name}.unrelated.x", 2)
    assert _settings() == before
  finally:
    del sys.modules[name]
