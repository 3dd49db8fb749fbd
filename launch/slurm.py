"""Fills `launch/slurm_gpu.sbatch` for a command and submits it with `sbatch`.

  python -m launch.slurm --nodes 2 --gpus_per_node 8 --time 04:00:00 \\
      --sbatch=--partition=gpu -- \\
      text2tracks train --gin_file=gin_configs/runs/train_tiny.gin \\
      --gin.train.workdir="'/shared/t2t/base'" --gin.train.num_partitions=1 ...

The filled script is written to `--out` (default `slurm/JOB_NAME.sbatch`) and
submitted; `--dry_run` prints the script and the `sbatch` command instead.
Every node runs one process with all its GPUs; `T2T_COORDINATOR_ADDRESS`
(first node), `T2T_NUM_PROCESSES` and `T2T_PROCESS_ID` come from SLURM's
variables (see the template). The workdir must be on a filesystem every node
sees (or `gs://...`); re-submitting the same job resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys

from launch import commands

TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slurm_gpu.sbatch")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fill(template: str, **fields) -> str:
  """Replaces every `{{name}}` of `template`; every field must be given."""
  names = set(re.findall(r"{{(\w+)}}", template))
  missing, unknown = names - fields.keys(), fields.keys() - names
  if missing or unknown:
    raise ValueError(f"template fields missing {sorted(missing)}, unknown {sorted(unknown)}")
  return re.sub(r"{{(\w+)}}", lambda m: str(fields[m.group(1)]), template)


def render(command, *, job_name: str = "text2tracks", nodes: int = 1,
           gpus_per_node: int = 8, cpus_per_task: int = 32, time: str = "04:00:00",
           log_dir: str = "slurm", repo_dir: str = ROOT, venv: str = ".venv",
           port: int = 12345, sbatch=(), env=()) -> str:
  """The batch script running `command` (argv) on `nodes` nodes."""
  exports = [f"export {k}={shlex.quote(v)}" for k, v in commands.parse_env(env).items()]
  for option in sbatch:
    if not option.startswith("--"):
      raise ValueError(f"--sbatch expects an sbatch option like --partition=gpu, got {option!r}")
  with open(TEMPLATE, encoding="utf-8") as f:
    template = f.read()
  return fill(template, job_name=job_name, nodes=nodes, gpus_per_node=gpus_per_node,
              cpus_per_task=cpus_per_task, time=time, log_dir=log_dir,
              extra_sbatch="\n".join(f"#SBATCH {o}" for o in sbatch),
              repo_dir=shlex.quote(repo_dir), venv=shlex.quote(venv), port=port,
              exports="\n".join(exports), command=shlex.join(command))


def main(argv=None) -> int:
  flags, command = commands.split_command(sys.argv[1:] if argv is None else argv)
  p = argparse.ArgumentParser(
      prog="python -m launch.slurm", description=__doc__.split("\n\n", 1)[0],
      usage="%(prog)s --nodes N [options] -- COMMAND [ARGS...]")
  p.add_argument("--nodes", type=int, required=True)
  p.add_argument("--gpus_per_node", type=int, default=8)
  p.add_argument("--cpus_per_task", type=int, default=32)
  p.add_argument("--time", default="04:00:00", help="wall-clock limit (HH:MM:SS)")
  p.add_argument("--job_name", default="text2tracks")
  p.add_argument("--venv", default=".venv", help="virtual environment (relative to --repo_dir)")
  p.add_argument("--repo_dir", default=ROOT, help="project checkout, the same path on every node")
  p.add_argument("--port", type=int, default=12345, help="coordinator port on the first node")
  p.add_argument("--log_dir", default="slurm", help="where SLURM writes the job's output")
  p.add_argument("--sbatch", action="append", default=[], metavar="--OPTION=VALUE",
                 help="extra #SBATCH option, e.g. --sbatch=--partition=gpu (repeatable)")
  p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                 help="environment variable for the job (repeatable)")
  p.add_argument("--out", help="where to write the filled script (default LOG_DIR/JOB_NAME.sbatch)")
  p.add_argument("--dry_run", action="store_true", help="print the script and command only")
  args = p.parse_args(flags)
  if not command:
    p.error("no command: put it after --, e.g. -- text2tracks train --gin_file=...")
  if args.nodes < 1:
    p.error(f"--nodes must be >= 1, got {args.nodes}")
  try:
    script = render(command, job_name=args.job_name, nodes=args.nodes,
                    gpus_per_node=args.gpus_per_node, cpus_per_task=args.cpus_per_task,
                    time=args.time, log_dir=args.log_dir, repo_dir=args.repo_dir,
                    venv=args.venv, port=args.port, sbatch=args.sbatch, env=args.env)
  except ValueError as e:
    p.error(str(e))
  out = args.out or os.path.join(args.log_dir, f"{args.job_name}.sbatch")
  if args.dry_run:
    print(f"# {out}:\n{script}")
  else:
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    os.makedirs(args.log_dir, exist_ok=True)
    with open(out, "w", encoding="utf-8") as f:
      f.write(script)
    print(f"wrote {out}")
  return commands.run(["sbatch", out], args.dry_run, check=False)


if __name__ == "__main__":
  sys.exit(main())
