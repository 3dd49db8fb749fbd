"""Decoding cost by ID strategy: semantic IDs vs "artist name - track name".

The paper's argument for semantic IDs is also a speed one: a track is 3
tokens (plus EOS) instead of ~15 word pieces, so inference needs ~4x fewer
decoding steps. Here both strategies decode with the same model and weights,
the same queries and the same beams, each constrained by its own prefix trie
built from a real ID map, with `max_new_tokens` = that trie's longest ID (EOS
included), as `text2tracks infer` does.

Setting: a synthetic world (`tiny` preset with --quick, else `demo`, 40k
tracks), ID maps built with `ids.build_ids` (`semantic-ids-cf`,
`artist-name-track-name`), the run's shared vocabulary (SentencePiece over the
queries and catalog names plus the semantic-ID tokens, so one vocabulary
holds both strategies' tokens), a randomly initialised `tiny` T5 (d 128,
2+2 layers), 32 test queries. Beams: the inference defaults (20 beams, 5
groups, homogeneity penalty 0.25, distinct IDs across groups) and 10 beams in
5 groups. Both strategies' calls alternate within each round; the ratio is
the median over rounds of names time / semantic time; queries/s from the best
round of each. The ratio is that of the steps the search runs (up to
`max_new_tokens`; it stops earlier once every group is done, HF's rule) times
that of the per-step costs (trie widths differ). With random weights the
names search runs all its steps (no group is done earlier); a trained model
may stop sooner. Target: >= 4x.

Also runnable alone: `python -m benchmarks.bench_decode_ids [--quick]`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

BATCH = 32
STRATEGIES = ("semantic-ids-cf", "artist-name-track-name")
# (num_beams, num_beam_groups, diversity_penalty, distinct)
SETTINGS = ((20, 5, 0.25, True), (10, 5, 0.25, True))
MODEL = dict(d_model=128, d_kv=32, d_ff=512, num_heads=4, num_encoder_layers=2,
             num_decoder_layers=2, dropout_rate=0.0)
SPEEDUP_TARGET = 4.0


def _world(workdir: Path, preset: str) -> Path:
  """Prepared synthetic world with both strategies' ID maps; the run directory."""
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.data import prepare  # pylint: disable=import-outside-toplevel
  run = workdir / f"world_{preset}"
  prepare.prepare("synthetic", run / "data", preset=preset)
  for strategy in STRATEGIES:
    ids.build_ids(run / "data", strategy, run / "ids" / strategy)
  return run


def _tries(run: Path, vocab_size: int, target_vocab) -> dict:
  """strategy -> (PrefixTrie, number of IDs, mean tokens per ID with EOS)."""
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax import ids  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.ids import prefix_trie  # pylint: disable=import-outside-toplevel
  out = {}
  for strategy in STRATEGIES:
    id_map = ids.load_id_map(run / "ids" / strategy)
    sequences = [target_vocab.encode(s) + [1] for s in sorted(id_map.id_to_tracks)]
    trie = prefix_trie.build_trie(sequences, eos_id=1, vocab_size=vocab_size)
    out[strategy] = (jax.device_put(trie), len(sequences),
                     float(np.mean([len(s) for s in sequences])))
  return out


def _queries(run: Path, input_vocab, batch: int) -> np.ndarray:
  """[batch, L] test queries (EOS appended), padded to the longest (<= 32)."""
  from text2tracks_jax.data import dataset  # pylint: disable=import-outside-toplevel
  examples = list(dataset.PreparedDataset.load(run / "data").examples("test"))
  from tasks import model_input  # pylint: disable=import-outside-toplevel
  rows = [input_vocab.encode(model_input(e.query))[:31] + [1] for e in examples[:batch]]
  rows += rows[:batch - len(rows)]
  out = np.zeros((batch, max(map(len, rows))), np.int32)
  for i, r in enumerate(rows):
    out[i, :len(r)] = r
  return out


def _timed(fn) -> float:
  import jax  # pylint: disable=import-outside-toplevel
  start = time.perf_counter()
  jax.block_until_ready(fn())
  return time.perf_counter() - start


def decode_semantic_vs_names(workdir: Path, quick: bool) -> dict:
  import jax  # pylint: disable=import-outside-toplevel
  import seqio  # pylint: disable=import-outside-toplevel
  import tasks  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.decoding import generation  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  preset = "tiny" if quick else "demo"
  start = time.perf_counter()
  run = _world(workdir, preset)
  names = tasks.register_run(run)
  task = seqio.get_mixture_or_task(f"{names[0]}_shared")  # one vocabulary, both strategies
  target_vocab = task.output_features["targets"].vocabulary
  vocab_size = target_vocab.vocab_size
  setup_s = time.perf_counter() - start
  model = network.T5Model(configs.tiny(vocab_size=vocab_size, **MODEL))
  params = network.init_params(model, jax.random.key(0))
  tries = _tries(run, vocab_size, target_vocab)
  enc = jax.device_put(_queries(run, task.output_features["inputs"].vocabulary, BATCH))

  headline, targets, detail = {}, [], {}
  for strategy, (trie, num_ids, mean_len) in tries.items():
    short = "semantic" if strategy.startswith("semantic") else "names"
    headline[f"{short}_max_tokens"] = int(trie.max_length)
    detail[strategy] = {"ids": num_ids, "mean_tokens_per_id_with_eos": round(mean_len, 2),
                        "max_new_tokens": int(trie.max_length),
                        "trie_nodes": int(trie.num_nodes), "root_degree": int(trie.root_degree),
                        "max_degree": int(trie.max_degree)}
  rounds = 3 if quick else 7
  for beams, groups, penalty, distinct in SETTINGS:
    fns = {strategy: (lambda trie=trie: generation.generate(
        model, params, enc, num_beams=beams, num_beam_groups=groups,
        diversity_penalty=penalty, max_new_tokens=trie.max_length, constraint=trie,
        distinct=distinct))
           for strategy, (trie, _, _) in tries.items()}
    first = {s: _timed(f) for s, f in fns.items()}  # compile + run
    times = {s: [] for s in fns}
    for r in range(rounds):
      for s in (STRATEGIES if r % 2 == 0 else STRATEGIES[::-1]):
        times[s].append(_timed(fns[s]))
    sem, names_s = times[STRATEGIES[0]], times[STRATEGIES[1]]
    ratio = float(np.median([n / s for n, s in zip(names_s, sem)]))
    key = f"{beams}b{groups}g"
    lengths = {}
    for s, f in fns.items():
      out = f()
      seqs, scores = np.asarray(out.sequences), np.asarray(out.scores)
      ok = np.isfinite(scores)
      generated = np.sum(seqs != 0, axis=-1)[ok]
      lengths[s] = {"mean_generated_tokens": round(float(np.mean(generated)), 2),
                    "max_generated_tokens": int(np.max(generated)),
                    "valid_share": round(float(np.mean(np.asarray(out.leaves)[ok] >= 0)), 3)}
    headline.update({f"semantic_qps_{key}": round(BATCH / min(sem), 1),
                     f"names_qps_{key}": round(BATCH / min(names_s), 1),
                     f"ratio_{key}": round(ratio, 2)})
    targets.append({"what": f"{beams} beams / {groups} groups: semantic IDs >= "
                            f"{SPEEDUP_TARGET:g}x names (queries/s, median of paired rounds)",
                    "ok": ratio >= SPEEDUP_TARGET})
    detail[key] = {"times_s": times, "compile_s": {s: round(first[s] - min(times[s]), 2)
                                                    for s in fns},
                   "results": lengths, "num_beams": beams, "num_beam_groups": groups,
                   "diversity_penalty": penalty, "distinct": distinct}
  return {"headline": headline, "targets": targets, **detail,
          "setting": {"preset": preset, "batch": BATCH, "model": MODEL,
                      "vocab_size": vocab_size, "query_tokens": int(enc.shape[1]),
                      "setup_s": round(setup_s, 1), "rounds": rounds}}


BENCHMARKS = {"decode_semantic_vs_names": decode_semantic_vs_names}


def main(argv=None) -> int:
  from benchmarks import registry, run  # pylint: disable=import-outside-toplevel
  registry.BENCHMARKS.update(BENCHMARKS)  # also when the registry does not list us
  argv = sys.argv[1:] if argv is None else argv
  quick = "--quick" in argv
  record = run.run_child("decode_semantic_vs_names", quick)
  print(run.summary_table([record]))
  return 0


if __name__ == "__main__":
  sys.exit(main())
