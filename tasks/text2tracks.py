"""Registration of one SeqIO task per (prepared dataset, ID strategy).

A *run directory* holds a prepared dataset and its ID maps::

  RUN/data/             `text2tracks prepare --out RUN/data`
  RUN/ids/<strategy>/   `text2tracks build-ids --out RUN/ids/<strategy>`
  RUN/vocab/            written here: the trained base SentencePiece model
                        (reused on later runs) and one model per strategy
                        with its new tokens appended

`register_run(RUN)` registers, for every ID map found, the task
`text2tracks_<dataset>_<strategy>` (dataset = the run directory's name,
dashes -> underscores) and a mixture `text2tracks_<dataset>` over the
dataset's strategies (tasks `..._shared` that use one vocabulary holding every
strategy's tokens, since a mixture needs one vocabulary). Where
all-MiniLM-L6-v2 is installed, `text2tracks_<dataset>_<strategy>_minilm` is the
same task with queries in MiniLM's WordPiece (`tasks/wordpiece.py`), for a
model with that pretrained encoder (`T5Config.encoder = "minilm"`). Features: `inputs`
(the query in `model_input` form) and `targets` (phi(track)), as T5X expects; metric functions
report hits@10 and friends through the project's scorer.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import gin
import numpy as np
import seqio
import tensorflow as tf

from tasks import preprocessors, vocabularies, wordpiece
from text2tracks_jax.data.dataset import SPLITS, PreparedDataset, normalize_query
from text2tracks_jax.evaluation import metrics
from text2tracks_jax.ids.id_map import load_id_map, rank_tracks

DEFAULT_BASE_VOCAB_SIZE = 8000
# Pretrained encoders (`models.configs.ENCODERS`) whose query-vocabulary task
# variants `register_run` adds when their files are installed.
PRETRAINED_ENCODERS = ("minilm",)
CONTENT_STRATEGIES = ("artist-name-track-name",)
# task name -> the artifacts it reads ("data", "id_map", "vocabulary" paths),
# filled by `register_run`: see `task_inputs`.
_TASK_INPUTS: dict = {}


# What `model_input` makes of a query, recorded with every trained model
# (train_config.json "input_form"): a model is refused under another form.
INPUT_FORM = "normalize_query"


def model_input(query: str) -> str:
  """The text the model reads for a query: `normalize_query`'s casefolded,
  whitespace-collapsed form, the form the baselines and the split leakage
  check read. Every path into the model (the SeqIO source, the fast
  tokenization path, the base vocabulary, serving) goes through here.

  Why: a vocabulary trained from scratch gives 'Pop' and 'pop' unrelated
  pieces, so a model trained on user titles (mostly lower case) was lost on
  Title Case prompts (validation A/B in README "Results"). Change `INPUT_FORM`
  with it.
  """
  return normalize_query(query)


def task_inputs(name: str) -> dict | None:
  """{"data": RUN/data, "id_map": RUN/ids/<strategy>, "vocabulary": its
  spiece.model (+ "input_vocabulary": a pretrained encoder's vocab.txt)} of a
  task registered by `register_run` in this process (the `_shared` and
  encoder variants included), or None (a mixture, another project's task)."""
  return _TASK_INPUTS.get(name)


def expands(split: str) -> bool:
  """Whether a query of `split` becomes one pair per relevant track (train) or
  one pair with its first track (validation, test)."""
  return split == "train"


def task_name(dataset: str, strategy: str, encoder: str = "t5") -> str:
  """`text2tracks_<dataset>_<strategy>`; with a pretrained encoder (a
  `T5Config.encoder` other than "t5"), the variant whose queries are that
  encoder's WordPiece tokens, `..._<encoder>`."""
  name = f"text2tracks_{_slug(dataset)}_{_slug(strategy)}"
  return name if encoder == "t5" else f"{name}_{_slug(encoder)}"


# Task-name suffixes of the variants `register_run` adds to a strategy's task:
# one vocabulary for a mixture, and a pretrained encoder's query vocabulary.
VARIANT_SUFFIXES = ("_shared",) + tuple(f"_{e}" for e in PRETRAINED_ENCODERS)


def _slug(name: str) -> str:
  return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def _source(prepared: PreparedDataset) -> seqio.FunctionDataSource:
  counts = prepared.manifest["counts"]

  def dataset_fn(split, shuffle_files=False, seed=None):
    del shuffle_files, seed  # one file per split; the trainer shuffles
    table = prepared.split(split)
    tracks = table.column("track_ids").combine_chunks()
    return tf.data.Dataset.from_tensor_slices({
        "query_id": tf.constant(table.column("query_id").to_pylist(), tf.string),
        "query": tf.constant([model_input(q) for q in table.column("query").to_pylist()],
                             tf.string),
        "track_ids": tf.RaggedTensor.from_row_lengths(
            tf.constant(tracks.flatten().to_pylist(), tf.string),
            tf.constant(np.diff(tracks.offsets.to_numpy()), tf.int64)),
        "expand": tf.fill([table.num_rows], expands(split)),
    })

  return seqio.FunctionDataSource(
      dataset_fn, splits=SPLITS,
      num_input_examples={s: counts[s]["queries"] for s in SPLITS})


def pin_base_vocabulary(run_dir, base_spm=None, num_extra_ids: int = 0):
  """The run's pinned base SentencePiece model and sentinel count, if any.

  A run fine-tuned from Flan-T5 must tokenise with Flan-T5's model in every
  later stage (inference, evaluation), not just in training. The first call
  with `base_spm` copies it into RUN/vocab/pretrained_base/ with its
  `num_extra_ids`; later calls without it find the copy. Returns
  (model path or None, num_extra_ids).
  """
  pinned = Path(run_dir) / "vocab" / "pretrained_base"
  model, meta = pinned / "spiece.model", pinned / "spiece.json"
  if base_spm:
    data = Path(base_spm).read_bytes()
    if model.exists() and model.read_bytes() != data:
      raise ValueError(f"{run_dir} is pinned to the base vocabulary {model}, which differs "
                       f"from {base_spm}; use a new run directory")
    if not model.exists():
      pinned.mkdir(parents=True, exist_ok=True)
      vocabularies.atomic_write(meta, (json.dumps(
          {"source": str(base_spm), "num_extra_ids": num_extra_ids}) + "\n").encode())
      vocabularies.atomic_write(model, data)
  if model.exists():
    return model, json.loads(meta.read_text())["num_extra_ids"]
  return None, num_extra_ids


def base_vocabulary_model(run_dir, prepared: PreparedDataset, content: bool,
                          vocab_size: int = DEFAULT_BASE_VOCAB_SIZE, base_spm=None,
                          build: bool = True) -> Path:
  """Flan-T5's model if given, else one trained on train queries (+ names)."""
  if base_spm:
    return Path(base_spm)
  texts = [model_input(q) for q in prepared.split("train", ["query"]).column("query").to_pylist()]
  if content:
    cat = prepared.catalog(["title", "artist_name"]).to_pydict()
    texts += cat["artist_name"] + cat["title"]
  sub = "base_names" if content else "base"
  return vocabularies.train_base_model(texts, Path(run_dir) / "vocab" / sub, vocab_size, build)


def postprocess(output_or_target, example=None, is_target=False, id_to_tracks=None):
  """Targets -> the query's relevant tracks; a prediction (one decoded ID or a
  list of decodes, best first) -> its tracks, collisions by popularity, each
  track once (`rank_tracks`, as `infer` ranks them)."""
  if is_target:
    return [t.decode() if isinstance(t, bytes) else t for t in example["relevant_track_ids"]]
  decodes = [output_or_target] if isinstance(output_or_target, (str, bytes)) else output_or_target
  decoded = [((d.decode() if isinstance(d, bytes) else d).strip(), 0.0) for d in decodes]
  return rank_tracks(decoded, id_to_tracks, top_n=None)["track_ids"]


def ranking_metrics(targets, predictions, k: int = 10):
  """SeqIO metric fn: hits@k (the paper's), hit-rate, recall, precision, nDCG, MRR."""
  return metrics.score_queries(predictions, targets, k)


def register_run(run_dir, dataset: str | None = None, base_spm: str | None = None,
                 num_extra_ids: int = 0, base_vocab_size: int = DEFAULT_BASE_VOCAB_SIZE,
                 build_vocabularies: bool = True) -> list:
  """Registers the run's tasks and mixture; returns the task names.

  Builds the run's vocabularies under RUN/vocab (or reuses them when their
  inputs are unchanged). With `build_vocabularies=False` (what `import tasks`
  does for `TEXT2TRACKS_RUN_DIRS`, e.g. in every Beam worker) it only reads
  them, and a missing or stale one is a `SettingsError`.

  `base_spm` (e.g. Flan-T5's spiece.model, with `num_extra_ids=100`) is pinned
  to the run on first use, see `pin_base_vocabulary`.
  """
  run_dir = Path(run_dir)
  base_spm, num_extra_ids = pin_base_vocabulary(run_dir, base_spm, num_extra_ids)
  dataset = dataset or run_dir.name
  prepared = PreparedDataset.load(run_dir / "data")
  id_dirs = sorted(p.parent for p in (run_dir / "ids").glob("*/manifest.json"))
  id_maps = [load_id_map(p) for p in id_dirs]
  if not id_maps:
    return []
  source = _source(prepared)
  names, shared = [], []
  all_tokens = sorted({t for m in id_maps for t in m.new_tokens})
  any_content = any(m.strategy in CONTENT_STRATEGIES for m in id_maps)
  build = build_vocabularies
  shared_model = vocabularies.build_id_model(
      base_vocabulary_model(run_dir, prepared, any_content, base_vocab_size, base_spm, build),
      all_tokens, run_dir / "vocab" / "shared" / "spiece.model", num_extra_ids, build)
  encoder_vocabs = {e: _encoder_vocab_file(e) for e in PRETRAINED_ENCODERS}
  for id_dir, id_map in zip(id_dirs, id_maps):
    base = base_vocabulary_model(run_dir, prepared, id_map.strategy in CONTENT_STRATEGIES,
                                 base_vocab_size, base_spm, build)
    model = vocabularies.build_id_model(base, id_map.new_tokens,
                                        run_dir / "vocab" / _slug(id_map.strategy) / "spiece.model",
                                        num_extra_ids, build)
    name = task_name(dataset, id_map.strategy)
    for task, model_path in ((name, model), (f"{name}_shared", shared_model)):
      _register_task(task, source, id_map, model_path)
      _TASK_INPUTS[task] = {"data": run_dir / "data", "id_map": id_dir,
                            "vocabulary": Path(model_path)}
    for encoder, words in encoder_vocabs.items():
      if words is not None:
        task = task_name(dataset, id_map.strategy, encoder)
        _register_task(task, source, id_map, model, wordpiece.WordPieceVocabulary(words))
        _TASK_INPUTS[task] = {"data": run_dir / "data", "id_map": id_dir,
                              "vocabulary": Path(model), "input_vocabulary": words}
    names.append(name)
    shared.append(f"{name}_shared")
  seqio.MixtureRegistry.remove(f"text2tracks_{_slug(dataset)}")
  seqio.MixtureRegistry.add(f"text2tracks_{_slug(dataset)}", [(t, 1.0) for t in shared])
  return names


def _encoder_vocab_file(encoder: str) -> Path | None:
  """The WordPiece vocab.txt of pretrained encoder `encoder`, or None when its
  package is not installed (its tasks are then not registered)."""
  if encoder != "minilm":
    raise ValueError(f"no vocabulary known for pretrained encoder {encoder!r}")
  # lazy: ids.embeddings imports gensim
  from text2tracks_jax.ids import embeddings  # pylint: disable=import-outside-toplevel
  try:
    path = embeddings.default_model_path() / "vocab.txt"
  except ImportError:
    return None
  return path if path.exists() else None


def _register_task(name, source, id_map, model_path, input_vocab=None):
  table_items = dict(id_map.track_to_id)
  id_to_tracks = {k: list(v) for k, v in id_map.id_to_tracks.items()}
  seqio.TaskRegistry.remove(name)
  seqio.TaskRegistry.add(
      name, source=source,
      preprocessors=[
          functools.partial(preprocessors.to_query_id_pairs, track_to_id=table_items),
          preprocessors.check_mapped,
          seqio.preprocessors.tokenize,
          seqio.CacheDatasetPlaceholder(),  # `seqio.cache_tasks_main` caches up to here
          seqio.preprocessors.append_eos_after_trim,
      ],
      output_features={
          "inputs": seqio.Feature(input_vocab or vocabularies.input_vocabulary(model_path),
                                  add_eos=True),
          "targets": seqio.Feature(vocabularies.target_vocabulary(model_path), add_eos=True),
      },
      postprocess_fn=functools.partial(postprocess, id_to_tracks=id_to_tracks),
      metric_fns=[ranking_metrics])


def id_token_sequences(run_dir, name: str):
  """(SeqIO task, ID map, sorted ID strings, their target token ids + EOS) of a
  registered task of `run_dir`: the input of the prefix trie, for decoding and
  for the trie-normalised training loss alike."""
  task = seqio.get_mixture_or_task(name)
  path = id_map_dir(run_dir, name)
  if path is None:
    raise ValueError(f"task {name} has no ID map under {Path(run_dir) / 'ids'}")
  id_map = load_id_map(path)
  target_vocab = task.output_features["targets"].vocabulary
  id_strings = sorted(id_map.id_to_tracks)
  # The TF op, as the task's `tokenize` preprocessor: SentencePiece's Python and
  # TF builds break equal-score ties differently ("15111" -> 1|5|1|11 vs
  # 1|5|11|1 under track-int), and the trie must hold the trained sequences.
  encoded = target_vocab.encode_tf(tf.constant(id_strings, tf.string)).to_list()
  sequences = [list(map(int, ids)) + [1] for ids in encoded]
  return task, id_map, id_strings, sequences


def id_map_dir(run_dir, name: str) -> Path | None:
  """RUN/ids/<strategy> of task `name` (`_shared` included), or None (a
  mixture, or a task of another run)."""
  run_dir = Path(run_dir)
  base = next((name[:-len(s)] for s in VARIANT_SUFFIXES if name.endswith(s)), name)
  return next((p.parent for p in sorted((run_dir / "ids").glob("*/manifest.json"))
               if task_name(run_dir.name, p.parent.name) == base), None)


@gin.configurable
def register_runs(run_dirs=()) -> list:
  """Gin entry: registers every run directory in `run_dirs`."""
  return [name for d in run_dirs for name in register_run(d)]
