"""A SeqIO task's split as padded token arrays for the trainer, cached as .npz.

The task's tf.data pipeline (source -> pairs -> tokenize -> EOS) runs once;
the tokenized examples are padded to fixed lengths and written next to the
run (NumPy, no pickles), so later runs and resumed runs skip it. Inputs longer
than `inputs_length` are truncated (counted and reported); a target that does
not fit is an error, since a cut ID names a different track.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import tqdm

from text2tracks_jax.training.input_pipeline import TokenizedExamples


def _pad(rows, length: int) -> np.ndarray:
  out = np.zeros((len(rows), length), np.int32)
  for i, r in enumerate(rows):
    out[i, :len(r)] = r[:length]
  return out


def load_task_examples(task_name: str, split: str, inputs_length: int = 64,
                       targets_length: int | None = None, cache_dir=None,
                       log=print, progress: bool = True) -> TokenizedExamples:
  """Tokenized (inputs, targets) of `task_name`/`split` as padded int32 arrays.

  Inputs are padded to the longest query rounded up to a multiple of 8, and
  truncated at `inputs_length`; `targets_length=None` uses the longest target
  (EOS included). Says what it does: loaded from the cache, or built with a
  progress bar (pairs, pairs/s) on stderr unless `progress=False`.
  """
  cache = None
  if cache_dir is not None:
    key = hashlib.sha256(json.dumps([task_name, split, inputs_length, targets_length])
                         .encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"{task_name}.{split}.{key}.npz"
    if cache.exists():
      examples = TokenizedExamples.load(cache)
      log(f"{split} examples of {task_name}: {len(examples):,} from the cache {cache}")
      return examples
  import seqio  # pylint: disable=import-outside-toplevel
  import tasks  # pylint: disable=import-outside-toplevel,unused-import
  task = seqio.get_mixture_or_task(task_name)
  ds = task.get_dataset(sequence_length=None, split=split, shuffle=False, seed=0,
                        use_cached=False)
  log(f"building the {split} examples of {task_name}: each (query, ID) pair tokenized by "
      "SeqIO" + (", cached for later runs" if cache is not None else "") + "...")
  start = time.perf_counter()
  inputs, targets = [], []
  with tqdm.tqdm(ds.as_numpy_iterator(), desc=f"{split} examples", unit=" pairs",
                 file=sys.stderr, disable=not progress, mininterval=2.0,
                 dynamic_ncols=True) as bar:
    for ex in bar:
      inputs.append(ex["inputs"])
      targets.append(ex["targets"])
  log(f"built {len(inputs):,} {split} examples in {time.perf_counter() - start:.1f}s")
  if not inputs:
    raise ValueError(f"task {task_name} split {split} has no examples")
  longest_target = max(len(t) for t in targets)
  if targets_length is None:
    targets_length = longest_target
  elif longest_target > targets_length:
    raise ValueError(f"task {task_name}: an ID needs {longest_target} target tokens (with EOS) "
                     f"but targets_length={targets_length}; raise it")
  # Pad to the longest query (rounded up to a multiple of 8), at most inputs_length.
  inputs_length = min(inputs_length, -(-max(len(x) for x in inputs) // 8) * 8)
  cut = sum(len(x) > inputs_length for x in inputs)
  if cut:
    log(f"warning: {cut:,} of {len(inputs):,} {split} queries longer than {inputs_length} "
        "tokens were truncated (EOS kept)")
    inputs = [x if len(x) <= inputs_length else np.r_[x[:inputs_length - 1], x[-1]]
              for x in inputs]
  examples = TokenizedExamples(_pad(inputs, inputs_length), _pad(targets, targets_length))
  if cache is not None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.tmp-{os.getpid()}.npz")
    examples.save(tmp)
    os.replace(tmp, cache)
  return examples
