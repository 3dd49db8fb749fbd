"""Shared test set-up: quiet TensorFlow, transformers without TF, offline hubs,
and the package's loggers unconfigured in every test."""

import logging
import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("USE_TF", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# What `text2tracks_jax.logs.configure` (the CLI, the `python -m` mains) sets up.
_CONFIGURED_LOGGERS = ("text2tracks_jax", "gensim.models.word2vec")


@pytest.fixture(autouse=True)
def _package_loggers_as_a_library_leaves_them():
  """Each test starts and ends with the package's loggers unconfigured (no
  handler, level unset, propagating to the root logger, where `caplog` listens):
  an in-process `cli.main` in one test must not hide another test's records."""
  _unconfigure()
  yield
  _unconfigure()


def _unconfigure():
  for name in _CONFIGURED_LOGGERS:
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
      logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
