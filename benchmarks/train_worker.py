"""One training-throughput measurement in its own process (ours or Hugging Face's).

usage: python -m benchmarks.train_worker {ours,hf} SIZE BATCH INPUT_LEN TARGET_LEN STEPS
Prints one JSON line: examples/s after warm-up, compile/warm-up seconds, peak RSS.
Both sides train the same T5 v1.1 shapes with AdamW (lr 5e-4, clip 1.0) on
random tokens; dropout 0.1 on both.
"""

import json
import resource
import sys
import time

import numpy as np


def _batch(rng, batch, s, t, vocab):
  inputs = rng.integers(2, vocab, (batch, s)).astype(np.int32)
  targets = rng.integers(2, vocab, (batch, t)).astype(np.int32)
  targets[:, -1] = 1
  return inputs, targets


def ours(size, batch, s, t, steps):
  import jax  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs, network  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import optimizers, trainer  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training.input_pipeline import encdec_features  # pylint: disable=import-outside-toplevel
  import tempfile  # pylint: disable=import-outside-toplevel
  cfg = configs.get_config(size)
  opt = optimizers.create_optimizer(optimizers.learning_rate_schedule(10_000))
  tr = trainer.Trainer(network.T5Model(cfg), opt, tempfile.mkdtemp(),
                       trainer.TrainConfig(batch_size=batch))
  state = tr.init_state()
  rng = np.random.default_rng(0)
  batches = [tr._global_batch(encdec_features(*_batch(rng, batch, s, t, cfg.vocab_size)))  # pylint: disable=protected-access
             for _ in range(4)]
  start = time.perf_counter()
  with tr.mesh:
    for i in range(2):
      state, m = tr._step_fn(state, batches[i % 4], tr._trie_data)  # pylint: disable=protected-access
    jax.block_until_ready(m)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(steps):
      state, m = tr._step_fn(state, batches[i % 4], tr._trie_data)  # pylint: disable=protected-access
    jax.block_until_ready(m)
  return warm, time.perf_counter() - start


def hf(size, batch, s, t, steps):
  import os  # pylint: disable=import-outside-toplevel
  os.environ.setdefault("USE_TF", "0")
  import torch  # pylint: disable=import-outside-toplevel
  import transformers  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.models import configs  # pylint: disable=import-outside-toplevel
  torch.set_num_threads(os.cpu_count())
  torch.manual_seed(0)
  c = configs.get_config(size)
  model = transformers.T5ForConditionalGeneration(transformers.T5Config(
      vocab_size=c.vocab_size, d_model=c.d_model, d_kv=c.d_kv, d_ff=c.d_ff,
      num_layers=c.num_encoder_layers, num_decoder_layers=c.num_decoder_layers,
      num_heads=c.num_heads, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
      dropout_rate=0.1, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1))
  model.train()
  opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.0)
  rng = np.random.default_rng(0)
  data = [tuple(torch.from_numpy(x.astype(np.int64)) for x in _batch(rng, batch, s, t, c.vocab_size))
          for _ in range(4)]

  def step(i):
    inputs, targets = data[i % 4]
    loss = model(input_ids=inputs, attention_mask=(inputs != 0).long(), labels=targets).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)

  start = time.perf_counter()
  for i in range(2):
    step(i)
  warm = time.perf_counter() - start
  start = time.perf_counter()
  for i in range(steps):
    step(i)
  return warm, time.perf_counter() - start


def main():
  side, size = sys.argv[1], sys.argv[2]
  batch, s, t, steps = map(int, sys.argv[3:7])
  warm, seconds = (ours if side == "ours" else hf)(size, batch, s, t, steps)
  print(json.dumps({"side": side, "size": size, "examples_per_s": batch * steps / seconds,
                    "warmup_s": warm, "peak_rss_mb": resource.getrusage(
                        resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
  main()
