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
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  from benchmarks import decode_ab  # pylint: disable=import-outside-toplevel
  package = decode_ab.export_revision("HEAD", tmp_path)
  assert package.startswith("t2t_rev_")
  text = (tmp_path / package / "decoding" / "generation.py").read_text()
  assert "text2tracks_jax" not in text and f"from {package}." in text
  # Imported in a child: a second copy of the package registers its gin
  # configurables again, which would make short names ambiguous here.
  check = (f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
           "from benchmarks import decode_ab; from text2tracks_jax.models import configs; "
           f"m = decode_ab._model_at({package!r}, configs.T5Config(vocab_size=64, d_model=16)); "
           f"assert type(m).__module__ == '{package}.models.network', type(m).__module__; "
           "assert (m.config.vocab_size, m.config.d_model) == (64, 16); "
           f"import {package}.decoding.generation as g; assert g.generate")
  out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                       cwd=decode_ab.bd.ROOT, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  with pytest.raises(ValueError, match="unknown git revision"):
    decode_ab.export_revision("no-such-revision", tmp_path)
