"""Runs a command on every worker of a Cloud TPU VM slice, as one JAX job.

  python -m launch.tpu_vm --name t2t --zone us-central2-b --accelerator_type v4-32 \\
      --setup 'gcloud storage cp -r gs://BUCKET/runs/mpd runs/' \\
      --env TEXT2TRACKS_RUN_DIRS=runs/mpd -- \\
      text2tracks train --gin_file=gin_configs/runs/train_tiny.gin \\
      --gin.train.run_dir="'runs/mpd'" --gin.train.workdir="'gs://BUCKET/t2t/base'" ...

Steps, each printed as the exact `gcloud` command before it runs:

1. create the slice (`gcloud compute tpus tpu-vm create`; skipped with --reuse);
2. put the project on every worker: `git archive` of this checkout's HEAD,
   copied with `tpu-vm scp --worker=all` (or `git clone --repo URL --ref REF`
   on the workers), then `pip install -e .[tpu]` into a virtual environment;
3. run each --setup command on every worker (e.g. copy the run directory);
4. run the command on every worker (`tpu-vm ssh --worker=all`) with
   `T2T_AUTO_DISTRIBUTED=1`, so that `jax.distributed.initialize()` finds the
   slice's coordinator itself; the output of every worker streams here, each
   line prefixed with its worker's host name;
5. delete the slice, whatever happened, unless --keep (or --reuse).

Checkpoints go where `train.workdir` says: use `gs://...` so that they outlive
the slice; re-running the same command (with --reuse, or on a new slice)
resumes from the last checkpoint. `--dry_run` prints the commands only.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile

from launch import commands

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REMOTE_DIR = "text2tracks-jax"  # in the worker's home directory
REMOTE_VENV = "t2t-venv"


class Slice:
  """`gcloud compute tpus tpu-vm` commands for one named slice."""

  def __init__(self, name: str, zone: str, project: str | None = None):
    self.name, self.zone, self.project = name, zone, project

  def _gcloud(self, verb: str, *args: str) -> list:
    argv = ["gcloud", "compute", "tpus", "tpu-vm", verb, self.name, f"--zone={self.zone}"]
    if self.project:
      argv.append(f"--project={self.project}")
    return argv + list(args)

  def create(self, accelerator_type: str, version: str, spot: bool = False) -> list:
    return self._gcloud("create", f"--accelerator-type={accelerator_type}",
                        f"--version={version}", *(["--spot"] if spot else []))

  def ssh(self, script: str) -> list:
    """Runs the bash `script` on every worker."""
    return self._gcloud("ssh", "--worker=all", f"--command=bash -c {shlex.quote(script)}")

  def scp(self, local: str, remote: str) -> list:
    argv = ["gcloud", "compute", "tpus", "tpu-vm", "scp", local, f"{self.name}:{remote}",
            "--worker=all", f"--zone={self.zone}"]
    return argv + ([f"--project={self.project}"] if self.project else [])

  def delete(self) -> list:
    return self._gcloud("delete", "--quiet")


def install_script(python: str, repo: str | None = None, ref: str | None = None,
                   tarball: str | None = None, extras: str = "tpu") -> str:
  """The shell run on every worker to (re)install the project."""
  if repo:
    fetch = (f"rm -rf {REMOTE_DIR} && git clone --depth 1"
             f"{' --branch ' + shlex.quote(ref) if ref else ''} {shlex.quote(repo)} {REMOTE_DIR}")
  else:
    fetch = (f"rm -rf {REMOTE_DIR} && mkdir -p {REMOTE_DIR} && "
             f"tar -xzf {shlex.quote(tarball)} -C {REMOTE_DIR}")
  return " && ".join([
      "set -e", fetch,
      f"({python} -m venv {REMOTE_VENV} || (sudo apt-get update -qq && "
      f"sudo apt-get install -y -qq python3-venv && {python} -m venv {REMOTE_VENV}))",
      f"{REMOTE_VENV}/bin/pip install --quiet --upgrade pip",
      f"cd {REMOTE_DIR} && ~/{REMOTE_VENV}/bin/pip install --quiet -e '.[{extras}]'"])


def run_script(command, env: dict, setup: bool = False) -> str:
  """The shell run on every worker: the command in the project's directory and
  virtual environment, its output prefixed with the worker's host name."""
  exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
  body = command if setup else shlex.join(command)
  prefix = "" if setup else "exec > >(sed -u \"s/^/[$(hostname)] /\") 2>&1; "
  return (f"set -eo pipefail; cd {REMOTE_DIR} && source ~/{REMOTE_VENV}/bin/activate && "
          f"{prefix}{'export ' + exports + '; ' if exports else ''}{body}")


def _env_items(items) -> dict:
  return {"T2T_AUTO_DISTRIBUTED": "1", **commands.parse_env(items)}


def _archive_head(dry_run: bool) -> str:
  """This checkout's committed HEAD as a tarball (uncommitted changes are not in it)."""
  path = os.path.join(tempfile.gettempdir(), "text2tracks-jax.tar.gz")
  commands.run(["git", "-C", ROOT, "archive", "--format=tar.gz", "-o", path, "HEAD"], dry_run)
  return path


def launch(args, command) -> int:
  vm = Slice(args.name, args.zone, args.project)
  env = _env_items(args.env)
  created = False
  status = 0
  try:
    if not args.reuse:
      commands.run(vm.create(args.accelerator_type, args.version, args.spot), args.dry_run)
      created = True
    if not args.skip_install:
      tarball = None
      if not args.repo:
        local = _archive_head(args.dry_run)
        tarball = os.path.basename(local)
        commands.run(vm.scp(local, "~/"), args.dry_run)
      script = install_script(args.python, args.repo, args.ref, tarball)
      commands.run(vm.ssh(script), args.dry_run, note=f"install, on every worker: {script}")
    for setup in args.setup:
      script = run_script(setup, env, setup=True)
      commands.run(vm.ssh(script), args.dry_run, note=f"setup, on every worker: {script}")
    script = run_script(command, env)
    status = commands.run(vm.ssh(script), args.dry_run, check=False,
                          note=f"the job, on every worker: {script}")
  except subprocess.CalledProcessError as e:
    print(f"failed ({e.returncode}): {commands.show(e.cmd)}", file=sys.stderr)
    status = e.returncode or 1
  except KeyboardInterrupt:
    status = 130
  finally:
    if created and not args.keep:
      commands.run(vm.delete(), args.dry_run, check=False)
    elif created or args.reuse:
      print(f"# slice {args.name} kept; delete it with: {commands.show(vm.delete())}", flush=True)
  return status


def build_parser() -> argparse.ArgumentParser:
  p = argparse.ArgumentParser(
      prog="python -m launch.tpu_vm", description=__doc__.split("\n\n", 1)[0],
      usage="%(prog)s --name NAME --zone ZONE --accelerator_type TYPE [options] -- COMMAND...")
  p.add_argument("--name", required=True, help="TPU VM (slice) name")
  p.add_argument("--zone", required=True, help="e.g. us-central2-b (v4), us-west4-a (v5e)")
  p.add_argument("--accelerator_type", default="v4-8",
                 help="e.g. v4-8, v4-32, v5litepod-16 (default v4-8)")
  p.add_argument("--version", default="tpu-ubuntu2204-base",
                 help="TPU software version (v5e: v2-alpha-tpuv5-lite)")
  p.add_argument("--project", help="GCP project (default: gcloud's)")
  p.add_argument("--spot", action="store_true", help="a Spot (preemptible) slice")
  p.add_argument("--repo", help="git URL to clone on the workers (default: copy this "
                                "checkout's HEAD with git archive + scp)")
  p.add_argument("--ref", help="branch or tag to clone with --repo")
  p.add_argument("--python", default="python3", help="worker Python for the venv")
  p.add_argument("--setup", action="append", default=[], metavar="SHELL",
                 help="shell command run on every worker before the job (repeatable)")
  p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                 help="environment variable for the job (repeatable)")
  p.add_argument("--reuse", action="store_true",
                 help="the slice exists already: do not create it (nor delete it)")
  p.add_argument("--skip_install", action="store_true",
                 help="the project is installed on the workers already")
  p.add_argument("--keep", action="store_true", help="do not delete the slice at the end")
  p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
  return p


def main(argv=None) -> int:
  flags, command = commands.split_command(sys.argv[1:] if argv is None else argv)
  p = build_parser()
  args = p.parse_args(flags)
  if not command:
    p.error("no command: put it after --, e.g. -- text2tracks train --gin_file=...")
  if args.ref and not args.repo:
    p.error("--ref needs --repo")
  try:
    _env_items(args.env)
  except ValueError as e:
    p.error(str(e))
  return launch(args, command)


if __name__ == "__main__":
  sys.exit(main())
