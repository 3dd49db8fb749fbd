"""`text2tracks train`: the gin-configured entry point.

  text2tracks train --gin_file=gin_configs/runs/train_tiny.gin \
      --gin.train.run_dir="'runs/demo'" --gin.train.task="'text2tracks_demo_semantic_ids_cf'" \
      --gin.train.workdir="'runs/demo/train/semantic-ids-cf'"

Defaults follow the paper: AdamW, learning rate 5e-4, batch size 64, 20
epochs. The model is trained from scratch, or fine-tuned from a local Hugging
Face / Flan-T5 directory (`pretrained`), its vocabulary grown for the ID
strategy's new tokens. Re-running the same command resumes from the last
checkpoint; re-running a finished run says so and trains nothing. The run
ends with a summary (steps, final loss, last validation scores, checkpoint,
the commands to run next), also written to WORKDIR/train_summary.json.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import shlex
import time
from pathlib import Path
from typing import Callable, Optional

import gin
import jax
from etils import epath

from text2tracks_jax.data import outputs
from text2tracks_jax.data.errors import FlagError
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.models import configs, network, partitioning, resize
from text2tracks_jax.models import pretrained as pretrained_lib
from text2tracks_jax.training import checkpoints, distributed, fingerprints, input_pipeline
from text2tracks_jax.training import optimizers, task_data
from text2tracks_jax.training.trainer import TrainConfig, Trainer

logger = logging.getLogger(__name__)


def _round_up(n: int, multiple: int = 128) -> int:
  return int(math.ceil(n / multiple) * multiple)


def _task_vocab_size(task: str) -> int:
  # lazy: seqio imports TensorFlow (~4 s), which importing the trainer does not need
  import seqio  # pylint: disable=import-outside-toplevel
  return seqio.get_mixture_or_task(task).output_features["targets"].vocabulary.vocab_size


def _pretrained_params(path: str, config: configs.T5Config, seed: int):
  hf_config, params = pretrained_lib.load_pretrained(path)  # Hugging Face or T5X directory
  if config.vocab_size > hf_config.vocab_size:
    params = resize.resize_vocab(params, config.vocab_size, jax.random.key(seed))
  shape_fields = ("d_model", "d_kv", "d_ff", "num_heads", "num_encoder_layers",
                  "num_decoder_layers")
  for f in shape_fields:
    if getattr(hf_config, f) != getattr(config, f):
      raise ValueError(f"pretrained {path} has {f}={getattr(hf_config, f)}, the model config "
                       f"{getattr(config, f)}: include the matching gin_configs/models/ file")
  return params


@gin.configurable(denylist=["make_eval_fn"])
def train(workdir: str = gin.REQUIRED, task: str = gin.REQUIRED,
          model_config: configs.T5Config = gin.REQUIRED, run_dir: Optional[str] = None,
          num_epochs: float = 20, max_steps: Optional[int] = None,
          batch_size: int = TrainConfig.batch_size,
          learning_rate: float = 5e-4, warmup_steps: int = 0, decay: str = "linear",
          inputs_length: int = 64, targets_length: Optional[int] = None,
          label_smoothing: float = TrainConfig.label_smoothing,
          z_loss: float = TrainConfig.z_loss, seed: int = TrainConfig.seed,
          num_partitions: int = 1,
          checkpoint_every_steps: int = TrainConfig.checkpoint_every_steps,
          keep_checkpoints: int = TrainConfig.keep_checkpoints,
          async_checkpoints: bool = TrainConfig.async_checkpoints,
          log_every_steps: int = TrainConfig.log_every_steps,
          pretrained: Optional[str] = None, base_spm: Optional[str] = None,
          num_extra_ids: int = 100, eval_every_steps: int = TrainConfig.eval_every_steps,
          eval_queries: int = 200, trie_loss: bool = False, group_targets: int = 0,
          input_token_dropout: float = TrainConfig.input_token_dropout,
          model_overrides: Optional[dict] = None,
          make_eval_fn: Optional[Callable[..., Callable]] = None) -> dict:
  """Trains `model_config` on `task`'s train split; returns a summary dict.

  The trainer's settings (`trainer.TrainConfig`: batch_size, seed,
  label_smoothing, z_loss, checkpoint_every_steps, keep_checkpoints,
  async_checkpoints, log_every_steps, eval_every_steps, input_token_dropout) are
  keyword arguments here, so gin binds them as `train.<name>`; their defaults
  are TrainConfig's.

  With `pretrained` (a Hugging Face or T5X checkpoint directory), the run's
  vocabulary is built on `base_spm` (default: the checkpoint's own
  spiece.model, with T5's `num_extra_ids` sentinels), pinned to `run_dir` so
  that inference tokenises the same way.

  With `eval_every_steps` (and `run_dir`), the first `eval_queries` validation
  queries are decoded (diverse beam search, constrained) every so many steps and
  validation hits@10 and friends go to TensorBoard and the console. The caller
  supplies the decoding: `make_eval_fn(model, run_dir, task, inputs_length,
  num_queries, normalize)` returns the trainer's `eval_fn(params, step)`
  (`serving.validation.make_eval_fn`, as the CLI and the experiment runner pass).

  With `group_targets` = K > 0, the train pairs are grouped by query
  (`input_pipeline.group_by_query`): a batch is `batch_size` queries, each with
  up to K of its targets, and each query is encoded once per step for all of
  them (same loss, ~K-fold fewer encoder passes); an epoch still visits every
  pair once.

  With `trie_loss` (needs `run_dir`), each target token's softmax runs over the
  legal next tokens of the task's prefix trie (`trainer.trie_cross_entropy`),
  the distribution constrained decoding ranks, instead of the whole vocabulary.

  `model_overrides` replaces `model_config` fields (e.g. {"d_model": 256,
  "d_ff": 1024}): one run's variant of the configured size, as the experiment
  runner's `best_train` uses; unknown fields are refused before anything runs.
  """
  model_config = _override_model(model_config, model_overrides)
  distributed.initialize()
  workdir = epath.Path(workdir)  # local or gs://...
  if pretrained and not base_spm and (epath.Path(pretrained) / "spiece.model").exists():
    base_spm = str(epath.Path(pretrained) / "spiece.model")
  registered = None
  if run_dir:
    import tasks  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
    registered = tasks.register_run(run_dir, base_spm=base_spm,
                                    num_extra_ids=num_extra_ids if base_spm else 0)
  elif base_spm:
    raise ValueError("base_spm needs run_dir (the vocabulary is pinned to the run)")
  _check_task(task, run_dir, registered)
  _check_encoder(task, model_config, pretrained, input_token_dropout)
  # Rows for every token of the task's vocabulary, padded to a multiple of 128.
  model_config = dataclasses.replace(model_config, vocab_size=_round_up(_task_vocab_size(task)))
  inputs = _input_fingerprints(run_dir, task)
  # A workdir holds one model: nothing is written into it for another one.
  fingerprints.check_workdir(workdir, task, json.loads(json.dumps(
      dataclasses.asdict(model_config), default=str)), inputs)
  workdir.mkdir(parents=True, exist_ok=True)
  examples = task_data.load_task_examples(task, "train", inputs_length, targets_length,
                                          cache_dir=_local_or_none(workdir / "cache"))
  pairs = len(examples)
  if group_targets:
    examples = input_pipeline.group_by_query(examples, group_targets)
  steps_per_epoch = len(examples) // batch_size
  total_steps = max_steps or max(1, int(round(num_epochs * steps_per_epoch)))
  schedule = optimizers.learning_rate_schedule(total_steps, learning_rate=learning_rate,
                                               warmup_steps=warmup_steps, decay=decay)
  optimizer = optimizers.create_optimizer(schedule)
  model = network.T5Model(model_config)
  if model_config.encoder != "t5" and model_config.frozen_encoder_layers:
    optimizer = optimizers.freeze(optimizer, network.trainable_mask(
        model_config, network.abstract_params(model)))
  trie = None
  if trie_loss:
    if not run_dir:
      raise ValueError("trie_loss needs run_dir (the trie is built from the run's ID map)")
    import tasks  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
    sequences = tasks.id_token_sequences(run_dir, task)[3]
    trie = prefix_trie.build_trie(sequences, eos_id=1, vocab_size=model_config.vocab_size)
  init_params = _pretrained_params(pretrained, model_config, seed) if pretrained else None
  if model_config.encoder != "t5":  # Rothe et al.: the pretrained encoder, a new decoder
    init_params = network.warm_start(model_config, network.init_params(model, jax.random.key(seed)))
  writer = _metric_writer(workdir)
  info = {"task": task, "run_dir": str(Path(run_dir).absolute()) if run_dir else None,
          "examples": pairs, "query_groups": len(examples) if group_targets else None,
          "group_targets": group_targets, "inputs_length": int(examples.inputs.shape[1]),
          "targets_length": int(examples.targets.shape[-1]), "total_steps": total_steps,
          "steps_per_epoch": steps_per_epoch, "batch_size": batch_size,
          "model_config": dataclasses.asdict(model_config),
          "num_params": network.num_params(network.abstract_params(model)),
          "devices": jax.device_count(), "processes": jax.process_count(),
          "pretrained": pretrained, "trie_loss": trie_loss, "seed": seed, "fingerprints": inputs,
          "input_form": fingerprints.input_form(),
          "gin_config": gin.config_str()}
  done = checkpoints.latest_step(workdir / "checkpoints")
  if done is not None and done >= total_steps:
    logger.info(f"{workdir} is complete: checkpoint step {done} of {total_steps}, nothing to train "
                "(raise train.max_steps or train.num_epochs to train further)")
    _log_summary(workdir, _read_json(workdir / SUMMARY_FILE) or {"step": done})
    return info
  if jax.process_index() == 0:
    _write_json(workdir / "train_config.json", info)
  unit = (f" queries x {group_targets} target slots ({len(examples):,} query groups)"
          if group_targets else "")
  logger.info(f"training {task}: {pairs:,} examples, {total_steps:,} steps of {batch_size}{unit} "
              f"on {jax.device_count()} device(s), {info['num_params'] / 1e6:.1f}M parameters")
  eval_fn = None
  if eval_every_steps and run_dir:
    if make_eval_fn is None:
      raise ValueError("train.eval_every_steps needs make_eval_fn from the caller (e.g. "
                       "text2tracks_jax.serving.validation.make_eval_fn)")
    decode_eval = make_eval_fn(model, run_dir, task, info["inputs_length"], eval_queries,
                               "legal" if trie_loss else "vocab")
    # The validation loss (all validation pairs, dropout off, the train loss's units)
    # next to the decoded metrics: the learning curves' overfitting yardstick.
    val = task_data.load_task_examples(task, "validation", info["inputs_length"],
                                       info["targets_length"],
                                       cache_dir=_local_or_none(workdir / "cache"))
    val = input_pipeline.group_by_query(val, group_targets) if group_targets else val

    def eval_fn(params, step):
      loss = trainer.eval_loss(params, val)
      logger.info(f"step {step}: validation loss {loss:.4f} ({len(val):,} "
                  f"{'query groups' if group_targets else 'pairs'})")
      return {**decode_eval(params, step), "validation_loss": loss}
  trainer = Trainer(model, optimizer, workdir,
                    TrainConfig(batch_size=batch_size, seed=seed, label_smoothing=label_smoothing,
                                z_loss=z_loss, checkpoint_every_steps=checkpoint_every_steps,
                                keep_checkpoints=keep_checkpoints,
                                async_checkpoints=async_checkpoints,
                                log_every_steps=log_every_steps,
                                eval_every_steps=eval_every_steps,
                                input_token_dropout=input_token_dropout),
                    mesh=partitioning.create_mesh(num_partitions), writer=writer,
                    init_params=init_params, eval_fn=eval_fn, trie=trie)
  start = time.time()
  try:
    trainer.fit(examples, total_steps, schedule)
  finally:
    trainer.close()
    if writer is not None:
      writer.close()
  last = trainer.last_scalars
  summary = {"task": task, "step": total_steps, "total_steps": total_steps,
             "seconds": round(time.time() - start, 1), "final_loss": last.get("loss"),
             "validation": {k[len("validation_"):]: v for k, v in last.items()
                            if k.startswith("validation_")},
             "checkpoint": f"{trainer.checkpointer.directory}/{total_steps}"}
  if jax.process_index() == 0:
    _write_json(workdir / SUMMARY_FILE, summary)
  _log_summary(workdir, summary)
  return info


SUMMARY_FILE = "train_summary.json"


def _log_summary(workdir, summary: dict):
  """The run's outcome and the commands to run next."""
  loss = summary.get("final_loss")
  scores = ", ".join(f"{k} {v:.3f}" for k, v in sorted(summary.get("validation", {}).items())
                     if k in ("hits@10", "recall@10"))
  took = f" in {summary['seconds']:.0f}s" if summary.get("seconds") is not None else ""
  logger.info(f"done: {summary['step']:,} steps{took}"
              + (f"; final loss {loss:.4f}" if loss is not None else "")
              + (f"; validation {scores}" if scores else ""))
  checkpoint = summary.get("checkpoint") or f"{workdir}/checkpoints/{summary['step']}"
  logger.info(f"checkpoint: {checkpoint}")
  w = shlex.quote(str(workdir))
  logger.info(f"next: text2tracks infer --workdir {w}    # predictions for the test split\n"
              f"      text2tracks recommend --workdir {w} \"old classics for slow dancing\"")


def _override_model(model_config: configs.T5Config, overrides: Optional[dict]):
  fields = {f.name for f in dataclasses.fields(model_config)}
  unknown = sorted(set(overrides or {}) - fields)
  if unknown:
    raise FlagError(f"--gin.train.model_overrides: unknown T5Config fields {unknown}; "
                    f"known: {sorted(fields)}")
  return dataclasses.replace(model_config, **(overrides or {}))


def _check_task(task: str, run_dir, registered):
  """`FlagError` naming the run's tasks if `task` is not registered."""
  import seqio  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
  if task in seqio.TaskRegistry.names() or task in seqio.MixtureRegistry.names():
    return
  if registered is None:  # registered elsewhere (TEXT2TRACKS_RUN_DIRS, gin)
    registered = sorted(n for n in seqio.TaskRegistry.names() if n.startswith("text2tracks_"))
  where = f"run {run_dir}" if run_dir else "registered text2tracks runs"
  raise FlagError(f"train.task: unknown task {task!r}; the tasks of {where}: "
                  + (", ".join(registered) or "none (build an ID map first)"))


def _check_encoder(task: str, config: configs.T5Config, pretrained, input_token_dropout):
  """`FlagError` if the task's query vocabulary is not the one the model's
  encoder reads (a pretrained encoder reads its WordPiece: the task
  `tasks.task_name(..., encoder=...)`), or a setting does not apply to it."""
  import seqio  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
  from tasks import wordpiece  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
  words = isinstance(seqio.get_mixture_or_task(task).output_features["inputs"].vocabulary,
                     wordpiece.WordPieceVocabulary)
  if config.encoder == "t5" and words:
    raise FlagError(f"train.task: {task} reads queries as WordPiece tokens for a pretrained "
                    "encoder; the model's encoder is T5's (include gin_configs/models/"
                    "minilm_t5.gin, or train the task without the encoder suffix)")
  if config.encoder != "t5":
    if not words:
      raise FlagError(f"train.task: the model's encoder is {config.encoder!r}, which reads "
                      f"its own WordPiece tokens: train the task {task}_{config.encoder}")
    if pretrained:
      raise FlagError(f"train.pretrained: a T5 checkpoint, but the encoder is "
                      f"{config.encoder!r} (warm-started from its own checkpoint)")
    if input_token_dropout:
      raise FlagError("train.input_token_dropout: not supported with a pretrained encoder "
                      "(it would drop its [CLS]/[SEP] tokens)")


def _input_fingerprints(run_dir, task: str) -> dict:
  """The fingerprints of the data, ID map and vocabulary `task` trains on."""
  import seqio  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
  vocabulary = seqio.get_mixture_or_task(task).output_features["targets"].vocabulary
  if not run_dir:
    return fingerprints.record(vocabulary=vocabulary.sentencepiece_model_file)
  import tasks  # pylint: disable=import-outside-toplevel  # lazy: TensorFlow
  words = (tasks.task_inputs(task) or {}).get("input_vocabulary")
  return fingerprints.record(data=Path(run_dir) / "data", id_map=tasks.id_map_dir(run_dir, task),
                             vocabulary=vocabulary.sentencepiece_model_file,
                             input_vocabulary=words)


def _local_or_none(path: epath.Path):
  """The tokenized-examples cache is plain NumPy files: local workdirs only."""
  return Path(path) if "://" not in str(path) else None


def _metric_writer(workdir: epath.Path):
  # lazy: clu.metric_writers imports TensorFlow (~4 s)
  from clu import metric_writers  # pylint: disable=import-outside-toplevel
  return metric_writers.create_default_writer(
      str(workdir / "tensorboard"), just_logging=jax.process_index() > 0, asynchronous=False)


def _read_json(path: epath.Path):
  return json.loads(path.read_text()) if path.exists() else None


def _write_json(path: epath.Path, obj):
  outputs.atomic_write(path, json.dumps(obj, indent=2, default=str) + "\n")
