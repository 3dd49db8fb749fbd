"""The fast path's examples (each distinct query and ID tokenized once) equal the
SeqIO task's, and the trainer's cache is rebuilt when its inputs change."""

import logging

import numpy as np
import pytest

seqio = pytest.importorskip("seqio")

from text2tracks_jax import ids  # pylint: disable=wrong-import-position
from text2tracks_jax.data import prepare  # pylint: disable=wrong-import-position
from text2tracks_jax.training import task_data  # pylint: disable=wrong-import-position

import tasks  # pylint: disable=wrong-import-position
from tasks import examples  # pylint: disable=wrong-import-position

STRATEGIES = ["artist-name-track-name", "track-int", "semantic-ids-cf"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  run_dir = tmp_path_factory.mktemp("runs") / "tiny-fast"
  prepare.prepare("synthetic", run_dir / "data", preset="tiny")
  for s in STRATEGIES:
    ids.build_ids(run_dir / "data", s, run_dir / "ids" / s)
  tasks.register_run(run_dir)
  return run_dir


def _load(caplog, name, split, **kwargs):
  """(the examples, the messages `load_task_examples` logged while making them)."""
  caplog.clear()
  with caplog.at_level(logging.INFO, logger=task_data.__name__):
    out = task_data.load_task_examples(name, split, progress=False, **kwargs)
  return out, [r.getMessage() for r in caplog.records if r.name == task_data.__name__]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("split", ["train", "validation"])
def test_fast_path_equals_the_seqio_task(run, strategy, split, caplog):
  name = tasks.task_name("tiny-fast", strategy)
  for length in (64, 8):  # 8: some queries are truncated
    fast, fast_log = _load(caplog, name, split, inputs_length=length)
    slow, slow_log = _load(caplog, name, split, inputs_length=length, use_seqio=True)
    assert any("distinct" in line for line in fast_log)  # the fast path ran
    assert not any("distinct" in line for line in slow_log)
    assert fast.inputs.dtype == slow.inputs.dtype == np.int32
    assert fast.inputs.shape == slow.inputs.shape and fast.targets.shape == slow.targets.shape
    np.testing.assert_array_equal(fast.inputs, slow.inputs)
    np.testing.assert_array_equal(fast.targets, slow.targets)
    warnings = [[line for line in log if "truncated" in line] for log in (fast_log, slow_log)]
    assert warnings[0] == warnings[1]
    if length == 8 and split == "train":
      assert warnings[0], "the tiny world has no query over 8 tokens: the test checks nothing"


def test_fast_path_tokenizes_each_distinct_query_and_id_once(run):
  name = tasks.task_name("tiny-fast", "semantic-ids-cf")
  pairs = examples.tokenized_pairs(name, "train")
  task = seqio.get_mixture_or_task(name)
  n = sum(1 for _ in task.get_dataset(None, split="train", shuffle=False).as_numpy_iterator())
  assert len(pairs) == n
  assert len(pairs.queries) < n / 5 and len(pairs.targets) < n
  assert len({tuple(t) for t in pairs.targets}) == len(pairs.targets)
  assert all(len(t) == 4 and t[-1] == 1 for t in pairs.targets)  # 3 semantic tokens + EOS
  assert examples.tokenized_pairs("not_a_text2tracks_task", "train") is None


def test_cache_is_rebuilt_when_the_id_map_or_the_vocabulary_changes(tmp_path, caplog):
  run_dir = tmp_path / "tiny-cache"
  prepare.prepare("synthetic", run_dir / "data", preset="tiny")
  ids.build_ids(run_dir / "data", "track-int", run_dir / "ids" / "track-int")
  (name,) = tasks.register_run(run_dir, base_vocab_size=500)
  cache = tmp_path / "cache"
  first, log = _load(caplog, name, "train", cache_dir=cache)
  assert not any("from the cache" in line for line in log)
  again, log = _load(caplog, name, "train", cache_dir=cache)
  assert any("from the cache" in line for line in log)
  np.testing.assert_array_equal(again.targets, first.targets)
  (old_file,) = cache.glob("*.npz")

  # Another ID map (same vocabulary): other targets, so the cache must not answer.
  ids.build_ids(run_dir / "data", "track-int", run_dir / "ids" / "track-int", seed=1)
  tasks.register_run(run_dir, base_vocab_size=500)
  rebuilt, log = _load(caplog, name, "train", cache_dir=cache)
  assert any("rebuilding" in line for line in log)
  assert not np.array_equal(rebuilt.targets, first.targets)
  reference, _ = _load(caplog, name, "train", use_seqio=True)
  np.testing.assert_array_equal(rebuilt.targets, reference.targets)
  (new_file,) = cache.glob("*.npz")  # the stale file is gone
  assert new_file != old_file

  # Another vocabulary (same ID map): a new key, rebuilt.
  key = task_data.cache_key(name, "train", 64, None)
  tasks.register_run(run_dir, base_vocab_size=400)
  assert task_data.cache_key(name, "train", 64, None) != key
  _, log = _load(caplog, name, "train", cache_dir=cache)
  assert any("rebuilding" in line for line in log)
  _, log = _load(caplog, name, "train", cache_dir=cache)
  assert any("from the cache" in line for line in log)
