"""One entry point for pretrained weights: a local HF or T5X checkpoint dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Tuple

from text2tracks_jax.models import hf_import, t5x_import
from text2tracks_jax.models.configs import T5Config

PyTree = Any


def load_pretrained(path: os.PathLike | str, **config_overrides) -> Tuple[T5Config, PyTree]:
  """(T5Config, float32 numpy params) from a local checkpoint directory.

  A directory with `config.json` is read as a Hugging Face checkpoint
  (`hf_import.load_hf_checkpoint`); otherwise as a T5X checkpoint
  (`t5x_import.load_t5x_checkpoint`), whose shapes give the config. In both
  cases `config_overrides` (e.g. dtype="bfloat16", dropout_rate=0.1) replace
  the non-shape fields.
  """
  path = Path(path)
  if (path / "config.json").is_file():
    return hf_import.load_hf_checkpoint(path, **config_overrides)
  params = t5x_import.load_t5x_checkpoint(path)
  return t5x_import.config_from_params(params, **config_overrides), params
