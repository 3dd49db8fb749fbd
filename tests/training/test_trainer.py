"""Trainer: sharded = unsharded, 2 processes = 1, kill -9 + resume = uninterrupted,
NaN guard, and a tiny model that memorises (query, ID) pairs."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

DRIVER = str(Path(__file__).with_name("train_driver.py"))
ROOT = str(Path(__file__).resolve().parents[2])


def _env(**extra):
  env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
  env.pop("XLA_FLAGS", None)
  env.update({k: str(v) for k, v in extra.items()})
  return env


def _run(workdir, *flags, env=None, check=True):
  proc = subprocess.run([sys.executable, DRIVER, str(workdir), *flags], env=env or _env(),
                        capture_output=True, text=True, timeout=600)
  if check and proc.returncode != 0:
    raise AssertionError(f"driver failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
  return proc


def _result(workdir):
  return json.loads((Path(workdir) / "result.json").read_text())


def _assert_same_run(a, b, rtol=1e-4):
  assert a["losses"].keys() == b["losses"].keys()
  np.testing.assert_allclose([a["losses"][k] for k in sorted(a["losses"], key=int)],
                             [b["losses"][k] for k in sorted(b["losses"], key=int)], rtol=rtol)
  np.testing.assert_allclose(a["digest"], b["digest"], rtol=rtol, atol=1e-5)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("reference")
  _run(workdir, "--steps", "12")
  return _result(workdir)


def test_loss_goes_down(reference):
  losses = reference["losses"]
  assert losses["12"] < losses["1"] - 0.2


def test_sharded_equals_unsharded(tmp_path, reference):
  _run(tmp_path, "--steps", "12", "--devices", "8", "--partitions", "2")
  sharded = _result(tmp_path)
  assert sharded["devices"] == 8
  _assert_same_run(sharded, reference)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def test_two_processes_equal_one(tmp_path, reference):
  port = _free_port()
  procs = [subprocess.Popen(
      [sys.executable, DRIVER, str(tmp_path), "--steps", "12"],
      env=_env(T2T_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", T2T_NUM_PROCESSES=2,
               T2T_PROCESS_ID=i), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
      for i in range(2)]
  outs = [p.communicate(timeout=600)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outs[0][-3000:] + outs[1][-3000:]
  result = _result(tmp_path)
  assert result["processes"] == 2
  _assert_same_run(result, reference)


def test_kill_and_resume_equals_uninterrupted(tmp_path, reference):
  flags = ["--steps", "12", "--checkpoint-every", "2"]
  proc = subprocess.Popen([sys.executable, DRIVER, str(tmp_path), *flags, "--sleep-per-step", "0.4"],
                          env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  while not (tmp_path / "checkpoints" / "6").is_dir() and time.time() < deadline:
    assert proc.poll() is None, "driver ended before it could be killed"
    time.sleep(0.05)
  os.kill(proc.pid, signal.SIGKILL)
  proc.wait()
  assert not (tmp_path / "result.json").exists()
  err = _run(tmp_path, *flags).stderr
  assert "resumed from checkpoint step" in err
  resumed = _result(tmp_path)
  first = min(int(k) for k in resumed["losses"])
  assert 6 < first <= 12  # it did not start over
  ref_tail = {k: v for k, v in reference["losses"].items() if int(k) >= first}
  _assert_same_run(resumed, {"losses": ref_tail, "digest": reference["digest"]})


@pytest.mark.slow  # ~36 s; make test keeps kill-and-resume
def test_unfinished_save_is_ignored(tmp_path):
  _run(tmp_path, "--steps", "4", "--checkpoint-every", "2")
  ckpt = tmp_path / "checkpoints"
  # A save that crashed midway: orbax's temporary directory, never renamed.
  (ckpt / "6.orbax-checkpoint-tmp-12345").mkdir()
  (tmp_path / "result.json").unlink()
  err = _run(tmp_path, "--steps", "6", "--checkpoint-every", "2").stderr
  assert "resumed from checkpoint step 4" in err


def test_nan_guard_stops_with_step_and_keeps_checkpoint(tmp_path):
  proc = _run(tmp_path, "--steps", "8", "--lr", "1e30", "--checkpoint-every", "1",
              "--optimizer", "sgd", check=False)
  assert proc.returncode == 3, proc.stdout + proc.stderr[-2000:]
  line = next(l for l in proc.stdout.splitlines() if l.startswith("NONFINITE"))
  assert "non-finite loss/gradient at step" in line
  step = int(line.split("at step ")[1].split()[0])
  assert 1 < step <= 8
  kept = sorted(int(p.name) for p in (tmp_path / "checkpoints").iterdir() if p.name.isdigit())
  assert kept and max(kept) == step - 1
  assert f"last good checkpoint is step {step - 1}" in line
