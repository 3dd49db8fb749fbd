"""Validation decoding during training: the trainer's `eval_fn`.

The caller of `training.train.train` (the CLI's `train`, the experiment
runner) passes `make_eval_fn`; with `train.eval_every_steps`, the trainer
calls the function it builds every so many steps, so training itself never
imports decoding or serving.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import jax
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.evaluation import metrics
from text2tracks_jax.serving.recommender import Recommender

logger = logging.getLogger(__name__)


def make_eval_fn(model, run_dir, task: str, inputs_length: int, num_queries: int,
                 normalize: str = "vocab"):
  """`eval_fn(params, step)` for `train(make_eval_fn=...)`: decodes the first
  `num_queries` validation queries of `run_dir` with `model` (diverse beam
  search, constrained), logs and returns validation hits@10 and friends."""
  rec = Recommender.for_task(model, None, run_dir, task, inputs_length, normalize)
  examples = list(PreparedDataset.load(Path(run_dir) / "data").examples("validation"))
  examples = examples[:num_queries]
  eval_fn = validation_eval_fn(rec, examples)

  def logged(params, step):
    scores = eval_fn(params, step)
    logger.info(f"step {step}: validation hits@10 {scores['validation_hits@10']:.3f} "
                f"(recall@10 {scores['validation_recall@10']:.3f}, {len(examples)} queries)")
    return scores
  return logged


def validation_eval_fn(recommender: Recommender, examples, batch_size: int = 32, k: int = 10):
  """`eval_fn(params, step) -> {"validation_hits@10": ...}` for the trainer.

  Parameters on one device are decoded in place. A train state sharded over
  several devices or processes is copied to every process first, and each
  process decodes the queries on its own devices, as `infer` does.
  """
  local = recommender.on_local_devices(batch_size)

  def eval_fn(params, step):
    del step
    rec = recommender
    if len({d for x in jax.tree.leaves(params) for d in x.sharding.device_set}) > 1:
      rec, params = local, _replicate_locally(params, local.batch_sharding)
    preds = []
    for i in range(0, len(examples), batch_size):
      batch = [e.query for e in examples[i:i + batch_size]]
      n = len(batch)
      batch += batch[-1:] * (batch_size - n)
      preds += [r["track_ids"] for r in rec.recommend(batch, top_n=k, params=params,
                                                      warn_truncated=False)[:n]]
    scores = metrics.score_queries(preds, [e.track_ids for e in examples], k)
    return {f"validation_{name}": value for name, value in scores.items()}

  return eval_fn


def _replicate_locally(params, batch_sharding: Optional[NamedSharding]):
  """A full copy of sharded (possibly multi-process) `params` on this process's
  devices: replicated over `batch_sharding`'s mesh, else on the default device."""
  if all(x.is_fully_addressable for x in jax.tree.leaves(params)):
    host = jax.device_get(params)
  else:
    host = multihost_utils.process_allgather(params, tiled=True)
  if batch_sharding is None:
    return jax.device_put(host)
  return jax.device_put(host, NamedSharding(batch_sharding.mesh, PartitionSpec()))
