"""What every launcher shares: print a command exactly as it will run, then run it."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from typing import Sequence


def show(argv: Sequence[str]) -> str:
  return shlex.join(argv)


def run(argv: Sequence[str], dry_run: bool, out=None, check: bool = True,
        note: str | None = None) -> int:
  """Prints `# note` and `$ argv` (shell-quoted, as it runs); runs it unless
  `dry_run`. Returns its exit status (raises CalledProcessError if `check`)."""
  out = out or sys.stdout
  if note:
    print(f"# {note}", file=out)
  print(f"$ {show(argv)}", file=out, flush=True)
  if dry_run:
    return 0
  status = subprocess.run(list(argv), check=False).returncode
  if check and status:
    raise subprocess.CalledProcessError(status, list(argv))
  return status


def split_command(argv: Sequence[str]):
  """(launcher flags, the command after `--`)."""
  argv = list(argv)
  if "--" not in argv:
    return argv, []
  i = argv.index("--")
  return argv[:i], argv[i + 1:]


def parse_env(items: Sequence[str]) -> dict:
  """`--env KEY=VALUE` flags -> {KEY: VALUE}; KEY must be a shell variable name."""
  env = {}
  for item in items:
    key, sep, value = item.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key):
      raise ValueError(f"--env expects KEY=VALUE, got {item!r}")
    env[key] = value
  return env
