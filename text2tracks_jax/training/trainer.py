"""The train step and loop: one jitted, sharded step; exact resume; NaN guard.

`Trainer` owns the mesh, the sharded train state {step, params, opt_state},
the checkpointer and the metric writer. `fit(examples, total_steps)` runs
from the latest checkpoint (or from scratch) to `total_steps`; the batch at
step s is a pure function of (seed, s), and dropout randomness is
`fold_in(rng, s)`, so a killed and resumed run ends where an uninterrupted
one does.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from typing import Any, Callable, Optional

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from text2tracks_jax.ids import prefix_trie
from text2tracks_jax.models import network, partitioning
from text2tracks_jax.training import encoder_cache
from text2tracks_jax.training.checkpoints import Checkpointer, abstract_like
from text2tracks_jax.training.input_pipeline import BatchIterator, TokenizedExamples


EOS_ID = 1  # T5's

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
  """The loss or gradient became NaN/inf; the last good checkpoint is kept."""


def cross_entropy(logits, targets, weights, label_smoothing: float = 0.0,
                  z_loss: float = 0.0):
  """Weighted token cross-entropy, as T5X's `cross_entropy_with_logits`.

  logits [B, T, V] float32, targets [B, T] int, weights [B, T] ->
  (sum of weighted losses, sum of weights). With label smoothing the
  minimum achievable loss is subtracted, so a perfect model scores 0.
  """
  vocab = logits.shape[-1]
  confidence = 1.0 - label_smoothing
  low = label_smoothing / (vocab - 1)
  normalizer = -(confidence * jnp.log(confidence) + (vocab - 1) * low * jnp.log(low + 1e-20)) \
      if label_smoothing else 0.0
  soft = jax.nn.one_hot(targets, vocab) * (confidence - low) + low
  log_z = jax.nn.logsumexp(logits, axis=-1)
  loss = log_z - jnp.sum(soft * logits, axis=-1) - normalizer
  loss = loss + z_loss * jnp.square(log_z)
  return jnp.sum(loss * weights), jnp.sum(weights)


@flax.struct.dataclass
class TrieLossData:
  """What `trie_cross_entropy` needs, as one pytree argument of the train step.

  trie: the prefix trie of the task's IDs (model vocabulary).
  id_tokens [C] int32: every token that occurs in an ID (the trie's edge labels),
    sorted: the only LM-head columns the loss reads (C = 1,025 of ~9k for a
    semantic ID, so the head costs ~C/V of the dense one).
  column [V] int32: position of each token in `id_tokens`, -1 if absent.
  """
  trie: prefix_trie.PrefixTrie
  id_tokens: jax.Array
  column: jax.Array

  @classmethod
  def build(cls, trie: prefix_trie.PrefixTrie) -> "TrieLossData":
    id_tokens = np.unique(np.asarray(trie.child_token)).astype(np.int32)
    column = np.full(trie.vocab_size, -1, np.int32)
    column[id_tokens] = np.arange(len(id_tokens), dtype=np.int32)
    return cls(jax.tree.map(np.asarray, trie), id_tokens, column)


def trie_cross_entropy(hidden, lm_kernel, targets, weights, data: TrieLossData, width: int,
                       z_loss: float = 0.0):
  """Cross-entropy with each position's softmax over the trie's legal tokens.

  The decoder only ever chooses among the children of its trie node (the
  decoding constraint), so this normalises each target token's probability
  over those children instead of the whole vocabulary: -log p(ID | query)
  under the distribution that constrained beam search ranks (decode such a
  model with `normalize="legal"`). The full-softmax loss also spends its
  gradient on learning which token sequences exist at all (on the demo world
  ~6 of a semantic ID's ~17 nats, at positions 2-3), which the trie knows.

  hidden [N, T, D] decoder states (after `decoder_norm`), lm_kernel [D, V],
  targets [N, T] int (valid IDs + EOS, 0-padded), weights [N, T]; `width`
  (static) >= every node's out-degree. Every weighted target must spell a
  valid ID (`check_targets_in_trie`). Returns (sum of weighted losses, sum of
  weights).
  """
  batch, length = targets.shape
  trie = data.trie
  node = jnp.zeros((batch,), jnp.int32)
  nodes = []
  for t in range(length):  # the path of each target through the trie; T is small
    nodes.append(node)
    node = prefix_trie.find_child(trie, node, targets[:, t])
  nodes = jnp.stack(nodes, axis=1)  # [N, T]
  logits = network.dense_logits(hidden, jnp.take(lm_kernel, data.id_tokens, axis=1))  # [N, T, C]
  tokens, _, valid = prefix_trie.children_window(trie, nodes.reshape(-1), width)  # [N*T, W]
  flat = logits.reshape(batch * length, -1)
  children = jnp.take_along_axis(flat, jnp.maximum(data.column[tokens], 0), axis=-1)
  # A finite fill: rows without children (padding after EOS) keep finite gradients.
  log_z = jax.nn.logsumexp(jnp.where(valid, children, -1e9), axis=-1).reshape(batch, length)
  target_column = jnp.maximum(data.column[targets], 0)
  target_logit = jnp.take_along_axis(logits, target_column[..., None], axis=-1)[..., 0]
  loss = log_z - target_logit + z_loss * jnp.square(log_z)
  return jnp.sum(loss * weights), jnp.sum(weights)


def check_targets_in_trie(examples, trie: prefix_trie.PrefixTrie):
  """Raises unless every target row (0-padded, EOS-terminated) is a valid ID."""
  targets = np.asarray(examples.targets).reshape(-1, examples.targets.shape[-1])
  targets = targets[targets[:, 0] != 0]  # empty slots of grouped examples
  bad = np.flatnonzero(prefix_trie.lookup_leaves(trie, targets) < 0)
  if len(bad):
    raise ValueError(f"{len(bad):,} train targets are not IDs of the trie (first: "
                     f"{targets[bad[0]].tolist()}): the trie must come from the task's ID map")


@dataclasses.dataclass
class TrainConfig:
  """The trainer's settings; the one place of their defaults.

  `train.train` takes each field as a keyword argument of the same name (so
  `--gin.train.batch_size=32` sets it) whose default is the one here.
  """
  batch_size: int = 64
  seed: int = 0
  label_smoothing: float = 0.0
  z_loss: float = 0.0
  checkpoint_every_steps: int = 1000
  keep_checkpoints: int = 3
  async_checkpoints: bool = True
  log_every_steps: int = 50
  eval_every_steps: int = 0  # 0: no validation decoding during training
  # Word dropout on the query: each input token (EOS kept) becomes padding with
  # this probability, a fresh draw every step, so the model cannot lean on one
  # exact title and must use each of its words (as naive Bayes over words does).
  input_token_dropout: float = 0.0


class Trainer:
  """Sharded training of a `network.T5Model` on `TokenizedExamples` (pairs) or
  `GroupedExamples` (each query once with up to K targets, encoded once).

  Parameters, optimizer state and batches are laid out over `mesh` by the
  logical axis `rules` (default `partitioning.standard_logical_axis_rules()`),
  and the init and the step are traced under them, so the network's
  activation constraints take effect (`partitioning.axis_rules`).

  With `trie` (the prefix trie of the task's IDs), the loss is
  `trie_cross_entropy`: each target token is normalised over the legal next
  tokens only, as constrained decoding sees them.
  """

  def __init__(self, model: network.T5Model, optimizer: optax.GradientTransformation,
               workdir, config: TrainConfig, mesh=None, writer=None,
               eval_fn: Optional[Callable[[Any, int], dict]] = None,
               init_params: Optional[Any] = None,
               trie: Optional[prefix_trie.PrefixTrie] = None,
               rules: Optional[partitioning.LogicalRules] = None):
    if not 0.0 <= config.input_token_dropout <= 1.0:
      raise ValueError(f"input_token_dropout must be in [0, 1], got {config.input_token_dropout}")
    if trie is not None and config.label_smoothing:
      raise ValueError("label smoothing is defined over the whole vocabulary; "
                       "use it without the trie-normalised loss")
    self.model, self.optimizer, self.config = model, optimizer, config
    self.trie = trie
    self._trie_data = TrieLossData.build(trie) if trie is not None else None
    self._trie_width = max(trie.root_degree, trie.max_degree) if trie is not None else 0
    self.mesh = mesh if mesh is not None else partitioning.create_mesh()
    self.rules = rules if rules is not None else partitioning.standard_logical_axis_rules()
    self.writer, self.eval_fn = writer, eval_fn
    self.last_scalars = {}  # the last logged loss (and validation scores), with their step
    self.checkpointer = Checkpointer(f"{workdir}/checkpoints", max_to_keep=config.keep_checkpoints,
                                     async_save=config.async_checkpoints)
    self._build_state_layout()
    self._init_params = init_params
    self._step_fn = self._compile_step()
    self._eval_loss_fn = None  # eval_loss's program, compiled on first use

  # -- state -------------------------------------------------------------------
  def _build_state_layout(self):
    abstract_params = network.abstract_params(self.model)
    param_shardings = partitioning.param_shardings(
        self.mesh, network.param_logical_axes(self.model), self.rules)
    abstract_opt = jax.eval_shape(self.optimizer.init, abstract_params)
    opt_shardings = partitioning.opt_state_shardings(abstract_opt, abstract_params,
                                                     param_shardings, self.mesh)
    rep = partitioning.replicated(self.mesh)
    self.state_shardings = {"step": rep, "params": param_shardings, "opt_state": opt_shardings}
    self.abstract_state = abstract_like(
        {"step": jax.ShapeDtypeStruct((), jnp.int32), "params": abstract_params,
         "opt_state": abstract_opt}, self.state_shardings)

  def init_state(self):
    """Fresh state: given params (e.g. imported Flan-T5) or a seeded init."""
    def make(rng, params):
      if params is None:
        params = nn.meta.unbox(network.init_variables(self.model, rng)["params"])
      return {"step": jnp.zeros((), jnp.int32), "params": params,
              "opt_state": self.optimizer.init(params)}
    rng = jax.random.key(self.config.seed)
    params = self._init_params
    if params is not None:
      params = jax.device_put(params, self.state_shardings["params"])
    with self.mesh:
      return jax.jit(partitioning.with_axis_rules(make, self.mesh, self.rules),
                     out_shardings=self.state_shardings)(rng, params)

  # -- the step ----------------------------------------------------------------
  def _loss(self, params, batch, rng, trie_data, enable_dropout: bool):
    """(mean loss per weighted target token, sum of weights) of one batch;
    dropout on for training, off for `eval_loss`."""
    cfg, model = self.config, self.model
    inputs = batch["encoder_input_tokens"]
    targets, weights = batch["decoder_target_tokens"], batch["decoder_loss_weights"]
    decoder_inputs = batch["decoder_input_tokens"]
    enc_rng, dec_rng = jax.random.split(rng)
    if enable_dropout and cfg.input_token_dropout:
      drop = jax.random.bernoulli(jax.random.fold_in(rng, 2), cfg.input_token_dropout,
                                  inputs.shape)
      inputs = jnp.where(drop & (inputs != EOS_ID), 0, inputs)  # 0 = padding, masked out
    encoded = model.apply({"params": params}, inputs, enable_dropout=enable_dropout,
                          frozen_states=batch.get("encoder_states"),
                          rngs={"dropout": enc_rng}, method=network.T5Model.encode)
    if targets.ndim == 3:  # query-grouped [B, K, T]: each encoding serves K targets
      k = targets.shape[1]
      encoded, inputs = jnp.repeat(encoded, k, axis=0), jnp.repeat(inputs, k, axis=0)
      targets, weights, decoder_inputs = (x.reshape((-1,) + x.shape[2:])
                                          for x in (targets, weights, decoder_inputs))
    out = model.apply({"params": params}, encoded, inputs, decoder_inputs, targets,
                      enable_dropout=enable_dropout, rngs={"dropout": dec_rng},
                      return_hidden=trie_data is not None, method=network.T5Model.decode)
    if trie_data is not None:
      total, weight = trie_cross_entropy(out, network.lm_head_kernel(params), targets, weights,
                                         trie_data, self._trie_width, cfg.z_loss)
    else:
      total, weight = cross_entropy(out, targets, weights, cfg.label_smoothing, cfg.z_loss)
    return total / jnp.maximum(weight, 1.0), weight

  def _compile_step(self):
    cfg, optimizer = self.config, self.optimizer
    base_rng = jax.random.key(cfg.seed + 1)
    loss_fn = functools.partial(self._loss, enable_dropout=True)

    def step_fn(state, batch, trie_data):
      rng = jax.random.fold_in(base_rng, state["step"])
      (loss, weight), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          state["params"], batch, rng, trie_data)
      updates, opt_state = optimizer.update(grads, state["opt_state"], state["params"])
      params = optax.apply_updates(state["params"], updates)
      grad_norm = optax.global_norm(grads)
      finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
      keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(finite, n, o), new, old)
      new_state = {"step": state["step"] + 1, "params": keep(params, state["params"]),
                   "opt_state": keep(opt_state, state["opt_state"])}
      return new_state, {"loss": loss, "grad_norm": grad_norm, "finite": finite,
                         "target_tokens": weight}

    batch_sharding = partitioning.batch_sharding(self.mesh)
    rep = partitioning.replicated(self.mesh)
    trie_shardings = jax.tree.map(lambda _: rep, self._trie_data)
    if self._trie_data is not None:  # one copy on the devices, an argument (not a constant)
      self._trie_data = jax.device_put(self._trie_data, trie_shardings)
    return jax.jit(partitioning.with_axis_rules(step_fn, self.mesh, self.rules),
                   in_shardings=(self.state_shardings, batch_sharding, trie_shardings),
                   out_shardings=(self.state_shardings, rep), donate_argnums=(0,))

  def _global_batch(self, local: dict) -> dict:
    sharding = partitioning.batch_sharding(self.mesh)
    return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}

  def eval_loss(self, params, examples) -> float:
    """Mean loss per target token over all `examples` (pairs or query groups),
    dropout off: a validation loss in the units of the logged train loss.

    Batches of `config.batch_size` in order; the last one is padded with rows
    of zero weight. Every process passes the same examples.
    """
    if self._eval_loss_fn is None:
      def fn(params, batch, trie_data):
        loss, weight = self._loss(params, batch, jax.random.key(0), trie_data, False)
        return loss * weight, weight
      rep = partitioning.replicated(self.mesh)
      self._eval_loss_fn = jax.jit(partitioning.with_axis_rules(fn, self.mesh, self.rules),
                                   out_shardings=(rep, rep))
    size, n = self.config.batch_size, len(examples)
    pad = -n % size
    inputs = np.concatenate([examples.inputs, np.repeat(examples.inputs[:1], pad, 0)])
    targets = np.concatenate([examples.targets,
                              np.zeros((pad,) + examples.targets.shape[1:], examples.targets.dtype)])
    it = BatchIterator(type(examples)(inputs, targets), size, 0, jax.process_index(),
                       jax.process_count(), shuffle=False)
    total = weight = 0.0
    with self.mesh:
      for step in range(it.steps_per_epoch):
        t, w = self._eval_loss_fn(params, self._global_batch(it.local_batch(step)), self._trie_data)
        total, weight = total + float(t), weight + float(w)
    return total / max(weight, 1.0)

  # -- the loop ----------------------------------------------------------------
  def restore_or_init(self, data_meta: dict):
    step = self.checkpointer.latest_step()
    if step is None:
      return self.init_state(), 0
    state, data = self.checkpointer.restore(step, self.abstract_state)
    for key, value in data_meta.items():
      if data.get(key) != value:
        raise ValueError(f"checkpoint {self.checkpointer.directory}/{step} was written with "
                         f"{key}={data.get(key)!r}, this run has {value!r}: the data order "
                         "would differ, use a new workdir")
    logger.info(f"resumed from checkpoint step {step}")
    return state, step

  def fit(self, examples: TokenizedExamples, total_steps: int, learning_rate_fn=None):
    """Trains to `total_steps` (resuming if a checkpoint exists); returns the state."""
    cfg = self.config
    if self.trie is not None:
      check_targets_in_trie(examples, self.trie)
    it = BatchIterator(examples, cfg.batch_size, cfg.seed, jax.process_index(),
                       jax.process_count())
    data_meta = {"seed": cfg.seed, "batch_size": cfg.batch_size, "num_examples": len(examples)}
    state, start = self.restore_or_init(data_meta)
    cache = None
    if start < total_steps and encoder_cache.applies(self.model.config):
      cache = encoder_cache.EncoderStateCache(self.model, state["params"], examples.inputs)
    progress = _Progress(start, total_steps, cfg.batch_size)
    pending = None
    if start < total_steps:
      logger.info("compiling the train step (the first step includes it)...")
    with self.mesh:
      for step in range(start, total_steps):
        batch = it.local_batch(step)
        if cache is not None:  # the frozen encoder layers' output, computed once per query
          batch["encoder_states"] = cache.states_for(batch["encoder_input_tokens"])
        state, metrics = self._step_fn(state, self._global_batch(batch), self._trie_data)
        if step == start:
          logger.info(f"first step (compilation included) took {time.time() - progress.t0:.1f}s")
        if pending is not None:
          self._check(*pending)
        pending = (step, metrics)
        done = step + 1
        if done % cfg.log_every_steps == 0 or done == total_steps:
          self._check(*pending)
          pending = None
          lr = float(learning_rate_fn(step)) if learning_rate_fn else None
          scalars = progress.update(done, float(metrics["loss"]), lr)
          self._write(done, scalars)
        if cfg.eval_every_steps and self.eval_fn and done % cfg.eval_every_steps == 0:
          self._write(done, self.eval_fn(state["params"], done))
        if done % cfg.checkpoint_every_steps == 0 or done == total_steps:
          if pending is not None:
            self._check(*pending)
            pending = None
          self.checkpointer.save(done, state, {**data_meta, "step": done,
                                               "epoch": done // it.steps_per_epoch})
          logger.info(f"checkpoint step {done}: {self.checkpointer.directory}/{done}")
    self.checkpointer.wait()
    return state

  def _check(self, step: int, metrics):
    if not bool(metrics["finite"]):
      self.checkpointer.wait()
      raise NonFiniteLossError(
          f"non-finite loss/gradient at step {step + 1} (loss={float(metrics['loss'])}, "
          f"grad_norm={float(metrics['grad_norm'])}); the update was not applied and the last "
          f"good checkpoint is step {self.checkpointer.latest_step()}")

  def _write(self, step: int, scalars: dict):
    self.last_scalars.update(scalars, step=step)
    if self.writer is not None and scalars:
      self.writer.write_scalars(step, scalars)
      self.writer.flush()

  def close(self):
    self.checkpointer.close()


class _Progress:
  """One console line per log step: loss, lr, examples/s, ETA."""

  def __init__(self, start: int, total: int, batch_size: int):
    self.start, self.total, self.batch_size = start, total, batch_size
    self.t0, self.last_step, self.last_t = time.time(), start, time.time()

  def update(self, step: int, loss: float, lr: Optional[float]) -> dict:
    now = time.time()
    rate = (step - self.last_step) * self.batch_size / max(now - self.last_t, 1e-9)
    overall = (step - self.start) / max(now - self.t0, 1e-9)
    eta = (self.total - step) / max(overall, 1e-9)
    self.last_step, self.last_t = step, now
    lr_text = f" lr {lr:.2e}" if lr is not None else ""
    logger.info(f"step {step}/{self.total} ({step / self.total:.0%}) loss {loss:.4f}{lr_text} "
                f"{rate:,.0f} ex/s ETA {_hms(eta)}")
    scalars = {"loss": loss, "examples_per_second": rate}
    if lr is not None:
      scalars["learning_rate"] = lr
    return scalars


def _hms(seconds: float) -> str:
  seconds = int(seconds)
  h, rem = divmod(seconds, 3600)
  return f"{h}h{rem // 60:02d}m" if h else f"{rem // 60}m{rem % 60:02d}s"
