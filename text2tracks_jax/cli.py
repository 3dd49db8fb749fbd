"""`text2tracks <verb>`: the command-line entry point.

Flags are spelled as T5X's (`--gin_file=...`, repeatable, and
`--gin.BINDING=value`) but parsed with argparse; progress and warnings go through
`logging` (the `text2tracks_jax` loggers, configured here by `logs.configure`:
the bare message on stderr); a verb's results (tables, recommendations, `wrote
PATH`) are printed on stdout.
absl is not used (TensorFlow and Orbax still install it).

The only module that imports lazily for speed: the package's own modules (they
pull in numpy and gin; `logs`, standard library only, is the exception) and the
heavy libraries (JAX, TensorFlow, torch) are imported inside the verbs that need
them, so `text2tracks --help` imports none of them and answers at once
(tests/test_cli.py checks it). Everywhere else imports are at the top of the
module, except optional or slow third-party ones, each marked `# lazy:` with its
reason.
"""

# The imports inside functions below are the lazy ones the docstring explains.
# pylint: disable=import-outside-toplevel

from __future__ import annotations

import argparse
import collections.abc
import contextlib
import importlib
import json
import logging
import os
import re
import sys
import tempfile
from pathlib import Path

from text2tracks_jax import logs

EXIT_BAD_INPUT = 2  # a UserError (data/errors.py): a bad flag, setting or input
# gin files named relative to the repository also resolve from elsewhere.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where `gin_configs/...` is looked up: a checkout (editable install), then the
# installed package, which ships gin_configs/ inside it (setup.py).
GIN_ROOTS = (_REPO_ROOT, os.path.dirname(os.path.abspath(__file__)))
# Kept here for --help (tests check it equals text2tracks_jax.data.synthetic.PRESETS).
SYNTHETIC_PRESETS = ["tiny", "demo", "scale-20k", "scale-60k", "scale-150k", "paper"]
# Verbs whose pipelines import TensorFlow (SeqIO) and JAX.
_TF_VERBS = {"train", "infer", "recommend", "diagnose", "experiment"}
# TensorFlow's C++ start-up lines, written straight to fd 2 while it loads
# (before TF_CPP_MIN_LOG_LEVEL is read) and when it looks for a GPU.
_TF_STARTUP_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called|"
    r"[IW]\d{4} [\d:. ]+\d+ \S+\] |E\d{4} .*failed call to cuInit|"
    r"To enable the following instructions:")
DEFAULT_COMPILATION_CACHE = os.path.join("~", ".cache", "text2tracks", "jax")


class _LazyNames(collections.abc.Sequence):
  """A registry's names, read on first use (a parser's `choices`).

  The registries (`ids.STRATEGIES`, `baselines.NAMES`) import numpy and gin;
  argparse reads `choices` only to check a given value or to print that verb's
  help, so `text2tracks --help` imports neither.
  """

  def __init__(self, load):
    self._load, self._names = load, None

  def _get(self) -> tuple:
    if self._names is None:
      self._names = tuple(self._load())
    return self._names

  def __getitem__(self, index):
    return self._get()[index]

  def __len__(self):
    return len(self._get())


def _strategy_names():
  from text2tracks_jax import ids
  return sorted(ids.STRATEGIES)


def _baseline_names():
  from text2tracks_jax import baselines
  return baselines.NAMES


ID_STRATEGIES = _LazyNames(_strategy_names)
BASELINES = _LazyNames(_baseline_names)


@contextlib.contextmanager
def _native_stderr_without(noise: re.Pattern):
  """Runs the block with fd 2 (C/C++ writes included) caught, then passes on
  every line that `noise` does not match."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as caught:
    os.dup2(caught.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      caught.seek(0)
      kept = [line for line in caught.read().decode(errors="replace").splitlines(keepends=True)
              if not noise.match(line)]
      if kept:
        sys.stderr.write("".join(kept))


def quiet_tensorflow():
  """Imports TensorFlow (SeqIO's data pipelines) without its start-up log lines
  and hides the GPUs from it: it only feeds data, JAX owns the accelerators
  (and TF's search for CUDA is what logs `failed call to cuInit`)."""
  if "tensorflow" in sys.modules:
    return
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  with _native_stderr_without(_TF_STARTUP_NOISE):
    import tensorflow as tf
    try:
      tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # devices already initialised (a program that imported TF itself)
      pass


def enable_compilation_cache(path) -> None:
  """JAX's persistent compilation cache in `path` ("" or "none": off): a second
  `recommend`/`infer`/`train` of the same shapes loads its programs instead of
  compiling them. Every program is cached, whatever its compile time or size
  (JAX's defaults skip the small CPU ones)."""
  if not path or path == "none":
    return
  import jax
  from jax.experimental.compilation_cache import compilation_cache
  jax.config.update("jax_compilation_cache_dir", os.path.expanduser(path))
  jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
  jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
  # JAX opens the cache at the first compile of the process and keeps it: a
  # caller that compiled before (a notebook, the test suite) needs a reset for
  # the directory to take effect.
  compilation_cache.reset_cache()


def _add_compilation_cache_flag(p: argparse.ArgumentParser):
  p.add_argument("--compilation_cache", metavar="DIR",
                 default=os.environ.get("TEXT2TRACKS_COMPILATION_CACHE",
                                        DEFAULT_COMPILATION_CACHE),
                 help="JAX persistent compilation cache, so that the next run of the same "
                      "model starts fast; 'none' turns it off (default "
                      "$TEXT2TRACKS_COMPILATION_CACHE or %(default)s)")


def _add_gin_flags(p: argparse.ArgumentParser, example: str):
  p.add_argument("--gin_file", action="append", default=[],
                 help="gin config file (repeatable); a path relative to the repository "
                      "(gin_configs/...) also works from elsewhere")
  p.add_argument("--gin.BINDING", dest="_gin_doc", metavar="VALUE",
                 help=f"a gin binding (repeatable), e.g. {example}; a string needs inner "
                      "quotes: --gin.train.task=\"'NAME'\"")


def _split_gin_bindings(argv):
  """Pulls `--gin.X=v` / `--gin.X v` out of argv (argparse cannot name them)."""
  rest, bindings, i = [], [], 0
  while i < len(argv):
    arg = argv[i]
    if arg.startswith("--gin.") and arg != "--gin.BINDING":
      if "=" in arg:
        name, value = arg[len("--gin."):].split("=", 1)
      elif i + 1 < len(argv):
        name, value = arg[len("--gin."):], argv[i + 1]
        i += 1
      else:
        raise _flag_error(f"{arg} needs a value")
      bindings.append(f"{name} = {value}")
    else:
      rest.append(arg)
    i += 1
  return rest, bindings


# Which `prepare` flags each source accepts (flag dest -> loader option).
_SOURCE_FLAGS = {
    "synthetic": {"preset": "preset"},
    "mpd": {"input": "input_path", "max_slices": "max_slices",
            "min_title_words": "min_title_words", "use_description": "use_description",
            "dedupe_tracks": "dedupe_tracks", "split_fractions": "split_fractions"},
    "cpcd": {"input": "input_path", "catalog": "catalog_path",
             "split_fractions": "split_fractions"},
    "jsonl": {"input": "input_path", "catalog": "catalog_path",
              "split_fractions": "split_fractions"},
}
_PREPARE_DEFAULTS = {"preset": "demo", "use_description": False, "dedupe_tracks": False}


def _cmd_prepare(args):
  from text2tracks_jax.data import prepare as prepare_lib
  accepted = _SOURCE_FLAGS[args.source]
  options = {}
  for dest in sorted({d for flags in _SOURCE_FLAGS.values() for d in flags}):
    value = getattr(args, dest)
    if value is None or value == _PREPARE_DEFAULTS.get(dest):
      continue
    if dest not in accepted:
      raise _flag_error(f"--{dest} is not used with --source {args.source}")
    options[accepted[dest]] = value
  if args.source == "synthetic":
    from text2tracks_jax.data.synthetic import PRESETS
    if args.preset not in PRESETS:
      raise _flag_error(f"--preset: unknown synthetic preset {args.preset!r}; "
                        f"expected one of {sorted(PRESETS)}")
    options["preset"] = args.preset
  elif not args.input:
    raise _flag_error(f"--source {args.source} needs --input PATH")
  manifest = prepare_lib.prepare(args.source, args.out, on_error=args.on_error,
                                 seed=args.seed, overwrite=args.overwrite, **options)
  print(prepare_lib.format_stats(manifest))
  print(f"wrote {args.out}")


def parse_gin(args, modules=()):
  """Imports `modules` (so dynamic registration finds them), then parses gin.

  Every verb's `--gin_file` resolves the same way: as given, else under
  `GIN_ROOTS` (the repository root, then the installed package), as
  `include 'gin_configs/...'` does. A missing file, an
  unknown configurable or parameter, or a value gin cannot parse raises a
  `UserError` (one line): `InputError` for a missing file, else `FlagError`.
  """
  import gin
  for m in modules:
    importlib.import_module(m)
  gin.clear_config()  # one verb, one configuration (matters when called in-process)
  for root in GIN_ROOTS:
    gin.add_config_file_search_path(root)
  logging.getLogger().addFilter(_skip_gin_search_misses)
  args.gin_file = [_resolve_gin_file(f) for f in args.gin_file]
  try:
    gin.parse_config_files_and_bindings(args.gin_file, args.gin_bindings,
                                        finalize_config=False, skip_unknown=False)
  except SyntaxError as e:
    bad = next((b for b in args.gin_bindings if _gin_syntax_error(b)), None)
    if bad is None:
      raise _flag_error(f"--gin_file: {_one_line(e)}") from None
    name, value = (s.strip() for s in bad.split("=", 1))
    raise _flag_error(f"--gin.{name}: cannot parse {value!r}; a string needs inner quotes: "
                      f"--gin.{name}=\"'{value}'\"") from None
  except (ValueError, OSError) as e:
    raise _flag_error(f"--gin: {_one_line(e)}") from None


def _skip_gin_search_misses(record) -> bool:
  """Drops gin's "Path not found" for each search path that lacks an include
  (logged even when a later one, e.g. the repository root, has it)."""
  return not record.getMessage().startswith("Path not found:")


def _resolve_gin_file(path: str) -> str:
  from text2tracks_jax.data.errors import InputError
  for candidate in (path, *(os.path.join(root, path) for root in GIN_ROOTS)):
    if os.path.isfile(candidate):
      return candidate
  raise InputError(path, None, None, "no such gin file (looked in the working directory and "
                   f"in {' and '.join(GIN_ROOTS)})")


def _gin_syntax_error(binding: str) -> bool:
  import gin
  try:
    gin.parse_config(binding, skip_unknown=True)
  except SyntaxError:
    return True
  except Exception:  # pylint: disable=broad-except
    return False
  return False


def _flag_error(message: str):
  """A `FlagError`."""
  from text2tracks_jax.data.errors import FlagError
  return FlagError(message)


def _one_line(error) -> str:
  return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _cmd_build_ids(args):
  from text2tracks_jax.data.errors import UserError
  try:
    _build_ids(args)
  except (TypeError, ValueError) as e:
    if isinstance(e, UserError):
      raise
    print(f"error: {_message(e)}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT) from None


def _build_ids(args):
  """`build-ids` from parsed flags: explicit flags win over gin's `build_ids.*`."""
  import gin
  from text2tracks_jax import ids
  parse_gin(args)
  kwargs = {k: v for k, v in (("strategy", args.strategy), ("overwrite", args.overwrite),
                              ("seed", args.seed), ("spm_path", args.spm_path)) if v is not None}
  strategy = kwargs.get("strategy", gin.get_bindings(ids.build_ids).get("strategy"))
  if strategy is None:
    raise _flag_error("build-ids needs --strategy (or build_ids.strategy in a gin file); "
                      f"one of {sorted(ids.STRATEGIES)}")
  if strategy not in ids.STRATEGIES:
    raise _flag_error(f"unknown strategy {strategy!r}; expected one of "
                      f"{sorted(ids.STRATEGIES)}")
  id_map = ids.build_ids(args.data, out_dir=args.out, **kwargs)
  print(ids.format_stats(id_map))
  print(f"wrote {args.out}")


def _message(error) -> str:
  """The error's message without what gin appends when it passes a configurable."""
  return str(error).split("\n  In call to configurable")[0]


_TRAIN_HELP = """\
Trains the Flax T5 on one task of a run (gin-configured); re-running the same
command resumes from the last checkpoint, or says the run is complete.

Required bindings (a run config such as gin_configs/runs/train_tiny.gin sets
the model; the rest is yours):
  train.workdir       where checkpoints go, e.g. "'runs/demo/train/semantic-ids-cf'"
  train.task          the task: text2tracks_<run name>_<strategy>, e.g.
                      "'text2tracks_demo_semantic_ids_cf'" (one per ID map of the run)
  train.model_config  the model (%MODEL_CONFIG of gin_configs/models/<size>.gin)
  train.run_dir       the run directory (RUN/data, RUN/ids/<strategy>) the task is of

How long: train_tiny.gin trains 20 epochs (the paper's); on the demo world that
is ~29k steps of 64 pairs, 1-2 hours on a 2-core CPU. --gin.train.max_steps=N
or --gin.train.num_epochs=X bounds it; each log line gives examples/s and the ETA.

Example (tiny world, a few minutes on a CPU):
  text2tracks prepare --source synthetic --preset tiny --out runs/tiny/data
  text2tracks build-ids --data runs/tiny/data --strategy semantic-ids-cf \\
      --out runs/tiny/ids/semantic-ids-cf
  text2tracks train --gin_file=gin_configs/runs/train_tiny.gin \\
      --gin.train.run_dir="'runs/tiny'" --gin.train.task="'text2tracks_tiny_semantic_ids_cf'" \\
      --gin.train.workdir="'runs/tiny/train/semantic-ids-cf'" --gin.train.max_steps=2000
"""


def _cmd_train(args):
  parse_gin(args, ["text2tracks_jax.training.train"])
  from text2tracks_jax.serving import validation
  from text2tracks_jax.training import train as train_lib
  train_lib.train(make_eval_fn=validation.make_eval_fn)


def _cmd_infer(args):
  parse_gin(args, ["text2tracks_jax.serving.inference"])
  from text2tracks_jax.serving import inference
  enable_compilation_cache(args.compilation_cache)
  inference.infer(workdir=args.workdir, split=args.split, out=args.out)  # others from gin


def _cmd_recommend(args):
  if args.prompt and not all(p.strip() for p in args.prompt):
    raise _flag_error("prompt: empty prompt: say what you would like to hear")
  # `infer`'s module too, as before: its bindings may stand beside `recommend`'s.
  parse_gin(args, ["text2tracks_jax.serving.inference"])
  from text2tracks_jax.serving import recommender
  enable_compilation_cache(args.compilation_cache)
  if not args.prompt:
    prompts = _stdin_prompts()
  else:  # one prompt: one table, no heading
    prompts = args.prompt[0] if len(args.prompt) == 1 else args.prompt
  recommender.print_recommendations(args.workdir, prompts, top_n=args.top_n)


def _stdin_prompts():
  """Prompts from stdin, one a line, as they come (with a `> ` prompt on a terminal)."""
  interactive = sys.stdin.isatty()
  if interactive:
    print("one prompt a line; an empty line or Ctrl-D ends", file=sys.stderr)

  while True:
    if interactive:
      print("> ", end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line or (interactive and not line.strip()):
      return
    yield line.strip()


def _cmd_evaluate(args):
  from text2tracks_jax.evaluation import scorer
  systems = scorer.parse_systems(args.predictions)
  result = scorer.evaluate(args.data, systems, args.out, k=args.k, split=args.split)
  print(result["table"])
  print(f"wrote {args.out}")


def _cmd_baseline(args):
  parse_gin(args, ["text2tracks_jax.baselines"])
  from text2tracks_jax import baselines
  baselines.run(args.name, data_dir=args.data, out=args.out, split=args.split,
                top_n=args.top_n, seed=args.seed)


def _cmd_experiment(args):
  parse_gin(args, ["text2tracks_jax.experiments.runner"])
  from text2tracks_jax.experiments import runner
  reports = runner.run_experiment(workdir=args.workdir)  # the rest from gin
  titles = {"table2": "Table 2: ID strategies", "table3": "Table 3: against the baselines",
            "figure3": "Figure 3: diversity penalty",
            "distinct": "Distinct results on and off (diverse beam search option)",
            "showcase": "Showcase: do the lists follow the prompt?"}
  for name, rep in reports.items():  # the runner puts the showcase last
    print(f"\n## {titles[name]} ({rep['dir']})\n\n{rep['table']}")
    if name == "figure3":
      print(f"Figure 3 plot: {rep['png']}")


def _cmd_diagnose(args):
  from text2tracks_jax.experiments import exact_rank
  exact_rank.run_from_args(args)


def _cmd_list(args):
  """Every artifact under a directory: datasets, ID maps (and their tasks),
  trained models, predictions; manifests only, no heavy imports."""
  from text2tracks_jax.data import outputs
  from text2tracks_jax.data.errors import InputError
  root = os.path.abspath(args.run_dir)
  if not os.path.isdir(root):
    raise InputError(args.run_dir, None, None, "no such directory")
  rel = lambda p: os.path.relpath(p, root)  # pylint: disable=unnecessary-lambda-assignment
  read = lambda p: json.loads(Path(p).read_text(encoding="utf-8"))  # pylint: disable=unnecessary-lambda-assignment
  datasets, id_maps, models, predictions = [], [], [], []
  for d, dirs, files in os.walk(root):
    dirs[:] = sorted(x for x in dirs if not x.startswith(".") and x not in ("checkpoints",
                                                                           "tensorboard", "cache"))
    kind = outputs.artifact_kind(d) if "manifest.json" in files else None
    if kind == "prepared dataset":
      m, dirs[:] = read(os.path.join(d, "manifest.json")), []
      c = m["counts"]
      datasets.append([rel(d), m["source"], *(f"{c[s]['queries']:,} ({c[s]['pairs']:,})"
                                              for s in ("train", "validation", "test")),
                       f"{c['tracks']:,}"])
    elif kind == "ID map":
      m, dirs[:] = read(os.path.join(d, "manifest.json")), []
      run = os.path.dirname(os.path.dirname(d))
      id_maps.append([rel(d), m["strategy"], f"{m['counts']['ids']:,}",
                      f"{m['counts']['tracks']:,}", task_name(os.path.basename(run), m["strategy"])
                      if os.path.basename(os.path.dirname(d)) == "ids" else "-"])
    if "train_config.json" in files:
      info = read(os.path.join(d, "train_config.json"))
      summary = os.path.join(d, "train_summary.json")
      summary = read(summary) if os.path.exists(summary) else {}
      steps = [int(x) for x in os.listdir(os.path.join(d, "checkpoints")) if x.isdigit()] \
          if os.path.isdir(os.path.join(d, "checkpoints")) else []
      step = max(steps) if steps else None
      loss = summary.get("final_loss")
      hits = summary.get("validation", {}).get("hits@10")
      models.append([rel(d), info["task"], "-" if step is None else
                     f"{step:,}/{info['total_steps']:,}", "-" if loss is None else f"{loss:.4f}",
                     "-" if hits is None else f"{hits:.3f}",
                     "-" if step is None else rel(os.path.join(d, "checkpoints", str(step)))])
    for f in sorted(files):
      summary = os.path.join(d, f[:-len(".jsonl")] + ".summary.json")
      if f.endswith(".jsonl") and os.path.exists(summary):
        about = read(summary)
        predictions.append([rel(os.path.join(d, f)), about.get("name", "text2tracks"),
                            about.get("split", "?"), f"{about.get('queries', '?')}"])
  print(f"{root}")
  for title, header, rows in (
      ("datasets", ["path", "source", "train queries (pairs)", "validation", "test",
                    "tracks"], datasets),
      ("ID maps", ["path", "strategy", "IDs", "tracks", "task"], id_maps),
      ("trained models", ["workdir", "task", "step", "final loss", "val hits@10",
                          "checkpoint"], models),
      ("predictions", ["file", "system", "split", "queries"], predictions)):
    print(f"\n{title}" + ("" if rows else ": none"))
    if rows:
      print(_table(header, rows))


def task_name(dataset: str, strategy: str) -> str:
  """The SeqIO task of a run's ID map (as tasks.task_name, kept TF-free for `list`)."""
  slug = lambda x: re.sub(r"[^0-9a-zA-Z]+", "_", x).strip("_").lower()  # pylint: disable=unnecessary-lambda-assignment
  return f"text2tracks_{slug(dataset)}_{slug(strategy)}"


def _table(header, rows) -> str:
  widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
  return "\n".join("  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()
                   for r in [header] + rows)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="text2tracks",
      description="Prompt-based music recommendation by generative retrieval (JAX).")
  sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

  p = sub.add_parser("prepare", help="raw source -> prepared dataset (catalog + splits)")
  p.add_argument("--source", required=True, choices=["synthetic", "mpd", "cpcd", "jsonl"],
                 help="synthetic world, Spotify MPD slices, CPCD conversations, or generic "
                      "JSONL (query, tracks)")
  p.add_argument("--out", required=True, help="output dataset directory (a new or empty "
                 "directory, or a prepared dataset with --overwrite)")
  p.add_argument("--overwrite", action="store_true",
                 help="replace the prepared dataset at --out (anything else there is refused)")
  p.add_argument("--preset", default="demo", help="synthetic world preset: "
                 + ", ".join(SYNTHETIC_PRESETS) + " (default %(default)s; tiny takes seconds, "
                 "demo about a minute)")
  p.add_argument("--input", help="input file or directory (mpd, cpcd, jsonl)")
  p.add_argument("--catalog", help="catalog JSONL for --source jsonl")
  p.add_argument("--max_slices", type=int, help="mpd: read only the first N slice files")
  p.add_argument("--min_title_words", type=int,
                 help="mpd: keep playlists whose title has at least this many words (3)")
  p.add_argument("--use_description", action="store_true",
                 help="mpd: append the playlist description to the query")
  p.add_argument("--dedupe_tracks", action="store_true",
                 help="mpd: drop repeats of a track within a playlist (counted) "
                      "instead of treating the playlist as a bad record")
  p.add_argument("--split_fractions", type=float, nargs=3, metavar=("TRAIN", "VAL", "TEST"),
                 help="file sources: split shares (hash of the normalised query)")
  p.add_argument("--on-error", "--on_error", dest="on_error", default="raise",
                 choices=["raise", "skip"], help="bad records: stop (default) or skip+count")
  p.add_argument("--seed", type=int, default=0,
                 help="world and split seed (default 0)")
  p.set_defaults(func=_cmd_prepare)

  p = sub.add_parser("build-ids", help="data + ID strategy phi -> ID map")
  _add_gin_flags(p, "--gin.sparse_coding.dictionary_size=256")
  p.add_argument("--data", required=True, help="prepared dataset directory")
  # A metavar, so that building the parser does not read the choices.
  p.add_argument("--strategy", choices=ID_STRATEGIES, metavar="STRATEGY",
                 help="ID strategy phi: %(choices)s (or set build_ids.strategy in a gin file)")
  p.add_argument("--out", required=True, help="output ID map directory (a new or empty "
                 "directory, or an ID map with --overwrite)")
  p.add_argument("--seed", type=int, default=None, help="default 0 (or build_ids.seed)")
  p.add_argument("--spm_path", help="SentencePiece model for the tokens-per-ID stats")
  p.add_argument("--overwrite", action="store_true",
                 help="replace the ID map at --out (anything else there is refused); a model "
                      "trained on the old map will refuse to run")
  p.set_defaults(func=_cmd_build_ids)

  p = sub.add_parser("train", help="train the Flax T5 on a SeqIO task (gin-configured)",
                     description=_TRAIN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
  _add_gin_flags(p, "--gin.train.max_steps=2000")
  p.set_defaults(func=_cmd_train)

  p = sub.add_parser("infer", help="diverse beam search over a split -> predictions JSONL")
  p.add_argument("--workdir", required=True, action="append",
                 help="a `text2tracks train` workdir; repeat it for an ensemble of "
                 "models trained on the same task (their logits averaged)")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                 help="split to decode (default test)")
  p.add_argument("--out", help="predictions JSONL (default WORKDIR/predictions.SPLIT.jsonl)")
  _add_compilation_cache_flag(p)
  _add_gin_flags(p, "--gin.infer.batch_size=64 or --gin.infer.diversity_penalty=0.5")
  p.set_defaults(func=_cmd_infer)

  p = sub.add_parser("recommend", help="top tracks for prompts (arguments, or stdin: one a line)",
                     description="Top tracks for each prompt. Without PROMPT arguments, prompts "
                     "are read from stdin, one a line (interactively on a terminal): the model "
                     "loads and compiles once for all of them.")
  p.add_argument("--workdir", required=True, action="append",
                 help="a `text2tracks train` workdir; repeat it for an ensemble")
  p.add_argument("--top_n", type=int, default=10,
                 help="tracks to show, 1 to the number of beams (20); default 10")
  p.add_argument("prompt", nargs="*", help='e.g. "old classics for slow dancing" '
                 "(none: read prompts from stdin)")
  _add_compilation_cache_flag(p)
  _add_gin_flags(p, "--gin.recommend.diversity_penalty=0.5")
  p.set_defaults(func=_cmd_recommend)

  p = sub.add_parser("evaluate", help="score predictions: hits@k, nDCG, MRR, artist entropy")
  p.add_argument("--data", required=True, help="prepared dataset directory (labels, catalog)")
  p.add_argument("--predictions", required=True, nargs="+", metavar="[NAME=]JSONL",
                 help="predictions JSONL files, one per system (name from the file if not given)")
  p.add_argument("--out", required=True, help="output directory for metrics and tables")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                 help="split whose labels score the predictions (default test)")
  p.add_argument("--k", type=int, default=10, help="cut-off (default 10)")
  p.set_defaults(func=_cmd_evaluate)

  p = sub.add_parser("baseline", help="popularity, BM25, bi-encoder, co-occurrence baselines")
  p.add_argument("--name", required=True, choices=BASELINES, metavar="NAME",
                 help="%(choices)s (biencoder-zs: zero-shot, biencoder-ft: fine-tuned, "
                 "cooccurrence: naive Bayes on title words)")
  p.add_argument("--data", required=True, help="prepared dataset directory")
  p.add_argument("--out", required=True, help="predictions JSONL to write")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"],
                 help="split to rank (default test)")
  p.add_argument("--top_n", type=int, default=10, help="tracks per query (default 10)")
  p.add_argument("--seed", type=int, default=0, help="seed (bi-encoder fine-tuning; default 0)")
  _add_gin_flags(p, "--gin.bm25.k1=1.2 or --gin.biencoder.epochs=2")
  p.set_defaults(func=_cmd_baseline)

  p = sub.add_parser("diagnose", help="search error vs model error: every ID scored exactly "
                                      "against beam search")
  p.add_argument("--workdir", required=True, help="a `text2tracks train` workdir")
  p.add_argument("--split", default="validation", help="train, validation or test")
  p.add_argument("--n", type=int, default=200, help="first N queries of the split (200)")
  p.add_argument("--out", help="report directory (default WORKDIR/exact_rank.SPLIT)")
  p.add_argument("--k", type=int, default=10, help="cut-off (default 10)")
  p.add_argument("--queries_per_batch", type=int, default=8, help="queries scored together")
  p.add_argument("--ids_per_chunk", type=int, default=256, help="IDs per jitted call")
  p.set_defaults(func=_cmd_diagnose)

  p = sub.add_parser("list", help="a run's datasets, ID maps, tasks, trained models and "
                                  "predictions, as tables")
  p.add_argument("run_dir", metavar="DIR", help="a run directory (RUN/data, RUN/ids/..., "
                 "train workdirs, predictions), or any directory above artifacts")
  p.set_defaults(func=_cmd_list)

  p = sub.add_parser("experiment", help="run a gin-configured experiment end to end")
  p.add_argument("--workdir", required=True, help="experiment directory (re-running resumes)")
  _add_gin_flags(p, "--gin.run_experiment.seed=1")
  p.set_defaults(func=_cmd_experiment)
  return parser


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    argv, bindings = _split_gin_bindings(argv)
    args = build_parser().parse_args(argv)  # argparse exits 2 on its own
    args.gin_bindings = bindings
    logs.configure()
    if args.verb in _TF_VERBS:
      quiet_tensorflow()
    args.func(args)
  except SystemExit as e:
    if not isinstance(e.code, str):
      raise
    print(e.code, file=sys.stderr)  # "error: ..." from a verb's own flag check
    return EXIT_BAD_INPUT
  except ValueError as e:  # UserError is one
    from text2tracks_jax.data.errors import UserError
    if not isinstance(e, UserError):
      raise
    print(f"error: {_message(e)}", file=sys.stderr)
    return EXIT_BAD_INPUT
  return 0


if __name__ == "__main__":
  sys.exit(main())
