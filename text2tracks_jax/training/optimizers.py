"""Optimizers and learning-rate schedules (optax), gin-configurable.

Defaults follow the paper: AdamW with learning rate 5e-4. Adafactor (T5X's
default) is selectable: `create_optimizer.name = "adafactor"`.
"""

from __future__ import annotations

import gin
import jax
import optax


@gin.configurable
def learning_rate_schedule(total_steps: int, learning_rate: float = 5e-4,
                           warmup_steps: int = 0, decay: str = "linear",
                           final_fraction: float = 0.0) -> optax.Schedule:
  """Linear warm-up from 0, then `decay` in {constant, linear, cosine, rsqrt}.

  rsqrt is T5X's `rsqrt_decay`: lr * sqrt(max(warmup, 1) / max(step, warmup)).
  """
  warmup_steps = min(warmup_steps, max(total_steps - 1, 0))
  decay_steps = max(total_steps - warmup_steps, 1)
  final = learning_rate * final_fraction
  if decay == "constant":
    main = optax.constant_schedule(learning_rate)
  elif decay == "linear":
    main = optax.linear_schedule(learning_rate, final, decay_steps)
  elif decay == "cosine":
    main = optax.cosine_decay_schedule(learning_rate, decay_steps, alpha=final_fraction)
  elif decay == "rsqrt":
    ref = max(warmup_steps, 1)
    main = lambda step: learning_rate * (ref / (step + ref)) ** 0.5
  else:
    raise ValueError(f"unknown decay {decay!r}: constant, linear, cosine or rsqrt")
  if not warmup_steps:
    return main
  warmup = optax.linear_schedule(0.0, learning_rate, warmup_steps)
  return optax.join_schedules([warmup, main], [warmup_steps])


@gin.configurable
def create_optimizer(schedule: optax.Schedule, name: str = "adamw",
                     weight_decay: float = 0.0, b1: float = 0.9, b2: float = 0.999,
                     eps: float = 1e-8, grad_clip_norm: float | None = 1.0
                     ) -> optax.GradientTransformation:
  """AdamW (the paper's; HF's defaults) or Adafactor (T5X's), with clipping."""
  if name == "adamw":
    opt = optax.adamw(schedule, b1=b1, b2=b2, eps=eps, weight_decay=weight_decay)
  elif name == "adafactor":
    opt = optax.adafactor(schedule, multiply_by_parameter_scale=True,
                          decay_rate=0.8, clipping_threshold=1.0,
                          weight_decay_rate=weight_decay or None)
  elif name == "sgd":
    opt = optax.sgd(schedule)
  else:
    raise ValueError(f"unknown optimizer {name!r}: adamw, adafactor or sgd")
  if grad_clip_norm:
    opt = optax.chain(optax.clip_by_global_norm(grad_clip_norm), opt)
  return opt


def freeze(optimizer: optax.GradientTransformation, trainable_mask
           ) -> optax.GradientTransformation:
  """`optimizer` on the leaves where `trainable_mask` (a tree of bools like the
  params) is True; the others get zero updates and no optimizer state (a
  frozen pretrained encoder costs the optimizer nothing)."""
  labels = jax.tree.map(lambda t: "trained" if t else "frozen", trainable_mask)
  return optax.multi_transform({"trained": optimizer, "frozen": optax.set_to_zero()}, labels)
