"""The benchmark workers still drive the code they time (no timing asserted here)."""

import pytest


@pytest.mark.slow  # compiles a train step (~20 s); `make bench` would find a break later
def test_train_worker_runs_our_train_step():
  from benchmarks import train_worker  # pylint: disable=import-outside-toplevel
  warm, seconds = train_worker.ours("tiny", 4, 8, 4, 2)
  assert warm > 0 and seconds > 0


@pytest.mark.slow  # saves a random HF tiny model (torch) and compiles two searches
def test_beam_slot_benchmark_compares_equal_searches(tmp_path):
  from benchmarks import bench_decoding  # pylint: disable=import-outside-toplevel
  out = bench_decoding.decode_beam_slots_tiny(tmp_path, quick=True)
  assert out["headline"]["same_sequences_4"] == 1.0
  assert out["targets"][0]["ok"]
  assert len(out["4_new_tokens"]["speedup_per_round"]) == 5


def test_decode_ab_exports_a_revision_that_imports_beside_ours(tmp_path):
  import importlib  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  from benchmarks import decode_ab  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs  # pylint: disable=import-outside-toplevel
  package = decode_ab.export_revision("HEAD", tmp_path)
  assert package.startswith("t2t_rev_")
  text = (tmp_path / package / "decoding" / "generation.py").read_text()
  assert "text2tracks_jax" not in text and f"from {package}." in text
  sys.path.insert(0, str(tmp_path))
  try:
    model = decode_ab._model_at(package, configs.T5Config(vocab_size=64, d_model=16))
    assert type(model).__module__ == f"{package}.models.network"
    assert model.config.vocab_size == 64 and model.config.d_model == 16
    assert importlib.import_module(f"{package}.decoding.generation").generate
  finally:
    sys.path.remove(str(tmp_path))
  with pytest.raises(ValueError, match="unknown git revision"):
    decode_ab.export_revision("no-such-revision", tmp_path)
