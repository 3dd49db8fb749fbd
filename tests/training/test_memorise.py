"""A tiny T5 trained with the project's trainer memorises 50 (query, semantic ID) pairs."""

import jax
import numpy as np
import pytest

from text2tracks_jax import ids
from text2tracks_jax.data import prepare
from text2tracks_jax.models import configs, network
from text2tracks_jax.training import optimizers, task_data, trainer
from text2tracks_jax.training.input_pipeline import TokenizedExamples, encdec_features


def test_tiny_model_memorises_fifty_pairs(tmp_path):
  import tasks  # pylint: disable=import-outside-toplevel
  run = tmp_path / "memo"
  prepare.prepare("synthetic", run / "data", preset="tiny")
  ids.build_ids(run / "data", "semantic-ids-cf", run / "ids" / "semantic-ids-cf")
  (name,) = tasks.register_run(run)
  full = task_data.load_task_examples(name, "train", inputs_length=32)
  # 50 pairs with distinct queries (one relevant ID each, so exact match is well defined).
  _, first = np.unique(full.inputs, axis=0, return_index=True)
  rows = np.sort(first)[:50]
  examples = TokenizedExamples(full.inputs[rows], full.targets[rows])
  vocab = int(max(full.inputs.max(), full.targets.max())) + 1
  cfg = configs.get_config("tiny", vocab_size=-(-vocab // 128) * 128, dropout_rate=0.0)
  model = network.T5Model(cfg)
  steps = 400
  schedule = optimizers.learning_rate_schedule(steps, learning_rate=3e-3, warmup_steps=20)
  t = trainer.Trainer(model, optimizers.create_optimizer(schedule), tmp_path / "train",
                      trainer.TrainConfig(batch_size=10, log_every_steps=100,
                                          checkpoint_every_steps=steps))
  state = t.fit(examples, steps, schedule)
  t.close()
  # Teacher-forced argmax equal to the target at every position is exactly the
  # condition under which greedy decoding reproduces the whole ID.
  feats = encdec_features(examples.inputs, examples.targets)
  logits = model.apply({"params": state["params"]}, feats["encoder_input_tokens"],
                       feats["decoder_input_tokens"], enable_dropout=False)
  pred = np.asarray(jax.device_get(logits)).argmax(-1)
  mask = examples.targets != 0
  exact = np.all((pred == examples.targets) | ~mask, axis=1).mean()
  assert exact >= 0.95, exact
