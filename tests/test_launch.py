"""Launchers: dry runs print the exact commands; the local launcher runs N real
processes; the SLURM script wires jax.distributed (fake `srun`/`scontrol`)."""

import os
import shlex
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `launch/` is run from the repository root, not installed
  sys.path.insert(0, str(ROOT))

from launch import local, slurm, tpu_vm  # pylint: disable=wrong-import-position
from text2tracks_jax.training import distributed  # pylint: disable=wrong-import-position


def _launcher(*args, timeout=120):
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  for k in ("T2T_COORDINATOR_ADDRESS", "T2T_NUM_PROCESSES", "T2T_PROCESS_ID", "XLA_FLAGS"):
    env.pop(k, None)
  return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=timeout)


# -- local -----------------------------------------------------------------------

def test_local_runs_processes_with_rank_prefixed_output():
  show = "import os; print(*(os.environ[k] for k in ('T2T_PROCESS_ID', 'T2T_NUM_PROCESSES', " \
         "'T2T_COORDINATOR_ADDRESS')), flush=True)"
  proc = _launcher("launch.local", "--num_processes", "3", "--port", "4321",
                   "--env", "A=1", "--", sys.executable, "-c", show)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  lines = proc.stdout.splitlines()
  for r in range(3):
    assert f"[{r}] $ T2T_COORDINATOR_ADDRESS=127.0.0.1:4321 T2T_NUM_PROCESSES=3 " \
           f"T2T_PROCESS_ID={r} A=1 {shlex.quote(sys.executable)} -c" in proc.stdout
    assert f"[{r}] {r} 3 127.0.0.1:4321" in lines


def test_local_stops_the_others_when_one_fails():
  script = ("import os, sys, time\n"
            "if os.environ['T2T_PROCESS_ID'] == '1':\n"
            "  time.sleep(2); sys.exit(7)\n"
            "print('waiting', flush=True); time.sleep(120)\n")
  start = time.time()
  proc = _launcher("launch.local", "--num_processes", "3", "--grace_s", "2", "--",
                   sys.executable, "-c", script)
  assert proc.returncode == 7
  assert time.time() - start < 60  # the sleepers were stopped
  assert "[1] exited with status 7; stopping the other processes" in proc.stdout
  assert "[0] waiting" in proc.stdout and "[2] waiting" in proc.stdout


def test_local_dry_run_prints_and_runs_nothing(tmp_path):
  marker = tmp_path / "ran"
  proc = _launcher("launch.local", "--num_processes", "2", "--devices_per_process", "4",
                   "--dry_run", "--", "touch", str(marker))
  assert proc.returncode == 0 and not marker.exists()
  assert proc.stdout.count("$ ") == 2
  assert "XLA_FLAGS=--xla_force_host_platform_device_count=4" in proc.stdout


@pytest.mark.parametrize("argv,error", [
    (["--num_processes", "2"], "no command"),
    (["--num_processes", "0", "--", "true"], "must be >= 1"),
    (["--num_processes", "2", "--env", "NOEQUALS", "--", "true"], "KEY=VALUE"),
])
def test_local_rejects_bad_arguments(argv, error, capsys):
  with pytest.raises(SystemExit) as e:
    local.main(argv)
  assert e.value.code == 2 and error in capsys.readouterr().err


# -- Cloud TPU VM ------------------------------------------------------------------

def _tpu_dry_run(*flags):
  proc = _launcher("launch.tpu_vm", "--name", "t2t", "--zone", "us-central2-b",
                   "--accelerator_type", "v4-32", "--dry_run", *flags, "--",
                   "text2tracks", "train", "--gin_file=gin_configs/runs/train_tiny.gin",
                   "--gin.train.workdir='gs://bucket/t2t'")
  assert proc.returncode == 0, proc.stderr
  return [shlex.split(l[2:]) for l in proc.stdout.splitlines() if l.startswith("$ ")]


def _remote_script(argv):
  """The bash script a `tpu-vm ssh --command=bash -c SCRIPT` runs on the workers."""
  (command,) = [a[len("--command="):] for a in argv if a.startswith("--command=")]
  bash, dash_c, script = shlex.split(command)
  assert (bash, dash_c) == ("bash", "-c")
  return script


def test_tpu_vm_dry_run_creates_installs_runs_and_deletes():
  steps = _tpu_dry_run("--setup", "gsutil -m cp -r gs://bucket/runs/mpd runs/",
                       "--env", "TEXT2TRACKS_RUN_DIRS=runs/mpd")
  verbs = [s[4] if s[0] == "gcloud" else s[0] for s in steps]
  assert verbs == ["create", "git", "scp", "ssh", "ssh", "ssh", "delete"]
  assert steps[0] == ["gcloud", "compute", "tpus", "tpu-vm", "create", "t2t",
                      "--zone=us-central2-b", "--accelerator-type=v4-32",
                      "--version=tpu-ubuntu2204-base"]
  assert steps[1][-3:] == ["-o", steps[2][5], "HEAD"]  # the archive is what gets copied
  assert "--worker=all" in steps[2] and all("--worker=all" in s for s in steps[3:6])
  install = _remote_script(steps[3])
  assert "tar -xzf text2tracks-jax.tar.gz" in install and "pip install --quiet -e '.[tpu]'" in install
  assert "gsutil -m cp -r gs://bucket/runs/mpd runs/" in _remote_script(steps[4])
  job = _remote_script(steps[5])
  assert "export T2T_AUTO_DISTRIBUTED=1 TEXT2TRACKS_RUN_DIRS=runs/mpd;" in job
  # The command reaches the workers with its gin quoting intact.
  assert shlex.split(job.rsplit("; ", 1)[1]) == [
      "text2tracks", "train", "--gin_file=gin_configs/runs/train_tiny.gin",
      "--gin.train.workdir='gs://bucket/t2t'"]
  assert steps[6][-1] == "--quiet"


def test_tpu_vm_reuse_with_git_clone_keeps_the_slice():
  steps = _tpu_dry_run("--reuse", "--repo", "https://example.com/t2t.git", "--ref", "v1",
                       "--project", "p")
  assert [s[4] for s in steps] == ["ssh", "ssh"]  # no create, no delete
  assert "--project=p" in steps[0]
  assert "git clone --depth 1 --branch v1 https://example.com/t2t.git" in _remote_script(steps[0])


def test_tpu_vm_needs_a_command_and_ref_needs_repo(capsys):
  base = ["--name", "n", "--zone", "z"]
  with pytest.raises(SystemExit):
    tpu_vm.main(base)
  with pytest.raises(SystemExit):
    tpu_vm.main(base + ["--ref", "main", "--", "true"])
  assert "--ref needs --repo" in capsys.readouterr().err


# -- SLURM -------------------------------------------------------------------------

def test_slurm_dry_run_prints_the_filled_script_and_sbatch(tmp_path):
  proc = _launcher("launch.slurm", "--nodes", "4", "--gpus_per_node", "8", "--time", "2:00:00",
                   "--sbatch=--partition=gpu", "--env", "TEXT2TRACKS_RUN_DIRS=runs/mpd",
                   "--out", str(tmp_path / "job.sbatch"), "--dry_run", "--",
                   "text2tracks", "train", "--gin.train.workdir='/shared/w'")
  assert proc.returncode == 0, proc.stderr
  out = proc.stdout
  assert not (tmp_path / "job.sbatch").exists()
  for line in ["#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8", "#SBATCH --time=2:00:00",
               "#SBATCH --partition=gpu", "export TEXT2TRACKS_RUN_DIRS=runs/mpd"]:
    assert line in out.splitlines()
  assert "{{" not in out
  assert out.splitlines()[-1] == f"$ sbatch {tmp_path / 'job.sbatch'}"


def test_slurm_template_fields_must_all_be_given():
  with pytest.raises(ValueError, match="missing"):
    slurm.fill("{{a}} {{b}}", a=1)
  with pytest.raises(ValueError, match="--env"):
    slurm.render(["true"], env=["1BAD=x"])


def _fake_slurm_bin(tmp_path):
  """`scontrol show hostnames` -> localhost; `srun` runs its command as 2 tasks."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir()
  scripts = {
      "scontrol": "#!/bin/bash\necho localhost\necho otherhost\n",
      "srun": ("#!/bin/bash\nwhile [[ $1 == --* ]]; do shift; done\n"
               "for r in 0 1; do SLURM_PROCID=$r \"$@\" 2>&1 | sed \"s/^/$r: /\" & done\n"
               "wait\n"),
  }
  for name, text in scripts.items():
    (bin_dir / name).write_text(text)
    (bin_dir / name).chmod(stat.S_IRWXU)
  return bin_dir


def test_slurm_script_starts_a_two_process_jax_job(tmp_path):
  """The batch script as SLURM would run it (fake srun/scontrol): both tasks
  join one JAX job through T2T_* variables derived from SLURM's."""
  job = ("from text2tracks_jax.training import distributed; distributed.initialize(); "
         "import jax; print('rank', jax.process_index(), 'of', jax.process_count(), flush=True)")
  script = slurm.render([sys.executable, "-c", job], repo_dir=str(ROOT), venv=".venv",
                        port=local.free_port(), log_dir=str(tmp_path))
  (tmp_path / "job.sbatch").write_text(script)
  env = {**os.environ, "PATH": f"{_fake_slurm_bin(tmp_path)}:{os.environ['PATH']}",
         "SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "node[1-2]", "SLURM_NTASKS": "2",
         "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  for k in ("T2T_COORDINATOR_ADDRESS", "T2T_NUM_PROCESSES", "T2T_PROCESS_ID", "XLA_FLAGS"):
    env.pop(k, None)
  proc = subprocess.run(["bash", str(tmp_path / "job.sbatch")], env=env, capture_output=True,
                        text=True, timeout=180)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  assert "0: rank 0 of 2" in proc.stdout and "1: rank 1 of 2" in proc.stdout


# -- distributed.initialize settings -------------------------------------------------

def test_distributed_settings_from_t2t_slurm_and_auto():
  t2t = {"T2T_COORDINATOR_ADDRESS": "h:1", "T2T_NUM_PROCESSES": "4", "T2T_PROCESS_ID": "3"}
  slurm_step = {"SLURM_JOB_ID": "7", "SLURM_STEP_NODELIST": "n[1-2]", "SLURM_NTASKS": "2",
                "SLURM_PROCID": "1", "SLURM_LOCALID": "0"}
  assert distributed.settings_from_env({}) is None
  assert distributed.settings_from_env(t2t) == distributed.Settings("explicit", "h:1", 4, 3)
  # Explicit T2T_* settings win over SLURM's own.
  assert distributed.settings_from_env({**slurm_step, **t2t}).source == "explicit"
  assert distributed.settings_from_env(slurm_step) == distributed.Settings("slurm", None, 2, 1)
  assert distributed.settings_from_env({**slurm_step, "SLURM_NTASKS": "1"}) is None
  assert distributed.settings_from_env({"T2T_AUTO_DISTRIBUTED": "1"}).source == "auto"
  assert distributed.settings_from_env({"T2T_NUM_PROCESSES": "1", "T2T_PROCESS_ID": "0",
                                        "T2T_COORDINATOR_ADDRESS": "h:1"}) is None
  with pytest.raises(ValueError, match="T2T_PROCESS_ID"):
    distributed.settings_from_env({**t2t, "T2T_PROCESS_ID": "4"})


# -- gin_configs/t5x ---------------------------------------------------------------

OURS = ("tasks", "text2tracks_jax")


def _our_bindings(text):
  """(alias -> module) of the file's imports of our modules, and every
  (selector, parameter or None) it binds or references."""
  import re  # pylint: disable=import-outside-toplevel
  aliases, used, block = {}, [], None
  for line in text.splitlines():
    code = line.split("#", 1)[0].rstrip()
    if m := re.fullmatch(r"from ([\w.]+) import (\w+)", code):
      aliases[m[2]] = f"{m[1]}.{m[2]}"
    elif m := re.fullmatch(r"import ([\w.]+)", code):
      aliases[m[1].split(".")[0]] = m[1].split(".")[0]
    elif m := re.fullmatch(r"([\w.]+):", code):
      block = m[1]
    elif m := re.fullmatch(r"  (\w+) = .*", code):
      used.append((block, m[1]))
    elif m := re.fullmatch(r"([\w.]+)\.(\w+) = .*", code):
      block = None
      used.append((m[1], m[2]))
    elif code and not code.startswith(" "):
      block = None
    used += [(ref, None) for ref in re.findall(r"@([\w.]+)", code)]
  return {a: m for a, m in aliases.items() if m.split(".")[0] in OURS}, used


@pytest.mark.parametrize("name", ["finetune_flan_t5_base.gin", "infer_flan_t5_base.gin"])
def test_t5x_configs_bind_real_functions_and_arguments_of_ours(name):
  import importlib  # pylint: disable=import-outside-toplevel
  import inspect  # pylint: disable=import-outside-toplevel
  aliases, used = _our_bindings((ROOT / "gin_configs" / "t5x" / name).read_text())
  checked = 0
  for selector, param in used:
    alias, *attrs = selector.split(".")
    if alias not in aliases:
      continue  # T5X's, optax's, seqio's: not installed here
    obj = importlib.import_module(aliases[alias])
    for attr in attrs:
      obj = getattr(obj, attr)
    assert callable(obj), selector
    if param is not None:
      params = inspect.signature(obj).parameters
      takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
      assert param in params or takes_kwargs, f"{selector}.{param}"
    checked += 1
  assert checked >= 3
  if name.startswith("infer"):
    from text2tracks_jax.decoding import beam_search  # pylint: disable=import-outside-toplevel
    # diverse_beam_search passes its **kwargs on to search().
    dbs = {p for s, p in used if s == "beam_search.diverse_beam_search" and p}
    assert {"num_beam_groups", "diversity_penalty", "constraint"} <= dbs
    assert dbs <= set(inspect.signature(beam_search.search).parameters)


def test_t5x_predictions_line_is_ours_best_first():
  from launch import t5x_predictions  # pylint: disable=import-outside-toplevel
  row = {"inputs": {"inputs_pretokenized": "slow dancing"},
         "prediction": ["<c>", "<bogus>", "<b>", "<a>"], "aux": {"scores": [-4.0, -3.0, -2.0, -1.0]}}
  id_to_tracks = {"<a>": ["t1", "t2"], "<b>": ["t2", "t3"], "<c>": ["t4"]}
  line = t5x_predictions.convert_line(row, "q7", "slow dancing", id_to_tracks, top_n=3)
  assert line == {"query_id": "q7", "query": "slow dancing", "track_ids": ["t1", "t2", "t3"],
                  "generated_ids": ["<a>", "<b>", "<bogus>", "<c>"],
                  "scores": [-1.0, -2.0, -3.0, -4.0], "invalid_ids": 1}
  with pytest.raises(ValueError, match="same split, in order"):
    t5x_predictions.convert_line(row, "q8", "another query", id_to_tracks, top_n=3)
