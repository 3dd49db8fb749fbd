"""A task's split as padded token arrays for the trainer, cached as .npz.

A Text2Tracks task registered by `tasks.register_run` is built by the fast
path (`tasks.examples.tokenized_pairs`: each distinct query and ID tokenized
once, with the task's TF SentencePiece op), which gives the SeqIO task's
examples, in its order; any other task or mixture (or `use_seqio=True`) runs
the SeqIO task's tf.data pipeline (source -> pairs -> tokenize -> EOS), one
tokenization per pair. The examples are padded to fixed lengths and written
next to the run (NumPy, no pickles) under a key of the task, the lengths and
the fingerprints of what they are made of (vocabularies, ID map, prepared
data), so later and resumed runs skip the build and changed inputs rebuild it.
Inputs longer than `inputs_length` are truncated (counted and reported); a
target that does not fit is an error, since a cut ID names a different track.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import tqdm

from text2tracks_jax.data import outputs
from text2tracks_jax.training import fingerprints
from text2tracks_jax.training.input_pipeline import TokenizedExamples

# Bumped when the cached arrays' meaning changes.
CACHE_VERSION = 3  # 3: queries in `tasks.model_input` form

logger = logging.getLogger(__name__)


def load_task_examples(task_name: str, split: str, inputs_length: int = 64,
                       targets_length: int | None = None, cache_dir=None,
                       progress: bool = True,
                       use_seqio: bool = False) -> TokenizedExamples:
  """Tokenized (inputs, targets) of `task_name`/`split` as padded int32 arrays.

  Inputs are padded to the longest query rounded up to a multiple of 8, and
  truncated at `inputs_length`; `targets_length=None` uses the longest target
  (EOS included). Logs what it does: loaded from the cache, or built (the SeqIO
  pipeline with a progress bar of pairs/s on stderr unless `progress=False`).
  `use_seqio` builds through the SeqIO task even where the fast path applies
  (same examples, slower: the reference).
  """
  # lazy: tasks imports TensorFlow (~4 s), not needed to import the trainer
  import tasks  # pylint: disable=import-outside-toplevel
  from tasks import examples as task_examples  # pylint: disable=import-outside-toplevel
  cache, stale = None, []
  if cache_dir is not None:
    key = cache_key(task_name, split, inputs_length, targets_length)
    cache = Path(cache_dir) / f"{task_name}.{split}.{key}.npz"
    if cache.exists():
      examples = TokenizedExamples.load(cache)
      logger.info(f"{split} examples of {task_name}: {len(examples):,} from the cache {cache}")
      return examples
    stale = sorted(Path(cache_dir).glob(f"{task_name}.{split}.*.npz"))
    if stale:
      logger.info(f"the cached {split} examples {stale[0]} were made from other inputs "
                  "(vocabulary, ID map, data or lengths): rebuilding them")
  start = time.perf_counter()
  if not use_seqio and tasks.task_inputs(task_name) is not None:
    logger.info(f"building the {split} examples of {task_name}: each distinct query and ID "
                "tokenized once...")
    pairs = task_examples.tokenized_pairs(task_name, split)
    logger.info(f"{len(pairs):,} {split} pairs of {len(pairs.queries):,} distinct queries and "
                f"{len(pairs.targets):,} distinct IDs")
  else:
    logger.info(f"building the {split} examples of {task_name}: each (query, ID) pair "
                "tokenized by SeqIO"
                + (", cached for later runs" if cache is not None else "") + "...")
    pairs = _seqio_pairs(task_name, split, progress)
  examples = _padded(pairs, task_name, split, inputs_length, targets_length)
  logger.info(f"built {len(pairs):,} {split} examples in {time.perf_counter() - start:.1f}s")
  if cache is not None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    with outputs.atomic_path(cache, suffix=".npz") as tmp:
      examples.save(tmp)
    for old in stale:
      old.unlink(missing_ok=True)
  return examples


def cache_key(task_name: str, split: str, inputs_length: int,
              targets_length: int | None) -> str:
  """12 hex digits naming the cached examples of `task_name`/`split`: the task,
  the lengths, and the SHA-256 of its vocabularies' SentencePiece models and,
  for a task of `tasks.register_run`, of its ID map and prepared data."""
  # lazy: seqio and tasks import TensorFlow (~4 s), not needed to import the trainer
  import seqio  # pylint: disable=import-outside-toplevel
  import tasks  # pylint: disable=import-outside-toplevel
  features = seqio.get_mixture_or_task(task_name).output_features
  made_of = {}
  for feature in ("inputs", "targets"):
    vocab = features[feature].vocabulary
    model = getattr(vocab, "sentencepiece_model_file", None)
    made_of[f"{feature}_vocabulary"] = (fingerprints.sha256("vocabulary", model) if model
                                        else str(vocab))
  paths = tasks.task_inputs(task_name) or {}
  made_of.update({name: fingerprints.sha256(name, paths[name])
                  for name in ("data", "id_map") if name in paths})
  key = [CACHE_VERSION, task_name, split, inputs_length, targets_length, made_of]
  return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]


def _seqio_pairs(task_name: str, split: str, progress: bool):
  """The SeqIO task's tokenized examples, one row per pair, in order."""
  # lazy: seqio and tasks import TensorFlow (~4 s), not needed to import the trainer
  import seqio  # pylint: disable=import-outside-toplevel
  from tasks import examples as task_examples  # pylint: disable=import-outside-toplevel
  task = seqio.get_mixture_or_task(task_name)
  ds = task.get_dataset(sequence_length=None, split=split, shuffle=False, seed=0,
                        use_cached=False)
  inputs, targets = [], []
  with tqdm.tqdm(ds.as_numpy_iterator(), desc=f"{split} examples", unit=" pairs",
                 file=sys.stderr, disable=not progress, mininterval=2.0,
                 dynamic_ncols=True) as bar:
    for ex in bar:
      inputs.append(ex["inputs"])
      targets.append(ex["targets"])
  return task_examples.TokenizedPairs.from_rows(inputs, targets)


def _pad(rows, length: int) -> np.ndarray:
  """[len(rows), length] int32, each row cut at `length` (EOS kept), 0-padded."""
  out = np.zeros((len(rows), length), np.int32)
  for i, r in enumerate(rows):
    if len(r) > length:
      r = np.r_[r[:length - 1], r[-1]]
    out[i, :len(r)] = r
  return out


def _padded(pairs, task_name: str, split: str, inputs_length: int,
            targets_length: int | None) -> TokenizedExamples:
  """`TokenizedPairs` -> inputs [N, S], targets [N, T] (see `load_task_examples`)."""
  if not len(pairs):
    raise ValueError(f"task {task_name} split {split} has no examples")
  query_lengths = np.array([len(q) for q in pairs.queries])[pairs.query_index]
  longest_target = int(np.array([len(t) for t in pairs.targets])[pairs.target_index].max())
  if targets_length is None:
    targets_length = longest_target
  elif longest_target > targets_length:
    raise ValueError(f"task {task_name}: an ID needs {longest_target} target tokens (with EOS) "
                     f"but targets_length={targets_length}; raise it")
  # Pad to the longest query (rounded up to a multiple of 8), at most inputs_length.
  inputs_length = min(inputs_length, -(-int(query_lengths.max()) // 8) * 8)
  cut = int((query_lengths > inputs_length).sum())
  if cut:
    logger.warning(f"{cut:,} of {len(pairs):,} {split} queries longer than {inputs_length} "
                   "tokens were truncated (EOS kept)")
  return TokenizedExamples(_pad(pairs.queries, inputs_length)[pairs.query_index],
                           _pad(pairs.targets, targets_length)[pairs.target_index])
