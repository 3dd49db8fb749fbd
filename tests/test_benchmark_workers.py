"""The benchmark workers still drive the code they time (no timing asserted here)."""

import pytest


@pytest.mark.slow  # compiles a train step (~20 s); `make bench` would find a break later
def test_train_worker_runs_our_train_step():
  from benchmarks import train_worker  # pylint: disable=import-outside-toplevel
  warm, seconds = train_worker.ours("tiny", 4, 8, 4, 2)
  assert warm > 0 and seconds > 0
