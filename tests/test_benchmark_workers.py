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
