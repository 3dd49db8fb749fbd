"""Starts N processes of one command on this machine, as one multi-process JAX job.

  python -m launch.local --num_processes 2 -- text2tracks train --gin_file=...

Process i gets `T2T_COORDINATOR_ADDRESS=127.0.0.1:PORT`, `T2T_NUM_PROCESSES=N`
and `T2T_PROCESS_ID=i` (read by `text2tracks_jax.training.distributed`), so
`text2tracks train` / `infer` run as N JAX processes with gloo collectives
on CPU. Each output line is prefixed with its process's rank. If a process
fails, the others are stopped (a JAX job cannot go on without one of its
processes) and the launcher exits with the failed process's status.
`--devices_per_process K` gives each process K CPU devices
(`--xla_force_host_platform_device_count`), to try meshes locally.
"""

from __future__ import annotations

import argparse
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Optional, Sequence

from launch import commands


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def process_env(rank: int, num_processes: int, port: int,
                devices_per_process: Optional[int] = None, extra=()) -> dict:
  """The environment variables process `rank` gets on top of ours."""
  env = {"T2T_COORDINATOR_ADDRESS": f"127.0.0.1:{port}",
         "T2T_NUM_PROCESSES": str(num_processes), "T2T_PROCESS_ID": str(rank)}
  if devices_per_process:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices_per_process}"
  env.update(commands.parse_env(extra))
  return env


def command_line(env: dict, argv: Sequence[str]) -> str:
  """`K=V ... cmd args` as one shell-quoted line (what gets printed)."""
  return " ".join([f"{k}={shlex.quote(v)}" for k, v in env.items()]
                  + [shlex.quote(a) for a in argv])


def _pump(rank: int, stream, lines: "queue.Queue"):
  for line in stream:
    lines.put((rank, line))
  lines.put((rank, None))


def _stop(procs, grace_s: float):
  """SIGTERM to every live process group, then SIGKILL after `grace_s`."""
  live = [p for p in procs if p.poll() is None]
  for p in live:
    try:
      os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
      pass
  deadline = time.time() + grace_s
  for p in live:
    try:
      p.wait(timeout=max(deadline - time.time(), 0.01))
    except subprocess.TimeoutExpired:
      try:
        os.killpg(p.pid, signal.SIGKILL)
      except ProcessLookupError:
        pass
      p.wait()


def _status(returncode: int) -> int:
  return 128 - returncode if returncode < 0 else returncode  # killed by signal s -> 128 + s


def launch(argv: Sequence[str], num_processes: int, *, port: Optional[int] = None,
           devices_per_process: Optional[int] = None, env=(), dry_run: bool = False,
           grace_s: float = 10.0, out=None) -> int:
  """Runs `argv` as `num_processes` processes; returns the job's exit status."""
  out = out or sys.stdout
  if not argv:
    raise ValueError("no command given (put it after --)")
  if num_processes < 1:
    raise ValueError(f"--num_processes must be >= 1, got {num_processes}")
  port = port or free_port()
  envs = [process_env(r, num_processes, port, devices_per_process, env)
          for r in range(num_processes)]
  width = len(str(num_processes - 1))
  prefixes = [f"[{r:>{width}}] " for r in range(num_processes)]
  for r, e in enumerate(envs):
    print(f"{prefixes[r]}$ {command_line(e, argv)}", file=out, flush=True)
  if dry_run:
    return 0
  lines: "queue.Queue" = queue.Queue()
  procs = []
  try:
    for r, e in enumerate(envs):
      p = subprocess.Popen(list(argv), env={**os.environ, **e}, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, errors="replace",
                           start_new_session=True)
      procs.append(p)
      threading.Thread(target=_pump, args=(r, p.stdout, lines), daemon=True).start()
    open_streams, status = num_processes, 0
    while open_streams or any(p.poll() is None for p in procs):
      try:
        rank, line = lines.get(timeout=0.1)
        if line is None:
          open_streams -= 1
        else:
          out.write(prefixes[rank] + line if line.endswith("\n") else prefixes[rank] + line + "\n")
          out.flush()
      except queue.Empty:
        pass
      failed = [(r, p.returncode) for r, p in enumerate(procs)
                if p.poll() is not None and p.returncode != 0]
      if failed and not status:
        rank, code = failed[0]
        status = _status(code)
        print(f"{prefixes[rank]}exited with status {status}; stopping the other processes",
              file=out, flush=True)
        _stop(procs, grace_s)
    return status
  except KeyboardInterrupt:
    _stop(procs, grace_s)
    return 130
  except BaseException:
    _stop(procs, grace_s)
    raise


def main(argv=None) -> int:
  argv, command = commands.split_command(sys.argv[1:] if argv is None else argv)
  p = argparse.ArgumentParser(
      prog="python -m launch.local", description=__doc__.split("\n\n", 1)[0],
      usage="%(prog)s --num_processes N [options] -- COMMAND [ARGS...]")
  p.add_argument("--num_processes", type=int, required=True)
  p.add_argument("--port", type=int, help="coordinator port (default: a free one)")
  p.add_argument("--devices_per_process", type=int,
                 help="CPU devices per process (XLA_FLAGS host device count)")
  p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                 help="extra environment variable for every process (repeatable)")
  p.add_argument("--grace_s", type=float, default=10.0,
                 help="seconds between SIGTERM and SIGKILL when stopping processes")
  p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
  args = p.parse_args(argv)
  if not command:
    p.error("no command: put it after --, e.g. -- text2tracks train --gin_file=...")
  try:
    return launch(command, args.num_processes, port=args.port,
                  devices_per_process=args.devices_per_process, env=args.env,
                  dry_run=args.dry_run, grace_s=args.grace_s)
  except ValueError as e:
    p.error(str(e))
    return 2


if __name__ == "__main__":
  sys.exit(main())
