"""The frozen part of a pretrained encoder, run once per distinct query.

With `T5Config.frozen_encoder_layers` = k, a pretrained encoder's embeddings
and first k layers never change and run without dropout, so their output is a
fixed function of the query's tokens. A train set repeats each query many times
(each playlist title once per relevant track, twice per epoch when grouped by
8), so `EncoderStateCache` computes that output once for every distinct input
row and the train step starts at layer k from the cached states: the same loss
and gradients, without the frozen layers' forward pass at every step
(tests/training/test_encoder_cache.py checks the equality).

Memory: distinct queries x input length x hidden floats (the demo world: 6.7k
x 24 x 384 x 4 B = 0.25 GB), on the host; each step copies its batch's rows.
"""

from __future__ import annotations

import logging
import time

import jax
import numpy as np
from jax.experimental import multihost_utils

from text2tracks_jax.models import network

logger = logging.getLogger(__name__)


def applies(config) -> bool:
  """Whether a model of `config` has a frozen encoder part to cache."""
  return config.encoder != "t5" and config.frozen_encoder_layers > 0


class EncoderStateCache:
  """Frozen-part states [U, S, hidden] of the U distinct rows of `inputs` [N, S]."""

  def __init__(self, model: network.T5Model, params, inputs: np.ndarray, batch_size: int = 256):
    start = time.perf_counter()
    rows = np.unique(inputs, axis=0)
    self._index = {row.tobytes(): i for i, row in enumerate(rows)}
    fn = jax.jit(lambda p, x: model.apply({"params": p}, x,
                                          method=network.T5Model.frozen_encoder_states))
    frozen = _frozen_params(params)
    parts = []
    for i in range(0, len(rows), batch_size):
      chunk = rows[i:i + batch_size]
      pad = batch_size - len(chunk)  # one shape, one compilation
      out = np.asarray(fn(frozen, np.concatenate([chunk, np.repeat(chunk[:1], pad, 0)])))
      parts.append(out[:len(chunk)])
    self.states = np.concatenate(parts)
    logger.info(f"frozen encoder layers run once for {len(rows):,} distinct queries "
                f"({self.states.nbytes / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f}s")

  def states_for(self, tokens: np.ndarray) -> np.ndarray:
    """[B, S] input rows (each one of the cached rows) -> their states [B, S, hidden]."""
    try:
      return self.states[[self._index[row.tobytes()] for row in tokens]]
    except KeyError as e:
      raise ValueError("an input row that the encoder-state cache was not built for") from e


def _frozen_params(params):
  """The parameters the frozen part reads: a pretrained encoder's subtree, on
  one device (a copy of the replicated or sharded values)."""
  tree = params["encoder"]["bert"]
  if all(x.is_fully_addressable for x in jax.tree.leaves(tree)):
    return {"encoder": {"bert": jax.device_get(tree)}}
  return {"encoder": {"bert": multihost_utils.process_allgather(tree, tiled=True)}}
