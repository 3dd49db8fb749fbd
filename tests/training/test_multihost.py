"""Multi-host correctness with N local processes (`launch/local.py`, gloo collectives).

Each process feeds its own rows of every global batch. A run is the same run
whatever the number of processes: a checkpoint written by 2 processes resumes
in 1 and a 1-process checkpoint resumes in 2 (with a data x model mesh across
them), ending where an uninterrupted 1-process run ends.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = str(Path(__file__).with_name("train_driver.py"))
FLAGS = ["--steps", "12", "--checkpoint-every", "6"]

# Each test runs 2-3 training processes (~40 s each here); the 2 -> 1 resume runs in
# `make test` (multi-host correctness in CI), the 1 -> 2 model-parallel one is `slow`.


def _env():
  env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
  env.pop("XLA_FLAGS", None)
  return env


def _train(workdir, processes=1, devices=1, partitions=1):
  """Runs the trainer driver under the local launcher; returns its output."""
  cmd = [sys.executable, "-m", "launch.local", "--num_processes", str(processes),
         "--devices_per_process", str(devices), "--",
         sys.executable, DRIVER, str(workdir), *FLAGS, "--devices", str(devices),
         "--partitions", str(partitions)]
  proc = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
  return proc.stdout


def _result(workdir):
  return json.loads((Path(workdir) / "result.json").read_text())


def _assert_same(run, ref, from_step=1):
  tail = {k: v for k, v in ref["losses"].items() if int(k) >= from_step}
  assert sorted(run["losses"], key=int) == sorted(tail, key=int)
  np.testing.assert_allclose([run["losses"][k] for k in sorted(tail, key=int)],
                             [tail[k] for k in sorted(tail, key=int)], rtol=1e-4)
  np.testing.assert_allclose(run["digest"], ref["digest"], rtol=1e-4, atol=1e-5)


def _keep_only_step_6(workdir):
  shutil.rmtree(Path(workdir) / "checkpoints" / "12")
  (Path(workdir) / "result.json").unlink()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  """An uninterrupted 1-process run (checkpoints at 6 and 12)."""
  workdir = tmp_path_factory.mktemp("one_process")
  _train(workdir)
  return workdir, _result(workdir)


@pytest.mark.slow  # ~75 s; make test keeps test_trainer's two-processes-equal-one and kill-and-resume
def test_two_process_checkpoint_resumes_in_one_process(tmp_path, reference):
  out = _train(tmp_path, processes=2)
  two = _result(tmp_path)
  assert two["processes"] == 2 and two["devices"] == 2
  assert "[0] step 12/12" in out and "[1] step 12/12" in out  # rank-prefixed lines
  _assert_same(two, reference[1])
  _keep_only_step_6(tmp_path)
  out = _train(tmp_path, processes=1)
  assert "resumed from checkpoint step 6" in out
  resumed = _result(tmp_path)
  assert resumed["processes"] == 1
  _assert_same(resumed, reference[1], from_step=7)


@pytest.mark.slow
def test_one_process_checkpoint_resumes_in_two_processes_model_parallel(tmp_path, reference):
  shutil.copytree(reference[0] / "checkpoints", tmp_path / "checkpoints")
  shutil.rmtree(tmp_path / "checkpoints" / "12")
  # 2 processes x 2 devices: mesh [data 2, model 2], each process one model replica.
  out = _train(tmp_path, processes=2, devices=2, partitions=2)
  assert out.count("resumed from checkpoint step 6") == 2
  resumed = _result(tmp_path)
  assert resumed["processes"] == 2 and resumed["devices"] == 4
  _assert_same(resumed, reference[1], from_step=7)
