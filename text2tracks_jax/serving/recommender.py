"""A trained model with its vocabulary, ID map and trie: `Recommender`.

`Recommender.load(workdir)` reads a training workdir (`train_config.json` +
Orbax checkpoints) and the run's pinned artifacts; `recommend(queries)` runs
diverse beam search (`decoding.generation`) and maps the generated IDs back to
ranked tracks. `Recommender.load([workdir, ...])` loads an ensemble: models of
one architecture trained on the same task (e.g. seeds of one recipe), decoded
as one (`generation`: their logits averaged at every step). Also here:
`text2tracks recommend` (`print_recommendations`) and the trie hook for
upstream T5X (`task_trie`).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import sys
from pathlib import Path
from typing import Optional

import gin
import jax
import numpy as np
from jax.sharding import NamedSharding

import tasks
from text2tracks_jax.data.dataset import PreparedDataset
from text2tracks_jax.data.errors import FlagError, SettingsError
from text2tracks_jax.decoding import generation
from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.ids.id_map import rank_tracks
from text2tracks_jax.models import network, partitioning
from text2tracks_jax.training import checkpoints, fingerprints

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class Recommender:
  """A trained model with its vocabulary, ID map and trie, ready to decode."""

  model: network.T5Model
  params: object  # one parameter tree, or a list of them (an ensemble)
  input_vocab: object
  target_vocab: object
  id_map: object
  trie: prefix_trie.PrefixTrie
  leaf_ids: list
  inputs_length: int
  catalog: dict
  # Where query batches go: None = the default device; a sharding over a
  # [local devices, 1] data x model mesh splits each batch across them
  # (`on_local_devices`), and decoding traces under that mesh's axis rules.
  batch_sharding: Optional[NamedSharding] = None
  # Log-probs over the whole vocabulary ("vocab", HF's) or over the trie's legal
  # tokens ("legal"): the distribution a model trained with `trie_loss` learned.
  normalize: str = "vocab"

  @classmethod
  def load(cls, workdir, step: Optional[int] = None) -> "Recommender":
    """From a training workdir's latest (or given) checkpoint; a `UserError` if
    there is none, or if the data, ID map or vocabulary it was trained on changed.

    `workdir` may be a list of workdirs: an ensemble (their latest checkpoints).
    They must share the task, run directory, architecture, input length, loss
    normalisation and query form (`SettingsError` naming the first that does
    not, before any checkpoint is read).
    """
    workdirs = [workdir] if isinstance(workdir, (str, os.PathLike)) else list(workdir)
    if len(workdirs) > 1 and step is not None:
      raise FlagError("step: an ensemble loads each workdir's latest checkpoint")
    infos = [fingerprints.read_train_config(w) for w in workdirs]
    for w, member in zip(workdirs, infos):
      fingerprints.check_inputs(w, member)
      _check_ensemble_member(workdirs[0], infos[0], w, member)
    info = infos[0]
    model_configs, params = [], []
    for w in workdirs:
      config, p, _ = checkpoints.load_trained(w, step)
      model_configs.append(config)
      params.append(jax.device_put(p))
    return cls.for_task(network.T5Model(model_configs[0]),
                        params[0] if len(params) == 1 else params, info["run_dir"],
                        info["task"], info["inputs_length"],
                        normalize="legal" if info.get("trie_loss") else "vocab")

  @classmethod
  def for_task(cls, model, params, run_dir, task_name: str, inputs_length: int,
               normalize: str = "vocab") -> "Recommender":
    """Vocabulary, ID map, trie and catalog of `task_name` in `run_dir`."""
    run_dir = Path(run_dir)
    tasks.register_run(run_dir)
    task, id_map, id_strings, sequences, trie = _task_ids(run_dir, task_name,
                                                          model.config.vocab_size)
    leaf_ids = [None] * trie.num_leaves
    for s, leaf in zip(id_strings, prefix_trie.lookup_leaves(trie, sequences)):
      leaf_ids[int(leaf)] = s
    cat = PreparedDataset.load(run_dir / "data").catalog(
        ["track_id", "title", "artist_name"]).to_pydict()
    catalog = {t: (a, ti) for t, ti, a in zip(cat["track_id"], cat["title"], cat["artist_name"])}
    return cls(model, params, task.output_features["inputs"].vocabulary,
               task.output_features["targets"].vocabulary, id_map, jax.device_put(trie),
               leaf_ids, inputs_length, catalog, normalize=normalize)

  def on_local_devices(self, batch_size: int) -> "Recommender":
    """A copy whose batches are split over this process's devices (params and
    trie replicated); itself if there is one device or `batch_size` does not split."""
    devices = jax.local_devices()
    if len(devices) == 1 or batch_size % len(devices):
      return self
    mesh = partitioning.create_mesh(1, devices)
    replicated = partitioning.replicated(mesh)
    return dataclasses.replace(
        self, params=jax.device_put(self.params, replicated),
        trie=jax.device_put(self.trie, replicated),
        batch_sharding=partitioning.batch_sharding(mesh))

  def encode_queries(self, queries, warn_truncated: bool = True) -> np.ndarray:
    """[B, inputs_length] int32 query tokens (the input vocabulary's EOS
    appended, as the task's `add_eos`): one shape, one compile.

    A prompt longer than `inputs_length` is cut, with a logged warning unless
    `warn_truncated=False` (callers that encode the same prompts again).
    """
    rows = []
    for q in queries:
      if not q or not q.strip():
        raise ValueError("empty prompt: say what you would like to hear")
      ids = self.input_vocab.encode(tasks.model_input(q))
      if len(ids) + 1 > self.inputs_length:
        if warn_truncated:
          logger.warning(f"prompt of {len(ids)} tokens truncated to {self.inputs_length - 1}: "
                         f"{q[:60]!r}")
        ids = ids[:self.inputs_length - 1]
      rows.append(ids + [self.input_vocab.eos_id])
    out = np.zeros((len(rows), self.inputs_length), np.int32)
    for i, r in enumerate(rows):
      out[i, :len(r)] = r
    return out

  def recommend(self, queries, *, top_n: int = 10, num_beams: int = 20, num_beam_groups: int = 5,
                diversity_penalty: float = 0.25, constrained: bool = True,
                distinct: bool = True, warn_truncated: bool = True, params=None) -> list:
    """Ranked tracks per query: [{"track_ids", "generated_ids", "scores", "invalid_ids"}]."""
    tokens = self.encode_queries(queries, warn_truncated)
    if self.batch_sharding is not None:
      tokens = jax.device_put(tokens, self.batch_sharding)
    out = generation.generate(
        self.model, params if params is not None else self.params, tokens, num_beams=num_beams, num_beam_groups=num_beam_groups,
        diversity_penalty=diversity_penalty, max_new_tokens=self.trie.max_length,
        constraint=self.trie if constrained else None,
        distinct=distinct and constrained,
        normalize=self.normalize if constrained else None,
        mesh=self.batch_sharding.mesh if self.batch_sharding is not None else None)
    seqs, scores = np.asarray(out.sequences), np.asarray(out.scores)
    leaves = np.asarray(out.leaves) if out.leaves is not None else None
    results = []
    for b in range(len(queries)):
      decoded = []
      for j in range(seqs.shape[1]):
        if not np.isfinite(scores[b, j]):
          continue
        if leaves is not None and leaves[b, j] >= 0:
          id_string = self.leaf_ids[leaves[b, j]]
        else:
          toks = seqs[b, j].tolist()
          id_string = self.target_vocab.decode(toks[:toks.index(1)] if 1 in toks else toks)
        decoded.append((id_string, scores[b, j]))
      results.append(rank_tracks(decoded, self.id_map.id_to_tracks, top_n))
    return results


# What the members of an ensemble must share: one vocabulary, ID map, trie,
# query encoding and output distribution.
_ENSEMBLE_FIELDS = ("task", "run_dir", "model_config", "inputs_length", "trie_loss", "input_form")


def _check_ensemble_member(first, first_info: dict, workdir, info: dict):
  for field in _ENSEMBLE_FIELDS:
    if info.get(field) != first_info.get(field):
      raise SettingsError(f"{workdir}/{fingerprints.TRAIN_CONFIG}: field '{field}': "
                          f"{info.get(field)!r} differs from {first}'s "
                          f"{first_info.get(field)!r}; an ensemble's models must share it")


def _task_ids(run_dir: Path, task_name: str, vocab_size: int):
  """(task, ID map, sorted ID strings, their token sequences with EOS, trie) of a
  registered task of `run_dir`."""
  task, id_map, id_strings, sequences = tasks.id_token_sequences(run_dir, task_name)
  trie = prefix_trie.build_trie(sequences, eos_id=1, vocab_size=vocab_size)
  return task, id_map, id_strings, sequences, trie


@gin.configurable
@functools.lru_cache(maxsize=4)
def task_trie(run_dir: str = gin.REQUIRED, task: str = gin.REQUIRED,
              vocab_size: int = gin.REQUIRED) -> prefix_trie.PrefixTrie:
  """The prefix trie of every ID of `task` (registered, from `run_dir`) for a
  `vocab_size`-row model: the decoding constraint where the model is not ours,
  e.g. upstream T5X (`diverse_beam_search.constraint = @recommender.task_trie()`,
  see gin_configs/t5x/infer_flan_t5_base.gin). Built once per arguments."""
  return _task_ids(Path(run_dir), task, vocab_size)[4]


def check_top_n(top_n: int, num_beams: int):
  """`FlagError` unless 1 <= top_n <= num_beams (each beam is one ID)."""
  if not 1 <= top_n <= num_beams:
    raise FlagError(f"--top_n: must be between 1 and the number of beams ({num_beams}), "
                    f"got {top_n}")


@gin.configurable("recommend", denylist=["workdir", "prompts", "file"])
def print_recommendations(workdir, prompts, top_n: int = 10, file=None, *, num_beams: int = 20,
                          num_beam_groups: int = 5, diversity_penalty: float = 0.25,
                          constrained: bool = True, distinct: bool = True) -> list:
  """`text2tracks recommend`: loads the model once and prints a top-`top_n`
  table for each prompt (gin name `recommend`; decoding options as `infer`'s).

  `prompts`: a string, or an iterable of them read as they come (e.g. stdin
  lines); each is decoded alone, so every prompt runs the one program
  compiled for the first. Blank prompts are skipped. Returns the results.
  """
  file = file or sys.stdout
  check_top_n(top_n, num_beams)
  rec = Recommender.load(workdir)
  results = []
  for prompt in [prompts] if isinstance(prompts, str) else prompts:
    if not prompt.strip():
      continue
    (result,) = rec.recommend([prompt], top_n=top_n, num_beams=num_beams,
                              num_beam_groups=num_beam_groups,
                              diversity_penalty=diversity_penalty, constrained=constrained,
                              distinct=distinct)
    if not isinstance(prompts, str):
      print(f"\n{prompt}", file=file)
    print(f"{'#':>3}  {'track':<12} {'artist':<28} title", file=file)
    for i, t in enumerate(result["track_ids"], 1):
      artist, title = rec.catalog.get(t, ("?", "?"))
      print(f"{i:>3}  {t:<12} {artist[:28]:<28} {title}", file=file)
    file.flush()
    results.append(result)
  return results
