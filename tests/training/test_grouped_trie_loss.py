"""Query-grouped batches and the trie-normalised loss (issue 13's training recipe)."""

import jax
import numpy as np
import pytest

from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.models import configs, network
from text2tracks_jax.training import optimizers, trainer
from text2tracks_jax.training.input_pipeline import (TokenizedExamples, encdec_features,
                                                     group_by_query)

IDS = [[5, 7], [5, 9, 11], [6, 7], [12]]
CHILDREN = {(): [5, 6, 12], (5,): [7, 9], (5, 7): [1], (5, 9): [11], (5, 9, 11): [1],
            (6,): [7], (6, 7): [1], (12,): [1]}


def _pairs(n=60, queries=7, seed=0):
  rng = np.random.default_rng(seed)
  q = rng.integers(0, queries, n)
  inputs = np.zeros((n, 4), np.int32)
  inputs[:, 0], inputs[:, 1] = 20 + q, 1
  targets = np.zeros((n, 4), np.int32)
  for i in range(n):
    ident = IDS[rng.integers(len(IDS))]
    targets[i, :len(ident) + 1] = ident + [1]
  return TokenizedExamples(inputs, targets)


@pytest.mark.parametrize("k", [1, 3, 8, 100])
def test_group_by_query_puts_every_pair_in_one_slot(k):
  ex = _pairs()
  g = group_by_query(ex, k)
  assert g.targets.shape[1:] == (k, 4) and g.num_pairs == len(ex)
  got = []
  for query, slots in zip(g.inputs, g.targets):
    real = slots[slots[:, 0] != 0]
    assert 1 <= len(real) <= k
    assert not slots[len(real):].any(), "empty slots come last"
    got += [(tuple(query), tuple(t)) for t in real]
  want = [(tuple(x), tuple(y)) for x, y in zip(ex.inputs, ex.targets)]
  assert sorted(got) == sorted(want)
  # Within a query the original order is kept (concatenating its groups).
  for query in np.unique(ex.inputs, axis=0):
    mine = [tuple(y) for x, y in zip(ex.inputs, ex.targets) if (x == query).all()]
    grouped = [tuple(t) for x, slots in zip(g.inputs, g.targets) if (x == query).all()
               for t in slots if t[0]]
    assert grouped == mine
  feats = encdec_features(g.inputs, g.targets)
  np.testing.assert_array_equal(feats["decoder_input_tokens"][..., 1:], g.targets[..., :-1])
  assert (feats["decoder_input_tokens"][..., 0] == 0).all()


def test_trie_cross_entropy_matches_brute_force_and_has_finite_gradients():
  rng = np.random.default_rng(1)
  vocab, dim = 40, 8
  data = trainer.TrieLossData.build(prefix_trie.build_trie(IDS, vocab_size=vocab))
  assert data.id_tokens.tolist() == [1, 5, 6, 7, 9, 11, 12]
  targets = np.array([[5, 9, 11, 1], [12, 1, 0, 0], [6, 7, 1, 0]], np.int32)
  weights = (targets > 0).astype(np.float32)
  hidden = rng.normal(size=(3, 4, dim)).astype(np.float32)
  kernel = rng.normal(size=(dim, vocab)).astype(np.float32)
  total, count = trainer.trie_cross_entropy(hidden, kernel, targets, weights, data, width=3)
  logits = hidden @ kernel
  want = sum(np.logaddexp.reduce(logits[b, t, CHILDREN[tuple(targets[b, :t])]])
             - logits[b, t, targets[b, t]]
             for b in range(3) for t in range(4) if targets[b, t])
  np.testing.assert_allclose(float(total), want, rtol=1e-5)
  assert float(count) == weights.sum()
  # Only legal children count: a bigger logit on an illegal token changes nothing.
  kernel2 = kernel.copy()
  kernel2[:, 30] = 100.0
  np.testing.assert_allclose(float(trainer.trie_cross_entropy(
      hidden, kernel2, targets, weights, data, width=3)[0]), want, rtol=1e-5)
  grads = jax.grad(lambda h, k: trainer.trie_cross_entropy(h, k, targets, weights, data, 3)[0],
                   argnums=(0, 1))(hidden, kernel)
  assert all(np.isfinite(g).all() for g in grads)


def test_targets_outside_the_trie_are_refused():
  trie = prefix_trie.build_trie(IDS, vocab_size=40)
  ok = _pairs(10)
  trainer.check_targets_in_trie(ok, trie)
  trainer.check_targets_in_trie(group_by_query(ok, 4), trie)
  bad = TokenizedExamples(ok.inputs, ok.targets.copy())
  bad.targets[3] = [5, 12, 1, 0]
  with pytest.raises(ValueError, match="1 train targets are not IDs"):
    trainer.check_targets_in_trie(bad, trie)


@pytest.mark.parametrize("use_trie", [False, True])
def test_grouped_step_has_the_loss_of_its_pairs(tmp_path, use_trie):
  """One step on query-grouped examples reports the same loss (and makes the same
  update) as one step on the same pairs flat: each query's encoding is routed
  to exactly its own targets."""
  ex = _pairs(24, queries=5)
  grouped = group_by_query(ex, 4)
  cfg = configs.get_config("tiny", vocab_size=128, dropout_rate=0.0, num_encoder_layers=1,
                           num_decoder_layers=1)
  trie = prefix_trie.build_trie(IDS, vocab_size=128) if use_trie else None
  schedule = optimizers.learning_rate_schedule(10, learning_rate=1e-2)
  make = lambda name: trainer.Trainer(
      network.T5Model(cfg), optimizers.create_optimizer(schedule, name="sgd"), tmp_path / name,
      trainer.TrainConfig(batch_size=len(grouped)), trie=trie)
  flat_t, group_t = make("flat"), make("grouped")
  rows = np.arange(len(ex))
  flat_state, flat = flat_t._step_fn(flat_t.init_state(),  # pylint: disable=protected-access
                                     flat_t._global_batch(encdec_features(ex.inputs[rows],  # pylint: disable=protected-access
                                                                          ex.targets[rows])),
                                     flat_t._trie_data)  # pylint: disable=protected-access
  group_state, grp = group_t._step_fn(group_t.init_state(),  # pylint: disable=protected-access
                                      group_t._global_batch(encdec_features(grouped.inputs,  # pylint: disable=protected-access
                                                                            grouped.targets)),
                                      group_t._trie_data)  # pylint: disable=protected-access
  assert float(grp["target_tokens"]) == float(flat["target_tokens"]) == (ex.targets > 0).sum()
  np.testing.assert_allclose(float(grp["loss"]), float(flat["loss"]), rtol=1e-5)
  for a, b in zip(jax.tree.leaves(group_state["params"]), jax.tree.leaves(flat_state["params"])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
  flat_t.close()
  group_t.close()


@pytest.mark.parametrize("use_trie", [pytest.param(False, marks=pytest.mark.slow), True])
def test_eval_loss_is_the_step_loss_over_all_examples(tmp_path, use_trie):
  """`eval_loss` (dropout off, padded last batch) gives the loss a train step
  reports on the same pairs at the same parameters, flat or grouped."""
  ex = _pairs(23, queries=5)
  cfg = configs.get_config("tiny", vocab_size=128, dropout_rate=0.3, num_encoder_layers=1,
                           num_decoder_layers=1)
  trie = prefix_trie.build_trie(IDS, vocab_size=128) if use_trie else None
  make = lambda name, size: trainer.Trainer(
      network.T5Model(cfg), optimizers.create_optimizer(
          optimizers.learning_rate_schedule(10, learning_rate=1e-2), name="sgd"),
      tmp_path / name, trainer.TrainConfig(batch_size=size), trie=trie)
  whole, small = make("whole", len(ex)), make("small", 4)  # 23 = 5 x 4 + 3: one padded batch
  params = small.init_state()["params"]
  got_flat = small.eval_loss(params, ex)
  got_grouped = small.eval_loss(params, group_by_query(ex, 3))
  state = whole.init_state()
  # The step's loss is dropout-free only with dropout off: compare against a 0-dropout twin.
  cfg0 = configs.get_config("tiny", vocab_size=128, dropout_rate=0.0, num_encoder_layers=1,
                            num_decoder_layers=1)
  twin = trainer.Trainer(network.T5Model(cfg0), whole.optimizer, tmp_path / "twin",
                         trainer.TrainConfig(batch_size=len(ex)), trie=trie)
  _, metrics = twin._step_fn(twin.init_state(),  # pylint: disable=protected-access
                             twin._global_batch(encdec_features(ex.inputs, ex.targets)),  # pylint: disable=protected-access
                             twin._trie_data)  # pylint: disable=protected-access
  np.testing.assert_allclose(got_flat, float(metrics["loss"]), rtol=1e-5)
  np.testing.assert_allclose(got_grouped, got_flat, rtol=1e-5)
  _, dropped = whole._step_fn(state, whole._global_batch(  # pylint: disable=protected-access
      encdec_features(ex.inputs, ex.targets)), whole._trie_data)  # pylint: disable=protected-access
  assert abs(float(dropped["loss"]) - got_flat) > 1e-4, "the train step keeps dropout on"
  for t in (whole, small, twin):
    t.close()


def test_input_token_dropout_drops_query_words_in_training_only(tmp_path):
  """p = 1 trains on the EOS alone (every word becomes padding, a fresh draw per
  step); eval_loss never drops words."""
  ex = _pairs(16, queries=5)
  cfg = configs.get_config("tiny", vocab_size=128, dropout_rate=0.0, num_encoder_layers=1,
                           num_decoder_layers=1)
  make = lambda name, p: trainer.Trainer(
      network.T5Model(cfg), optimizers.create_optimizer(
          optimizers.learning_rate_schedule(10, learning_rate=1e-2), name="sgd"),
      tmp_path / name, trainer.TrainConfig(batch_size=len(ex), input_token_dropout=p))

  def step_loss(t, inputs):
    _, m = t._step_fn(t.init_state(),  # pylint: disable=protected-access
                      t._global_batch(encdec_features(inputs, ex.targets)),  # pylint: disable=protected-access
                      t._trie_data)  # pylint: disable=protected-access
    return float(m["loss"])

  plain, every = make("plain", 0.0), make("every", 1.0)
  eos_only = np.where(ex.inputs == 1, 1, 0).astype(np.int32)
  want_plain, want_eos = step_loss(plain, ex.inputs), step_loss(plain, eos_only)
  assert abs(want_plain - want_eos) > 1e-4, "the words matter to this model"
  np.testing.assert_allclose(step_loss(every, ex.inputs), want_eos, rtol=1e-5)
  params = plain.init_state()["params"]
  np.testing.assert_allclose(every.eval_loss(params, ex), plain.eval_loss(params, ex), rtol=1e-6)
  for t in (plain, every):
    t.close()
