"""`text2tracks experiment`: the paper's tables and figure from one gin file.

    text2tracks experiment --gin_file=gin_configs/runs/demo.gin --workdir runs/demo

runs, in order and each only when its artifact is not already complete
(see `stages.py`; re-running after an interruption resumes):

  prepare             WORKDIR/data                  the prepared dataset
  ids/<strategy>      WORKDIR/ids/<strategy>        one ID map per strategy phi
  train/<strategy>    WORKDIR/train/<strategy>      Flax T5 per strategy (resumes)
  train/<best>+       WORKDIR/train/<best>+         the best strategy with `best_train`
  train/<best>+seedI  WORKDIR/train/<best>+seedI    the same, train seed + I (`best_seeds`)
  infer/<strategy>    WORKDIR/predictions/<strategy>.jsonl
  infer/<best>+ensembleN  ...<best>+ensembleN.jsonl  those N models decoded as one
  baseline/<name>     WORKDIR/predictions/<name>.jsonl
  sweep/<penalty>     WORKDIR/predictions/sweep/penalty_<p>.jsonl (best strategy)
  ablation/...        WORKDIR/predictions/ablation/distinct_off.jsonl (best strategy)

and then writes the reports (always re-computed, they are cheap):

  table2/   Text2Tracks with every ID strategy (the paper's Table 2)
  table3/   the best strategy against the baselines (Table 3)
  showcase/ three test prompts with the top 5 of the best strategy and of
            co-occurrence, each track's hidden facets beside it (printed last)
  figure3/  hits@k and artist entropy against the diversity penalty (Figure 3)
  distinct/ the distinct-results option of diverse beam search on and off

The model, optimiser and step budget come from `train_lib.train` bindings in the
same gin file; decoding settings from `inference.infer` bindings.

A stage's settings (what its marker records and a re-run must match) are its
arguments and the gin bindings of the configurables it calls, nothing else that
is bound or imported: a changed decoding binding re-runs no ID map.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
from pathlib import Path
from typing import Optional, Sequence

import gin

from text2tracks_jax import baselines as baselines_lib
from text2tracks_jax import ids
from text2tracks_jax.data import prepare as prepare_lib
from text2tracks_jax.data.errors import FlagError
from text2tracks_jax.experiments import report, showcase
from text2tracks_jax.experiments.stages import StageRunner
from text2tracks_jax.training import fingerprints

EXPERIMENTS = ("table2", "table3", "figure3", "distinct")
# The paper's strategies in its order (Table 2's rows); baselines as Table 3's columns.
ALL_STRATEGIES = ids.PAPER_STRATEGIES
ALL_BASELINES = tuple(baselines_lib.NAMES)

logger = logging.getLogger(__name__)


def _bindings(fn) -> dict:
  """The gin bindings of `fn` as strings (a stage's settings)."""
  return {k: str(v) for k, v in sorted(gin.get_bindings(fn).items())}


@gin.configurable
def run_experiment(workdir: str = gin.REQUIRED, source: str = "synthetic",
                   prepare_options: Optional[dict] = None, seed: int = 0,
                   experiments: Sequence[str] = EXPERIMENTS,
                   strategies: Sequence[str] = ALL_STRATEGIES,
                   best_strategy: str = "semantic-ids-cf",
                   best_train: Optional[dict] = None,
                   best_seeds: int = 1,
                   baselines: Sequence[str] = ALL_BASELINES,
                   diversity_penalties: Sequence[float] = (0.0, 0.25, 0.5, 1.0, 2.0),
                   split: str = "test", k: int = 10) -> dict:
  """Runs the stages the chosen `experiments` need; returns the report paths.

  Args:
    workdir: the run directory; its name names the SeqIO tasks
      (`text2tracks_<name>_<strategy>`).
    source, prepare_options: how to build WORKDIR/data (`text2tracks prepare`).
    experiments: any of "table2", "table3", "figure3", "distinct".
    strategies: the ID strategies of Table 2.
    best_strategy: the Text2Tracks system of Table 3 and Figure 3 (the paper's
      best, semantic-ids-cf; chosen up front rather than on the test split).
    best_train: `train` arguments (e.g. {"num_epochs": 6}) for a separate,
      longer-trained model of `best_strategy` (stage `train/<best>+`) used by
      Table 3, Figure 3 and the distinct ablation, and named with its budget;
      Table 2 keeps one budget for every strategy. None: Table 2's model.
    best_seeds: models of the best strategy (with `best_train`) to train,
      the first with the train seed as bound (S), model I with seed S + I. Above 1,
      they decode as one ensemble (`Recommender.load` of their workdirs:
      logits averaged at every step), which is then the Text2Tracks system of
      Table 3 (beside the first model alone), Figure 3, the distinct ablation
      and the showcase.
    baselines: the baselines of Table 3.
    diversity_penalties: the x axis of Figure 3.
  """
  unknown = set(experiments) - set(EXPERIMENTS)
  if unknown:
    raise ValueError(f"unknown experiments {sorted(unknown)}; expected some of {EXPERIMENTS}")
  wd = Path(workdir)
  needed = list(strategies) if "table2" in experiments else []
  uses_best = bool(set(experiments) & {"table3", "figure3", "distinct"})
  if uses_best and best_strategy not in needed:
    needed.append(best_strategy)
  if best_seeds < 1:
    raise FlagError(f"run_experiment.best_seeds: must be at least 1, got {best_seeds}")
  best_model = f"{best_strategy}+" if uses_best and best_train else best_strategy
  members = [best_model] + [f"{best_strategy}+seed{i}" for i in range(1, best_seeds)]
  ensemble = members if uses_best and best_seeds > 1 else None
  best_system = f"{best_strategy}+ensemble{best_seeds}" if ensemble else best_model
  base_list = list(baselines) if "table3" in experiments else []
  sweep = list(diversity_penalties) if "figure3" in experiments else []
  ablation = "distinct" in experiments
  models = {s: {} for s in needed}
  if best_model != best_strategy:
    models[best_model] = dict(best_train)
  if ensemble:
    base_seed = _train_seed()
    for i, member in enumerate(members[1:], 1):
      models[member] = {**(best_train or {}), "seed": base_seed + i}
  stages = StageRunner(wd, total=1 + len(needed) + 2 * len(models) + bool(ensemble)
                       + len(base_list) + len(sweep) + ablation)

  data_dir = wd / "data"
  stages.run("prepare", {"source": source, "options": prepare_options or {}, "seed": seed},
             lambda: _prepare(source, data_dir, seed, prepare_options or {}))
  for strategy in needed:
    stages.run(f"ids/{strategy}", _ids_settings(strategy, seed),
               lambda s=strategy: _build_ids(data_dir, s, wd / "ids" / s, seed))
  for model, overrides in models.items():
    stages.run(f"train/{model}", {**_train_settings(), "overrides": overrides},
               lambda m=model, o=overrides: _train(wd, m, o))
  for model in models:  # also when its stages were skipped: inputs may have been rebuilt
    train_dir = wd / "train" / model
    fingerprints.check_inputs(train_dir, fingerprints.read_train_config(train_dir))
  predictions = {}
  for model in models:
    out = wd / "predictions" / f"{model}.jsonl"
    stages.run(f"infer/{model}", _infer_settings(split, {}),
               lambda m=model, o=out: _infer(wd, m, split, o, {}))
    predictions[model] = out
  if ensemble:
    out = wd / "predictions" / f"{best_system}.jsonl"
    stages.run(f"infer/{best_system}", _infer_settings(split, {}, ensemble),
               lambda: _infer(wd, ensemble, split, out, {}))
    predictions[best_system] = out
  for name in base_list:
    out = wd / "predictions" / f"{name}.jsonl"
    stages.run(f"baseline/{name}", _baseline_settings(name, split, seed),
               lambda n=name, o=out: _baseline(n, data_dir, o, split, seed, k))
    predictions[name] = out
  sweep_predictions = {}
  for penalty in sweep:
    out = wd / "predictions" / "sweep" / f"penalty_{penalty:g}.jsonl"
    override = {"diversity_penalty": penalty}
    stages.run(f"sweep/{penalty:g}", _infer_settings(split, override, ensemble),
               lambda v=override, o=out: _infer(wd, ensemble or best_model, split, o, v))
    sweep_predictions[penalty] = out
  if ablation:
    distinct_off = wd / "predictions" / "ablation" / "distinct_off.jsonl"
    stages.run("ablation/distinct_off", _infer_settings(split, {"distinct": False}, ensemble),
               lambda: _infer(wd, ensemble or best_model, split, distinct_off,
                              {"distinct": False}))

  reports = {}
  if "table2" in experiments:
    reports["table2"] = report.table2(wd, data_dir, {s: predictions[s] for s in strategies},
                                      stages.records, split=split, k=k)
  if "table3" in experiments:
    label = best_strategy if best_model == best_strategy else \
        f"{best_strategy}, " + ", ".join(f"{k}={v}" for k, v in sorted(best_train.items()))
    best_name = f"text2tracks ({label})"
    systems = {best_name: predictions[best_model]}
    if ensemble:
      best_name = f"text2tracks ({label}, ensemble of {best_seeds} seeds)"
      systems[best_name] = predictions[best_system]
    systems.update({n: predictions[n] for n in base_list})
    reports["table3"] = report.table3(wd, data_dir, systems, best=best_name, split=split, k=k)
  if "figure3" in experiments:
    reports["figure3"] = report.figure3(wd, data_dir, sweep_predictions, best_system,
                                        split=split, k=k)
  if ablation:
    reports["distinct"] = report.distinct(
        wd, data_dir, {"distinct on": predictions[best_system], "distinct off": distinct_off},
        best_system, split=split, k=k)
  if "table3" in experiments:  # last: what a person checks first (`make demo` ends with it)
    shown = {n: p for n, p in systems.items() if n in (best_name, "cooccurrence")}
    text = showcase.showcase(data_dir, shown, split=split, seed=seed, out_dir=wd / "showcase")
    reports["showcase"] = {"dir": str(wd / "showcase"), "table": text}
  (wd / "experiment.json").write_text(json.dumps(
      {"experiments": list(experiments), "reports": reports,
       "stage_seconds": {n: r["seconds"] for n, r in stages.records.items()}},
      indent=2) + "\n")
  return reports


# -- stages --------------------------------------------------------------------
def _prepare(source, data_dir, seed, options):
  manifest = prepare_lib.prepare(source, data_dir, seed=seed, **options)
  logger.info(prepare_lib.format_stats(manifest))
  return {"counts": manifest["counts"]}


def _ids_settings(strategy, seed) -> dict:
  return {"seed": seed, "gin": _gin_settings(ids.build.configurables(strategy))}


def _build_ids(data_dir, strategy, out_dir, seed):
  id_map = ids.build_ids(data_dir, strategy, out_dir, seed=seed)
  logger.info(ids.build.format_stats(id_map))
  return {"ids": len(id_map.id_to_tracks), "tokens_per_id": id_map.stats["tokens_per_id"]}


def _train_settings() -> dict:
  # lazy: the trainer's JAX, Flax and Orbax would add over 1 s to importing the runner
  from text2tracks_jax.models import partitioning  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import distributed  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import train as train_lib  # pylint: disable=import-outside-toplevel
  # model_config arrives evaluated; the optimizer and friends are bound elsewhere. The
  # key "training" is kept from when these were the training package's configurables,
  # so the markers of earlier runs still match.
  called = (train_lib.train, optimizers.learning_rate_schedule, optimizers.create_optimizer,
            distributed.initialize, partitioning.create_mesh,
            partitioning.standard_logical_axis_rules)
  return {**_bindings(train_lib.train), "training": _gin_settings(called)}


def _train_seed() -> int:
  """The `train` seed as bound (or its default)."""
  from text2tracks_jax.training import train as train_lib  # pylint: disable=import-outside-toplevel  # lazy: JAX
  default = inspect.signature(train_lib.train).parameters["seed"].default
  return int(gin.get_bindings(train_lib.train).get("seed", default))


def _train(wd: Path, model: str, overrides: dict):
  """Trains WORKDIR/train/<model>; a model "<strategy>+" is that strategy with `overrides`."""
  # lazy: tasks and serving import TensorFlow (~4 s), the trainer JAX (see above)
  import tasks  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.serving import validation  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import train as train_lib  # pylint: disable=import-outside-toplevel
  task = tasks.task_name(wd.name, model.split("+")[0], _encoder(overrides))
  info = train_lib.train(workdir=str(wd / "train" / model), task=task, run_dir=str(wd),
                         make_eval_fn=validation.make_eval_fn, **overrides)
  keep = ("task", "examples", "total_steps", "batch_size", "num_params", "inputs_length",
          "targets_length")
  return {k: info[k] for k in keep}


def _encoder(overrides: dict) -> str:
  """The encoder of a model trained with `overrides` (`T5Config.encoder`):
  its `model_overrides`, else the one bound for the model config
  (`configs.get_config.encoder`, as gin_configs/models/minilm_t5.gin sets it)."""
  encoder = (overrides.get("model_overrides") or {}).get("encoder")
  if encoder is None:
    from text2tracks_jax.models import configs  # pylint: disable=import-outside-toplevel  # lazy: JAX
    encoder = gin.get_bindings(configs.get_config).get("encoder", "t5")
  return encoder


def _infer_settings(split, overrides: dict, ensemble: Optional[list] = None) -> dict:
  # lazy: serving imports TensorFlow (~4 s), partitioning JAX (see _train_settings)
  from text2tracks_jax.models import partitioning  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.serving import inference  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import distributed  # pylint: disable=import-outside-toplevel
  # What infer calls besides itself goes under "gin", only when bound, so the
  # markers of earlier runs (which had no such key) still match.
  others = _gin_settings((distributed.initialize, partitioning.standard_logical_axis_rules))
  # The models decoded, only for an ensemble (a stage that decodes one model
  # names it in its own name), so the markers of earlier runs still match.
  return {"split": split, **_bindings(inference.infer), **overrides,
          **({"gin": others} if others else {}), **({"ensemble": ensemble} if ensemble else {})}


def _infer(wd: Path, models, split, out, overrides: dict):
  """Decodes `split` with WORKDIR/train/<model> (a list of models: their ensemble)."""
  from text2tracks_jax.serving import inference  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
  out.parent.mkdir(parents=True, exist_ok=True)
  workdirs = [str(wd / "train" / m) for m in ([models] if isinstance(models, str) else models)]
  return inference.infer(workdir=workdirs[0] if len(workdirs) == 1 else workdirs, split=split,
                         out=str(out), **overrides)


def _gin_settings(configurables) -> dict:
  """The gin bindings of the `configurables` a stage calls, the part of its settings
  gin supplies: {"module.fn": {param: value}}, bound ones only. Read from the
  functions themselves, so what else happens to be imported does not count."""
  out = {}
  for fn in configurables:
    bindings = _bindings(fn)
    if bindings:
      out[f"{fn.__module__}.{fn.__name__}"] = bindings
  return dict(sorted(out.items()))


def _baseline_settings(name, split, seed) -> dict:
  # Baseline `name`'s configurable is `<module>.<module>` (baselines/__init__.py).
  module = name.split("-")[0]
  fn = getattr(importlib.import_module(f"text2tracks_jax.baselines.{module}"), module)
  return {"split": split, "seed": seed, "gin": _gin_settings([fn])}


def _baseline(name, data_dir, out, split, seed, top_n):
  out.parent.mkdir(parents=True, exist_ok=True)
  return baselines_lib.run(name, data_dir=str(data_dir), out=str(out), split=split, top_n=top_n,
                           seed=seed)
