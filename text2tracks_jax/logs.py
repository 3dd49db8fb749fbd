"""Console logging for the entry points (the CLI and the `python -m` mains).

Library modules only log (`logger = logging.getLogger(__name__)`); the
programs call `configure()` once in their `main()`. It imports nothing but the
standard library, so the CLI can call it before any lazy import.
"""

import logging
import sys

# The package's loggers, and gensim's word2vec (its per-epoch progress lines).
_LOGGERS = (("text2tracks_jax", logging.INFO), ("gensim.models.word2vec", logging.INFO))


def configure() -> None:
  """The package's INFO lines on stderr, as the bare message (`warning: ...`
  for a warning), and gensim word2vec's progress; the root logger is left
  alone, so third-party INFO lines (JAX, Orbax, TensorFlow) stay quiet.
  Calling it again adds nothing."""
  for name, level in _LOGGERS:
    logger = logging.getLogger(name)
    if any(isinstance(h, _StderrHandler) for h in logger.handlers):
      continue
    handler = _StderrHandler()
    handler.setFormatter(_ConsoleFormatter())
    if name.startswith("gensim"):
      handler.addFilter(_word2vec_progress)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class _ConsoleFormatter(logging.Formatter):
  """`%(message)s`; a warning or an error reads `warning: ...` / `error: ...`."""

  def __init__(self):
    super().__init__("%(message)s")

  def format(self, record) -> str:
    text = super().format(record)
    return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


class _StderrHandler(logging.StreamHandler):
  """Writes to the `sys.stderr` of the moment (not the one at creation)."""

  @property
  def stream(self):
    return sys.stderr

  @stream.setter
  def stream(self, _):
    pass


def _word2vec_progress(record) -> bool:
  """gensim's per-epoch and periodic PROGRESS lines (rate), as `word2vec: ...`."""
  message = record.getMessage()
  if record.levelno >= logging.WARNING:
    return True
  if not message.startswith("EPOCH"):
    return False
  record.msg, record.args = f"word2vec: {message}", None
  return True
