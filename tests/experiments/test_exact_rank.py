"""Exact scoring of every ID (search error vs model error) on a tiny random T5."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from text2tracks_jax import cli
from text2tracks_jax.data.dataset import Example
from text2tracks_jax.decoding import generation
from text2tracks_jax.experiments import exact_rank
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.ids.id_map import IdMap
from text2tracks_jax.models import configs, network
from text2tracks_jax.serving.recommender import Recommender

VOCAB = 64


@pytest.fixture(scope="module")
def model_params():
  """A tiny T5 with random weights, LM head scaled up so that log-probs spread."""
  model = network.T5Model(configs.T5Config(
      vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_heads=4, num_encoder_layers=2,
      num_decoder_layers=2, dropout_rate=0.0))
  params = network.init_params(model, jax.random.key(0))
  params["decoder"]["logits_dense"]["kernel"] = params["decoder"]["logits_dense"]["kernel"] * 4.0
  return model, params


@pytest.fixture(scope="module")
def mixed_ids():
  """70 IDs of 1-3 tokens (EOS not included), many sharing prefixes."""
  rng = np.random.default_rng(3)
  ids = set()
  while len(ids) < 70:
    length = int(rng.integers(1, 4))
    ids.add((int(rng.integers(2, 8)),) + tuple(int(x) for x in rng.integers(2, 12, length - 1)))
  ids = sorted(ids)
  return ids, prefix_trie.build_trie(ids, vocab_size=VOCAB)


@pytest.fixture(scope="module")
def queries():
  rng = np.random.default_rng(4)
  tokens = rng.integers(2, VOCAB, (5, 6)).astype(np.int32)
  tokens[1, 3:] = 0
  tokens[3, 4:] = 0
  tokens[:, -1] = np.where(tokens[:, -2] > 0, 1, 0)
  return tokens


def teacher_forced(model, params, query_tokens, ids):
  """Brute force: [B, M] sum of log_softmax over each ID (+ EOS), one
  `model.apply` per query over all IDs."""
  width = max(len(i) for i in ids) + 1
  targets = np.zeros((len(ids), width), np.int32)
  for r, i in enumerate(ids):
    targets[r, :len(i) + 1] = list(i) + [1]
  inputs = np.pad(targets[:, :-1], ((0, 0), (1, 0)))

  @jax.jit
  def one_query(q):
    enc = jnp.repeat(q[None], len(ids), axis=0)
    logits = model.apply({"params": params}, enc, inputs, targets, enable_dropout=False)
    logp = jax.nn.log_softmax(logits, axis=-1)
    tok = jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
    return jnp.sum(jnp.where(targets > 0, tok, 0.0), axis=-1)

  return np.stack([np.asarray(one_query(q)) for q in query_tokens])


def test_leaf_paths_spell_every_id_in_leaf_order(mixed_ids):
  ids, trie = mixed_ids
  tokens, nodes = exact_rank.leaf_paths(trie)
  assert tokens.shape == (len(ids), trie.max_length)
  for row, i in zip(tokens, ids):  # build_trie numbers leaves in lexicographic order
    assert row.tolist() == list(i) + [1] + [0] * (trie.max_length - len(i) - 1)
  # Each node is the one reached by the tokens before it.
  node = np.zeros(len(ids), np.int32)
  for t in range(trie.max_length):
    live = tokens[:, t] > 0
    assert (nodes[live, t] == node[live]).all() and (nodes[~live, t] == trie.sink).all()
    node = np.where(live, prefix_trie.find_child(trie, node, tokens[:, t], xp=np), node)
  assert (np.asarray(trie.terminal_leaf)[node] == np.arange(len(ids))).all()


def test_exact_scores_equal_teacher_forced_log_softmax(model_params, mixed_ids, queries):
  model, params = model_params
  ids, trie = mixed_ids
  brute = teacher_forced(model, params, queries, ids)
  exact = exact_rank.exact_scores(model, params, queries, trie, queries_per_batch=2,
                                  ids_per_chunk=16)
  assert exact.shape == (len(queries), len(ids))
  np.testing.assert_allclose(exact, brute, atol=1e-4, rtol=0)
  assert (exact.argmax(axis=1) == brute.argmax(axis=1)).all()
  # Log-probs of all IDs form (at most) a distribution.
  assert (exact < 0).all() and (np.exp(exact).sum(axis=1) <= 1 + 1e-5).all()


def test_chunking_does_not_change_the_scores(model_params, mixed_ids, queries):
  model, params = model_params
  _, trie = mixed_ids
  reference = exact_rank.exact_scores(model, params, queries, trie)  # one chunk per length
  chunks = exact_rank.chunk_plan(trie, 7, 3, max_logits_bytes=3 * 8 * VOCAB * 4)
  leaves = np.concatenate([ch.leaves for ch in chunks])
  assert sorted(leaves[leaves >= 0].tolist()) == list(range(trie.num_leaves))
  reps = np.concatenate([ch.rep_node for ch in chunks])
  internal = np.nonzero(np.diff(np.asarray(trie.row_ptr))[:trie.num_nodes])[0]
  assert sorted(reps[reps < trie.sink].tolist()) == internal.tolist()  # each node once
  for ch in chunks:  # one ID length per chunk, no padding after EOS
    assert ch.tokens.shape[0] == 7 and (ch.tokens[ch.leaves >= 0, -1] == 1).all()
    assert (ch.tokens[ch.leaves >= 0] > 1).sum(axis=1).tolist() == [ch.tokens.shape[1] - 1] * (
        ch.leaves >= 0).sum()
    assert ch.rep_block == 8 and len(ch.rep_pos) % 8 == 0
  got = exact_rank.exact_scores(model, params, queries, trie, queries_per_batch=3,
                                ids_per_chunk=7, max_logits_bytes=3 * 8 * VOCAB * 4)
  np.testing.assert_allclose(got, reference, atol=1e-5, rtol=1e-6)


def test_a_huge_beam_finds_the_exact_top_k(model_params, mixed_ids, queries):
  model, params = model_params
  ids, trie = mixed_ids
  exact = exact_rank.exact_scores(model, params, queries, trie)
  # Beams >= IDs: nothing is pruned; length_penalty 0: scores are plain sums.
  out = generation.generate(model, params, queries, num_beams=len(ids),
                            max_new_tokens=trie.max_length, constraint=trie,
                            length_penalty=0.0)
  leaves, scores = np.asarray(out.leaves), np.asarray(out.scores)
  for b in range(len(queries)):
    k = 10
    top = np.argsort(-exact[b], kind="stable")[:k]
    assert leaves[b, :k].tolist() == top.tolist()
    np.testing.assert_allclose(scores[b, :k], exact[b, top], atol=1e-4)


# ----------------------------------------------------------------------------
# The diagnostic on a small Recommender (no workdir needed).


class _WordVocab:
  """Words -> token ids in [2, VOCAB) (deterministic), enough for queries."""
  eos_id = 1  # T5's

  def encode(self, text):
    return [2 + sum(map(ord, w)) % (VOCAB - 2) for w in text.split()]


@pytest.fixture(scope="module")
def recommender(model_params):
  """40 IDs of 2 tokens (same length: beam scores keep the exact order), each
  naming one or two tracks."""
  model, params = model_params
  rng = np.random.default_rng(5)
  seqs = sorted({(int(a), int(b)) for a, b in rng.integers(2, 9, (200, 2))})[:40]
  id_strings = [f"<{a}><{b}>" for a, b in seqs]
  id_to_tracks, track_to_id = {}, {}
  for i, s in enumerate(id_strings):
    id_to_tracks[s] = [f"t{i}a", f"t{i}b"] if i % 3 == 0 else [f"t{i}a"]
    track_to_id.update({t: s for t in id_to_tracks[s]})
  trie = prefix_trie.build_trie(seqs, vocab_size=VOCAB)
  id_map = IdMap("test", track_to_id, id_to_tracks, [], {})
  return Recommender(model, params, _WordVocab(), None, id_map, trie, id_strings,
                               inputs_length=8, catalog={})


def _examples(rec, texts):
  scores = exact_rank.exact_scores(rec.model, rec.params, rec.encode_queries(texts), rec.trie)
  best, worst = scores.argmax(axis=1), scores.argmin(axis=1)
  # Query 0: its exact top ID's second-listed track (when it has one) is relevant;
  # the others: the exact worst ID, which no ranking of 10 reaches.
  rel0 = rec.id_map.id_to_tracks[rec.leaf_ids[best[0]]][-1]
  return [Example(f"q{i}", t, (rel0,) if i == 0 else (f"t{worst[i]}a",))
          for i, t in enumerate(texts)], scores


def test_diagnose_with_an_exhaustive_beam_finds_no_search_error(recommender, tmp_path):
  texts = ["slow dancing classics", "lofi focus", "rainy night jazz", "workout hits"]
  examples, scores = _examples(recommender, texts)
  result = exact_rank.diagnose(
      recommender, examples, k=10, beam_batch_size=4,
      beam_settings=dict(num_beams=40, num_beam_groups=1, diversity_penalty=0.0),
      progress=False)
  s, rows = result["summary"], result["per_query"]
  assert s["queries"] == 4 and s["num_ids"] == 40
  for b, row in enumerate(rows):
    order = np.argsort(-scores[b], kind="stable")
    # The exact ranking: IDs by log-prob, each expanded to its tracks in order.
    expected = [t for i in order for t in recommender.id_map.id_to_tracks[recommender.leaf_ids[i]]]
    assert row["exact_track_ids"] == expected[:10]
    assert row["exact_top1_id"] == recommender.leaf_ids[order[0]]
    assert row["exact_top1_logprob"] == pytest.approx(float(scores[b, order[0]]), abs=1e-6)
    assert row["beam_top1_exact_rank"] == 1 and row["exact_top10_ids_not_in_beam"] == 0
    assert row["beam_track_ids"] == row["exact_track_ids"]
  assert rows[0]["exact_hits@10"] == rows[0]["beam_hits@10"] == 1.0
  assert rows[0]["best_relevant_exact_rank"] in (1, 2)  # first ID's track 1 or 2
  assert rows[1]["exact_hits@10"] == 0 and rows[1]["best_relevant_exact_rank"] > 10
  assert s["share_both_hit"] == 0.25 and s["share_model_error"] == 0.75
  assert s["share_search_error"] == 0 and s["share_exact_top10_outside_beam"] == 0
  assert s["verdict"] == "model error" and "model error" in s["interpretation"]
  paths = exact_rank.write_report(result, tmp_path / "report")
  assert json.loads(paths["json"].read_text())["summary"]["queries"] == 4
  table = paths["md"].read_text()
  assert "| exact (all 40 IDs scored) |" in table and "model error" in table
  assert not list((tmp_path / "report").glob(".*tmp*"))


def test_diagnose_with_default_beam_settings(recommender):
  texts = ["a b", "c d e", "f", "g h", "i j"]
  examples, scores = _examples(recommender, texts)
  result = exact_rank.diagnose(recommender, examples, beam_batch_size=4, progress=False)
  s, rows = result["summary"], result["per_query"]
  assert s["beam_settings"] == exact_rank.BEAM_DEFAULTS
  shares = ("share_both_hit", "share_search_error", "share_beam_only", "share_model_error")
  assert sum(s[x] for x in shares) == pytest.approx(1.0)
  for b, row in enumerate(rows):
    leaf = recommender.leaf_ids.index(row["beam_top1_id"])
    assert row["beam_top1_exact_rank"] == 1 + int((scores[b] > scores[b, leaf]).sum())
    assert row["beam_top1_logprob"] <= row["exact_top1_logprob"] + 1e-6


def test_search_error_verdict():
  s = {"exact_hits@10": 0.3, "beam_hits@10": 0.1, "share_search_error": 0.2,
       "share_model_error": 0.6}
  verdict, text = exact_rank.interpret(s, 10)
  assert verdict == "search error" and "3.00x" in text and "20%" in text
  verdict, text = exact_rank.interpret(dict(s, **{"beam_hits@10": 0.28}), 10)
  assert verdict == "model error" and "60%" in text


# ----------------------------------------------------------------------------
# Bad input: exit code 2 with one line.


def test_cli_rejects_a_workdir_without_checkpoint_and_an_unknown_split(tmp_path, capsys):
  assert cli.main(["diagnose", "--workdir", str(tmp_path)]) == cli.EXIT_BAD_INPUT
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "train_config.json" in err[0]
  (tmp_path / "train_config.json").write_text("{}")
  (tmp_path / "checkpoints").mkdir()
  assert cli.main(["diagnose", "--workdir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "no checkpoint" in err[0]
  assert cli.main(["diagnose", "--workdir", str(tmp_path), "--split", "dev"]) == 2
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "unknown split 'dev'" in err[0]
  assert not (tmp_path / "o").exists()



def test_legal_normalisation_is_a_distribution_over_the_ids(model_params, mixed_ids, queries):
  """normalize="legal" (a trie-loss model): p(ID | query) sums to 1 over the trie's IDs,
  while the vocabulary normalisation leaks mass to sequences that are no ID."""
  model, params = model_params
  _, trie = mixed_ids
  legal = exact_rank.exact_scores(model, params, queries, trie, normalize="legal",
                                  ids_per_chunk=16)
  np.testing.assert_allclose(np.exp(legal).sum(axis=1), 1.0, rtol=1e-4)
  vocab = exact_rank.exact_scores(model, params, queries, trie, ids_per_chunk=16)
  assert (np.exp(vocab).sum(axis=1) < 0.99).all()
