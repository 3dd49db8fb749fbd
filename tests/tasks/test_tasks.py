"""SeqIO tasks: registration per (dataset, strategy), pair expansion, T5X features,
ID round trips, metric functions, vocabulary reuse."""

import pytest

seqio = pytest.importorskip("seqio")

from text2tracks_jax import ids  # pylint: disable=wrong-import-position
from text2tracks_jax.data import prepare  # pylint: disable=wrong-import-position
from text2tracks_jax.data.dataset import PreparedDataset  # pylint: disable=wrong-import-position
from text2tracks_jax.data.errors import SettingsError  # pylint: disable=wrong-import-position

import tasks  # pylint: disable=wrong-import-position
from tasks import vocabularies  # pylint: disable=wrong-import-position

STRATEGIES = ["artist-name-track-name", "track-int", "artist-int-track-seq",
              "artist-iid-track-seq", "semantic-ids-cf"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  run_dir = tmp_path_factory.mktemp("runs") / "tiny-world"
  prepare.prepare("synthetic", run_dir / "data", preset="tiny")
  for s in STRATEGIES:
    ids.build_ids(run_dir / "data", s, run_dir / "ids" / s)
  names = tasks.register_run(run_dir)
  return run_dir, names


def test_every_strategy_registers_a_task_and_the_mixture(run):
  run_dir, names = run
  assert sorted(names) == sorted(tasks.task_name("tiny-world", s) for s in STRATEGIES)
  assert tasks.task_name("tiny-world", "semantic-ids-cf") == "text2tracks_tiny_world_semantic_ids_cf"
  mixture = seqio.get_mixture_or_task("text2tracks_tiny_world")
  assert sorted(t.name for t in mixture.tasks) == sorted(f"{n}_shared" for n in names)


def test_train_examples_are_query_track_pairs_with_t5x_features(run):
  run_dir, _ = run
  prepared = PreparedDataset.load(run_dir / "data")
  pairs = prepared.manifest["counts"]["train"]["pairs"]
  name = tasks.task_name("tiny-world", "semantic-ids-cf")
  task = seqio.get_mixture_or_task(name)
  id_map = ids.load_id_map(run_dir / "ids" / "semantic-ids-cf")
  rows = list(task.get_dataset(None, split="train", shuffle=False).as_numpy_iterator())
  assert len(rows) == pairs
  first = next(prepared.examples("train"))
  got = [r for r in rows if r["query_id"].decode() == first.query_id]
  assert [r["track_id"].decode() for r in got] == list(first.track_ids)
  for r in got:
    assert r["inputs_pretokenized"].decode() == tasks.model_input(first.query)
    assert r["targets_pretokenized"].decode() == id_map.track_to_id[r["track_id"].decode()]
    assert r["targets"][-1] == 1 and r["inputs"][-1] == 1  # EOS appended
    assert len(r["targets"]) == 4  # 3 semantic tokens + EOS
  converted = seqio.EncDecFeatureConverter(pack=False)(
      task.get_dataset({"inputs": 32, "targets": 4}, split="train", shuffle=False),
      {"inputs": 32, "targets": 4})
  assert set(next(iter(converted))) == {"encoder_input_tokens", "decoder_target_tokens",
                                        "decoder_input_tokens", "decoder_loss_weights"}


def test_the_model_reads_each_query_casefolded(run):
  """'Chill VIBES' and 'chill vibes' are one input: the SeqIO task and the base
  vocabulary see `model_input`'s form, never the raw casing."""
  run_dir, _ = run
  prepared = PreparedDataset.load(run_dir / "data")
  raw = {e.query_id: e.query for e in prepared.examples("test")}
  assert any(q != q.lower() for q in raw.values()), "no cased test query: checks nothing"
  task = seqio.get_mixture_or_task(tasks.task_name("tiny-world", "track-int"))
  vocab = task.output_features["inputs"].vocabulary
  for r in task.get_dataset(None, split="test", shuffle=False).as_numpy_iterator():
    query = raw[r["query_id"].decode()]
    assert r["inputs_pretokenized"].decode() == " ".join(query.split()).casefold()
    assert list(r["inputs"][:-1]) == vocab.encode(" ".join(query.upper().split()).casefold())
  pieces = [vocab.tokenizer.id_to_piece(i) for i in range(vocab.tokenizer.get_piece_size())]
  assert not any(p != p.lower() for p in pieces if not p.startswith("<")), \
      "the base vocabulary was trained on cased text"


def test_eval_split_has_one_example_per_query_with_all_relevant_tracks(run):
  run_dir, _ = run
  prepared = PreparedDataset.load(run_dir / "data")
  relevance = prepared.relevance("test")
  task = seqio.get_mixture_or_task(tasks.task_name("tiny-world", "track-int"))
  rows = list(task.get_dataset(None, split="test", shuffle=False).as_numpy_iterator())
  assert len(rows) == len(relevance)
  for r in rows:
    target = task.postprocess_fn(r["targets_pretokenized"], example=r, is_target=True)
    assert target == relevance[r["query_id"].decode()]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_id_round_trips_and_new_tokens_are_single_ids(run, strategy):
  run_dir, _ = run
  id_map = ids.load_id_map(run_dir / "ids" / strategy)
  task = seqio.get_mixture_or_task(tasks.task_name("tiny-world", strategy))
  vocab = task.output_features["targets"].vocabulary
  for id_string in set(id_map.track_to_id.values()):
    assert vocab.decode(vocab.encode(id_string)) == id_string
  seen = set()
  for token in id_map.new_tokens:
    (token_id,) = vocab.encode(token)
    seen.add(token_id)
  assert len(seen) == len(id_map.new_tokens)


def test_postprocess_and_metrics_score_predictions(run):
  run_dir, _ = run
  task = seqio.get_mixture_or_task(tasks.task_name("tiny-world", "semantic-ids-cf"))
  id_map = ids.load_id_map(run_dir / "ids" / "semantic-ids-cf")
  track = next(iter(id_map.track_to_id))
  id_string = id_map.track_to_id[track]
  predicted = task.postprocess_fn([id_string.encode(), b"<+0><+0><+0>not-an-id",
                                   id_string.encode()])  # a repeated decode adds nothing
  assert predicted == list(id_map.id_to_tracks[id_string])
  (metric_fn,) = task.metric_fns
  scores = metric_fn([[track], ["nope"]], [predicted, predicted])
  assert scores["hits@10"] == pytest.approx(0.5)
  assert scores["hit_rate@10"] == pytest.approx(0.5)


def test_second_registration_reuses_the_trained_sentencepiece(run):
  run_dir, _ = run
  model = run_dir / "vocab" / "base" / "spiece.model"
  stamp = model.stat().st_mtime_ns
  tasks.register_run(run_dir)
  assert model.stat().st_mtime_ns == stamp
  assert vocabularies.base_size(model) > 100


def test_a_pretrained_base_vocabulary_is_pinned_to_the_run(run, tmp_path):
  import shutil  # pylint: disable=import-outside-toplevel
  run_dir, _ = run
  pinned_run = tmp_path / "pinned-world"
  shutil.copytree(run_dir / "data", pinned_run / "data")
  shutil.copytree(run_dir / "ids" / "track-int", pinned_run / "ids" / "track-int")
  # Stand-in for Flan-T5's spiece.model: any base model other than the run's own.
  other = vocabularies.train_base_model([f"song {i} of mine" for i in range(300)],
                                        tmp_path / "flan", vocab_size=400)
  name = tasks.task_name("pinned-world", "track-int")
  tasks.register_run(pinned_run, base_spm=other, num_extra_ids=100)
  size = seqio.get_mixture_or_task(name).output_features["targets"].vocabulary.vocab_size
  base = vocabularies.base_size(other)
  new = len(ids.load_id_map(pinned_run / "ids" / "track-int").new_tokens)
  assert size == base + 100 + new
  tasks.register_run(pinned_run)  # inference registers without knowing the base: same vocab
  assert seqio.get_mixture_or_task(name).output_features["targets"].vocabulary.vocab_size == size
  with pytest.raises(ValueError, match="pinned"):
    tasks.register_run(pinned_run, base_spm=run_dir / "vocab" / "base" / "spiece.model")


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_id_token_sequences_are_the_sequences_the_task_trains_on(run, strategy):
  """The trie (decoding, trie loss) is built from `id_token_sequences`: every
  tokenized train target of the task must be one of them, token for token
  (SentencePiece's Python and TF builds break score ties differently)."""
  run_dir, _ = run
  name = tasks.task_name("tiny-world", strategy)
  _, id_map, id_strings, sequences = tasks.id_token_sequences(run_dir, name)
  assert id_strings == sorted(id_map.id_to_tracks) and len(sequences) == len(id_strings)
  known = {tuple(s) for s in sequences}
  ds = seqio.get_mixture_or_task(name).get_dataset(None, split="train", shuffle=False,
                                                  use_cached=False)
  targets = [tuple(int(x) for x in ex["targets"]) for ex in ds.as_numpy_iterator()]
  assert targets and all(t in known for t in targets)


def test_registration_without_building_only_reads_the_vocabularies(tmp_path):
  """What `import tasks` does for TEXT2TRACKS_RUN_DIRS: no SentencePiece training,
  no writes; a missing or stale vocabulary is refused."""
  run_dir = tmp_path / "tiny-readonly"
  prepare.prepare("synthetic", run_dir / "data", preset="tiny")
  ids.build_ids(run_dir / "data", "track-int", run_dir / "ids" / "track-int")
  with pytest.raises(SettingsError, match="spiece.model: missing"):
    tasks.register_run(run_dir, base_vocab_size=500, build_vocabularies=False)
  assert not (run_dir / "vocab").exists()
  names = tasks.register_run(run_dir, base_vocab_size=500)
  before = {p: p.stat().st_mtime_ns for p in (run_dir / "vocab").rglob("*") if p.is_file()}
  assert tasks.register_run(run_dir, base_vocab_size=500, build_vocabularies=False) == names
  assert {p: p.stat().st_mtime_ns for p in before} == before
  (run_dir / "vocab" / "track_int" / "spiece.model").write_bytes(b"stale")
  with pytest.raises(SettingsError, match="made from other inputs"):
    tasks.register_run(run_dir, base_vocab_size=500, build_vocabularies=False)
