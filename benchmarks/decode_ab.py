"""`generate` at another git revision against the working tree, in one process.

  python -m benchmarks.decode_ab REV [--size small] [--new-tokens 16] [--rounds 30]

For decoder changes: the host's load moves absolute times, and ratios to
Hugging Face taken hours apart, by more than a few-percent change does. Both
sides here run in one process on the same weights (the decoding benchmark's
random HF checkpoint, imported once) and the same inputs, in interleaved
rounds of a seeded random order (`bench_decoding._compare_rounds`); the
result is the geometric mean of the per-round time ratios REV / ours with a
95% interval, and whether the sequences are identical. REV's
`text2tracks_jax` is exported with `git archive` into a temporary directory
under another package name, so both import side by side (their parameter
trees must match). Writes `benchmarks/results/decode_ab_SIZE_N.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from benchmarks import bench_decoding as bd
from benchmarks import run

PACKAGE = "text2tracks_jax"


def export_revision(rev: str, dest: Path) -> str:
  """Extracts `rev`'s package into dest as `t2t_rev_<sha>` (imports rewritten);
  returns that package name. Raises ValueError on an unknown revision."""
  try:
    sha = subprocess.check_output(
        ["git", "rev-parse", "--verify", "--short=10", f"{rev}^{{commit}}"],
        cwd=bd.ROOT, text=True, stderr=subprocess.DEVNULL).strip()
  except subprocess.CalledProcessError:
    raise ValueError(f"unknown git revision {rev!r}") from None
  name = f"t2t_rev_{sha}"
  archive = dest / "rev.tar"
  subprocess.run(["git", "archive", "-o", str(archive), sha, PACKAGE], cwd=bd.ROOT, check=True)
  with tarfile.open(archive) as tar:
    tar.extractall(dest, filter="data")
  (dest / PACKAGE).rename(dest / name)
  for path in (dest / name).rglob("*.py"):
    path.write_text(path.read_text().replace(PACKAGE, name))
  return name


def _model_at(package: str, config):
  """REV's T5Model for our config (the fields REV's T5Config has)."""
  configs = importlib.import_module(f"{package}.models.configs")
  network = importlib.import_module(f"{package}.models.network")
  fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(configs.T5Config)
            if hasattr(config, f.name)}
  return network.T5Model(configs.T5Config(**fields))


def compare(rev: str, package: str, size: str, new_tokens: int, rounds: int,
            workdir: Path) -> dict:
  """Paired rounds of REV's `generate` (exported as `package` in workdir) and ours."""
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  sys.path.insert(0, str(workdir))
  other = importlib.import_module(f"{package}.decoding.generation")
  model, params = bd._load(bd._checkpoint(workdir, size))
  other_model = _model_at(package, model.config)
  enc = jnp.asarray(bd._inputs(model.config.vocab_size))
  kwargs = dict(num_beams=bd.BEAMS, num_beam_groups=bd.GROUPS, diversity_penalty=bd.PENALTY,
                max_new_tokens=new_tokens)
  fns = {"rev": lambda: other.generate(other_model, params, enc, **kwargs),
         "ours": bd._ours_generate(model, params, enc, new_tokens)}
  a, b = fns["rev"](), fns["ours"]()
  same = float(np.mean(np.all(np.asarray(a.sequences) == np.asarray(b.sequences), axis=-1)))
  times = bd._compare_rounds(fns, rounds)
  log_ratio = np.log(np.asarray(times["rev"]["rounds_s"]) / np.asarray(times["ours"]["rounds_s"]))
  half = 1.96 * log_ratio.std(ddof=1) / np.sqrt(len(log_ratio))
  return {"rev": rev, "package": package, "size": size, "new_tokens": new_tokens,
          "rounds": rounds, "speedup": round(float(np.exp(log_ratio.mean())), 4),
          "ci95": [round(float(np.exp(log_ratio.mean() - half)), 4),
                   round(float(np.exp(log_ratio.mean() + half)), 4)],
          "median_ratio": round(float(np.exp(np.median(log_ratio))), 4),
          "same_sequences": same,
          "max_score_diff": float(np.max(np.abs(np.asarray(a.scores) - np.asarray(b.scores)))),
          "times": times}


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
  p.add_argument("rev", help="git revision to compare the working tree against")
  p.add_argument("--size", choices=sorted(bd.SHAPES), default="small")
  p.add_argument("--new-tokens", type=int, default=16)
  p.add_argument("--rounds", type=int, default=30)
  args = p.parse_args(argv)
  if args.rounds < 2 or args.new_tokens < 1:
    p.error("--rounds must be >= 2 and --new-tokens >= 1")
  with tempfile.TemporaryDirectory(prefix="decode-ab-") as tmp:
    try:
      package = export_revision(args.rev, Path(tmp))
    except ValueError as e:
      print(f"decode_ab: {e} (REV)", file=sys.stderr)
      return 2
    out = compare(args.rev, package, args.size, args.new_tokens, args.rounds, Path(tmp))
  out.update(machine=run._machine(), git=run._git_rev())  # pylint: disable=protected-access
  run.RESULTS.mkdir(parents=True, exist_ok=True)
  path = run.RESULTS / f"decode_ab_{args.size}_{args.new_tokens}.json"
  tmp_path = path.with_suffix(".json.tmp")
  tmp_path.write_text(json.dumps(out, indent=2) + "\n")
  os.replace(tmp_path, path)
  print(f"{args.size}, {args.new_tokens} new tokens, {args.rounds} rounds: ours vs {args.rev} "
        f"{out['speedup']:.3f}x (95% CI {out['ci95'][0]:.3f}-{out['ci95'][1]:.3f}; median "
        f"{out['median_ratio']:.3f}x; median s {args.rev} {out['times']['rev']['median_s']:.3f}, "
        f"ours {out['times']['ours']['median_s']:.3f}); same sequences "
        f"{out['same_sequences']:.0%} -> {path}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
