"""`text2tracks <verb>`: the command-line entry point.

Heavy libraries (TensorFlow, torch, JAX) are imported inside the verbs that
need them, so `text2tracks --help` answers at once. Flags follow T5X/absl:
`--gin_file=...` (repeatable) and `--gin.BINDING=value`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

EXIT_BAD_INPUT = 2
# gin files named relative to the repository also resolve from elsewhere.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINES = ["popularity", "bm25", "biencoder-zs", "biencoder-ft", "cooccurrence"]
# Kept here (not imported) so that --help stays free of numpy/gin imports;
# tests check it equals text2tracks_jax.ids.STRATEGIES.
ID_STRATEGIES = ["artist-iid-track-seq", "artist-int-track-seq", "artist-name-track-name",
                 "semantic-ids-cf", "semantic-ids-text", "track-int"]


def _add_gin_flags(p: argparse.ArgumentParser):
  p.add_argument("--gin_file", action="append", default=[],
                 help="gin config file (repeatable)")
  p.add_argument("--gin.BINDING", dest="_gin_doc", metavar="VALUE",
                 help="a gin binding, e.g. --gin.train.learning_rate=1e-3 (repeatable)")


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
        raise SystemExit(f"error: {arg} needs a value")
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
  from text2tracks_jax.data import prepare as prepare_lib  # pylint: disable=import-outside-toplevel
  accepted = _SOURCE_FLAGS[args.source]
  options = {}
  for dest in sorted({d for flags in _SOURCE_FLAGS.values() for d in flags}):
    value = getattr(args, dest)
    if value is None or value == _PREPARE_DEFAULTS.get(dest):
      continue
    if dest not in accepted:
      raise SystemExit(f"error: --{dest} is not used with --source {args.source}")
    options[accepted[dest]] = value
  if args.source == "synthetic":
    from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
    from text2tracks_jax.data.synthetic import PRESETS  # pylint: disable=import-outside-toplevel
    if args.preset not in PRESETS:
      raise InputError("--preset", None, None, f"unknown synthetic preset {args.preset!r}; "
                       f"expected one of {sorted(PRESETS)}")
    options["preset"] = args.preset
  elif not args.input:
    raise SystemExit(f"error: --source {args.source} needs --input PATH")
  manifest = prepare_lib.prepare(args.source, args.out, on_error=args.on_error,
                                 seed=args.seed, overwrite=args.overwrite, **options)
  print(prepare_lib.format_stats(manifest))
  print(f"wrote {args.out}")


def parse_gin(args, modules=()):
  """Imports `modules` (so dynamic registration finds them), then parses gin.

  Every verb's `--gin_file` resolves the same way: as given, else from the
  repository root (as `include 'gin_configs/...'` does). A missing file, an
  unknown configurable or parameter, or a value gin cannot parse raises
  `InputError` (one line).
  """
  import importlib  # pylint: disable=import-outside-toplevel
  import gin  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
  for m in modules:
    importlib.import_module(m)
  gin.clear_config()  # one verb, one configuration (matters when called in-process)
  gin.add_config_file_search_path(_REPO_ROOT)
  logging.getLogger().addFilter(_skip_gin_search_misses)
  args.gin_file = [_resolve_gin_file(f) for f in args.gin_file]
  try:
    gin.parse_config_files_and_bindings(args.gin_file, args.gin_bindings,
                                        finalize_config=False, skip_unknown=False)
  except SyntaxError as e:
    bad = next((b for b in args.gin_bindings if _gin_syntax_error(b)), None)
    if bad is None:
      raise InputError("--gin_file", None, None, _one_line(e)) from None
    name, value = (s.strip() for s in bad.split("=", 1))
    raise InputError(f"--gin.{name}", None, None,
                     f"cannot parse {value!r}; a string needs inner quotes: "
                     f"--gin.{name}=\"'{value}'\"") from None
  except (ValueError, OSError) as e:
    raise InputError("--gin", None, None, _one_line(e)) from None


def _skip_gin_search_misses(record) -> bool:
  """Drops gin's "Path not found" for each search path that lacks an include
  (logged even when a later one, e.g. the repository root, has it)."""
  return not record.getMessage().startswith("Path not found:")


def _resolve_gin_file(path: str) -> str:
  from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
  for candidate in (path, os.path.join(_REPO_ROOT, path)):
    if os.path.isfile(candidate):
      return candidate
  raise InputError(path, None, None, "no such gin file (looked in the working directory and "
                   f"in {_REPO_ROOT})")


def _gin_syntax_error(binding: str) -> bool:
  import gin  # pylint: disable=import-outside-toplevel
  try:
    gin.parse_config(binding, skip_unknown=True)
  except SyntaxError:
    return True
  except Exception:  # pylint: disable=broad-except
    return False
  return False


def _one_line(error) -> str:
  return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _cmd_build_ids(args):
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
  try:
    ids.run_from_args(args)
  except (TypeError, ValueError) as e:
    if isinstance(e, InputError):
      raise
    print(f"error: {_message(e)}", file=sys.stderr)
    raise SystemExit(EXIT_BAD_INPUT) from None


def _message(error) -> str:
  """The error's message without what gin appends when it passes a configurable."""
  return str(error).split("\n  In call to configurable")[0]


def _cmd_train(args):
  parse_gin(args, ["text2tracks_jax.training.train"])
  from text2tracks_jax.training import train as train_lib  # pylint: disable=import-outside-toplevel
  train_lib.train()


def _cmd_infer(args):
  parse_gin(args, ["text2tracks_jax.decoding.inference"])
  from text2tracks_jax.decoding import inference  # pylint: disable=import-outside-toplevel
  inference.infer(workdir=args.workdir, split=args.split, out=args.out)  # others from gin


def _cmd_recommend(args):
  from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
  if not args.prompt.strip():
    raise InputError("prompt", None, None, "empty prompt: say what you would like to hear")
  parse_gin(args, ["text2tracks_jax.decoding.inference"])
  from text2tracks_jax.decoding import inference  # pylint: disable=import-outside-toplevel
  inference.print_recommendations(args.workdir, args.prompt, top_n=args.top_n)


def _cmd_evaluate(args):
  from text2tracks_jax.evaluation import scorer  # pylint: disable=import-outside-toplevel
  systems = scorer.parse_systems(args.predictions)
  result = scorer.evaluate(args.data, systems, args.out, k=args.k, split=args.split)
  print(result["table"])
  print(f"wrote {args.out}")


def _cmd_baseline(args):
  parse_gin(args, ["text2tracks_jax.baselines"])
  from text2tracks_jax import baselines  # pylint: disable=import-outside-toplevel
  baselines.run(args.name, data_dir=args.data, out=args.out, split=args.split,
                top_n=args.top_n, seed=args.seed)


def _cmd_experiment(args):
  parse_gin(args, ["text2tracks_jax.experiments.runner"])
  from text2tracks_jax.experiments import runner  # pylint: disable=import-outside-toplevel
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
  from text2tracks_jax.experiments import exact_rank  # pylint: disable=import-outside-toplevel
  exact_rank.run_from_args(args)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(
      prog="text2tracks",
      description="Prompt-based music recommendation by generative retrieval (JAX).")
  sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

  p = sub.add_parser("prepare", help="raw source -> prepared dataset (catalog + splits)")
  p.add_argument("--source", required=True, choices=["synthetic", "mpd", "cpcd", "jsonl"])
  p.add_argument("--out", required=True, help="output dataset directory (a new or empty "
                 "directory, or a prepared dataset with --overwrite)")
  p.add_argument("--overwrite", action="store_true",
                 help="replace the prepared dataset at --out (anything else there is refused)")
  p.add_argument("--preset", default="demo", help="synthetic world preset (demo, paper, ...)")
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
  p.add_argument("--seed", type=int, default=0)
  p.set_defaults(func=_cmd_prepare)

  p = sub.add_parser("build-ids", help="data + ID strategy phi -> ID map")
  _add_gin_flags(p)
  p.add_argument("--data", required=True, help="prepared dataset directory")
  p.add_argument("--strategy", choices=ID_STRATEGIES,
                 help="ID strategy phi (or set build_ids.strategy in a gin file)")
  p.add_argument("--out", required=True, help="output ID map directory (a new or empty "
                 "directory, or an ID map with --overwrite)")
  p.add_argument("--seed", type=int, default=None, help="default 0 (or build_ids.seed)")
  p.add_argument("--spm_path", help="SentencePiece model for the tokens-per-ID stats")
  p.add_argument("--overwrite", action="store_true",
                 help="replace the ID map at --out (anything else there is refused); a model "
                      "trained on the old map will refuse to run")
  p.set_defaults(func=_cmd_build_ids)

  p = sub.add_parser("train", help="train the Flax T5 on a SeqIO task (gin-configured)")
  _add_gin_flags(p)
  p.set_defaults(func=_cmd_train)

  p = sub.add_parser("infer", help="diverse beam search over a split -> predictions JSONL")
  p.add_argument("--workdir", required=True, help="a `text2tracks train` workdir")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"])
  p.add_argument("--out", help="predictions JSONL (default WORKDIR/predictions.SPLIT.jsonl)")
  _add_gin_flags(p)
  p.set_defaults(func=_cmd_infer)

  p = sub.add_parser("recommend", help="top tracks for one prompt")
  p.add_argument("--workdir", required=True, help="a `text2tracks train` workdir")
  p.add_argument("--top_n", type=int, default=10,
                 help="tracks to show, 1 to the number of beams (20); default 10")
  p.add_argument("prompt", help='e.g. "old classics for slow dancing"')
  _add_gin_flags(p)
  p.set_defaults(func=_cmd_recommend)

  p = sub.add_parser("evaluate", help="score predictions: hits@k, nDCG, MRR, artist entropy")
  p.add_argument("--data", required=True, help="prepared dataset directory (labels, catalog)")
  p.add_argument("--predictions", required=True, nargs="+", metavar="[NAME=]JSONL",
                 help="predictions JSONL files, one per system (name from the file if not given)")
  p.add_argument("--out", required=True, help="output directory for metrics and tables")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"])
  p.add_argument("--k", type=int, default=10, help="cut-off (default 10)")
  p.set_defaults(func=_cmd_evaluate)

  p = sub.add_parser("baseline", help="popularity, BM25, bi-encoder, co-occurrence baselines")
  p.add_argument("--name", required=True, choices=BASELINES)
  p.add_argument("--data", required=True, help="prepared dataset directory")
  p.add_argument("--out", required=True, help="predictions JSONL to write")
  p.add_argument("--split", default="test", choices=["train", "validation", "test"])
  p.add_argument("--top_n", type=int, default=10)
  p.add_argument("--seed", type=int, default=0)
  _add_gin_flags(p)
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

  p = sub.add_parser("experiment", help="run a gin-configured experiment end to end")
  p.add_argument("--workdir", required=True, help="experiment directory (re-running resumes)")
  _add_gin_flags(p)
  p.set_defaults(func=_cmd_experiment)
  return parser


def main(argv=None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  try:
    argv, bindings = _split_gin_bindings(argv)
    args = build_parser().parse_args(argv)  # argparse exits 2 on its own
    args.gin_bindings = bindings
    from text2tracks_jax.data.dataset import DatasetError  # pylint: disable=import-outside-toplevel
    from text2tracks_jax.data.errors import InputError  # pylint: disable=import-outside-toplevel
    try:
      args.func(args)
    except (InputError, DatasetError) as e:
      print(f"error: {_message(e)}", file=sys.stderr)
      return EXIT_BAD_INPUT
  except SystemExit as e:
    if not isinstance(e.code, str):
      raise
    print(e.code, file=sys.stderr)  # "error: ..." from a flag check: argument misuse
    return EXIT_BAD_INPUT
  return 0


if __name__ == "__main__":
  sys.exit(main())
