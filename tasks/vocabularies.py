"""SentencePiece vocabularies with an ID strategy's new tokens as whole tokens.

The base model is either a pretrained one given by path (Flan-T5's
`spiece.model`, for fine-tuning; its 100 sentinel pieces `<extra_id_i>` are
materialised so that the strategy's tokens come after them, as in the
checkpoint's embedding rows) or trained here on the train queries (plus artist
and track names for the content strategy) with T5's ids: pad 0, eos 1, unk 2,
no bos, byte fallback for emoji and rare scripts. A trained base is saved with
a fingerprint of what it was trained on and reused, not retrained, when asked
again with the same inputs.

`build_id_model` appends the new tokens to the base model proto as
USER_DEFINED pieces: ids `base_size + i`, matched as whole tokens by
SentencePiece itself, so the plain `seqio.SentencePieceVocabulary` (and
upstream T5X) encode and decode them, in Python and in TF graphs alike.
Targets are encoded without SentencePiece's dummy-prefix space (a
normaliser override), so a semantic ID `<+12><-3><+7>` is exactly 3 tokens
and `decode(encode(s)) == s` for whitespace-normalised text mixing words and
ID tokens; inputs keep the base model's normalisation.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Sequence

import seqio
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

from text2tracks_jax.data.errors import SettingsError
from text2tracks_jax.data.outputs import atomic_write
from text2tracks_jax.ids.tokenizer import train_sentencepiece

USER_DEFINED = sp_pb2.ModelProto.SentencePiece.USER_DEFINED


def train_base_model(texts: Sequence[str], out_dir, vocab_size: int = 8000,
                     build: bool = True) -> Path:
  """Trains (or reuses) the base SentencePiece model on `texts`.

  Returns `out_dir/spiece.model`, trained by `ids.tokenizer.train_sentencepiece`
  (T5's special ids, byte fallback, deterministic). A fingerprint of the texts
  and size is kept beside it; a later call with the same inputs reuses the model.
  With `build=False` the model must already be there for these inputs
  (`SettingsError` otherwise): nothing is trained or written.
  """
  out_dir = Path(out_dir)
  digest = hashlib.sha256()
  for t in texts:
    digest.update(t.encode("utf-8") + b"\n")
  fingerprint = {"texts_sha256": digest.hexdigest(), "num_texts": len(texts),
                 "vocab_size": vocab_size}
  model_path, meta_path = out_dir / "spiece.model", out_dir / "spiece.json"
  if model_path.exists() and meta_path.exists():
    if json.loads(meta_path.read_text()).get("fingerprint") == fingerprint:
      return model_path
  if not build:
    raise _not_built(model_path)
  out_dir.mkdir(parents=True, exist_ok=True)
  tmp = train_sentencepiece(texts, out_dir / f".spiece.model.tmp-{os.getpid()}",
                            vocab_size=vocab_size, byte_fallback=True)
  os.replace(tmp, model_path)
  atomic_write(meta_path, (json.dumps({"fingerprint": fingerprint}, indent=2) + "\n").encode())
  return model_path


def build_id_model(base_model, new_tokens: Iterable[str], out_path,
                   num_extra_ids: int = 0, build: bool = True) -> Path:
  """Writes base model + `num_extra_ids` sentinels + `new_tokens` as whole tokens.

  With `build=False` the file must already hold exactly that model
  (`SettingsError` otherwise): nothing is written.
  """
  proto = sp_pb2.ModelProto.FromString(Path(base_model).read_bytes())
  existing = {p.piece for p in proto.pieces}
  for i in reversed(range(num_extra_ids)):  # seqio/T5 order: <extra_id_0> is last
    proto.pieces.add(piece=f"▁<extra_id_{i}>", score=0.0, type=USER_DEFINED)
  for token in new_tokens:
    if not token or any(c.isspace() for c in token):
      raise ValueError(f"new token {token!r} is empty or contains whitespace")
    if token in existing:
      raise ValueError(f"new token {token!r} is already a piece of {base_model}")
    existing.add(token)
    proto.pieces.add(piece=token, score=0.0, type=USER_DEFINED)
  out_path = Path(out_path)
  data = proto.SerializeToString()
  if not build:
    if not out_path.exists() or out_path.read_bytes() != data:
      raise _not_built(out_path)
    return out_path
  out_path.parent.mkdir(parents=True, exist_ok=True)
  atomic_write(out_path, data)
  return out_path


def _not_built(path: Path) -> SettingsError:
  return SettingsError(f"{path}: missing, or made from other inputs than the run's; build the "
                       "run's vocabularies with tasks.register_run(RUN) or `text2tracks train` "
                       "(importing `tasks` only reads them)")


def input_vocabulary(model_path) -> seqio.SentencePieceVocabulary:
  """Vocabulary for queries: the base model's normalisation."""
  return seqio.SentencePieceVocabulary(str(model_path))


class TargetVocabulary(seqio.SentencePieceVocabulary):
  """`SentencePieceVocabulary` without the dummy-prefix space, picklable
  (Apache Beam pickles vocabularies; protobuf messages are kept serialised)."""

  def __init__(self, sentencepiece_model_file: str):
    super().__init__(sentencepiece_model_file,
                     normalizer_spec_overrides=sp_pb2.NormalizerSpec(add_dummy_prefix=False))

  def __getstate__(self):
    state = super().__getstate__()
    state["_normalizer_spec_overrides"] = state["_normalizer_spec_overrides"].SerializeToString()
    return state

  def __setstate__(self, state):
    state = dict(state)
    state["_normalizer_spec_overrides"] = sp_pb2.NormalizerSpec.FromString(
        state["_normalizer_spec_overrides"])
    super().__setstate__(state)


def target_vocabulary(model_path) -> seqio.SentencePieceVocabulary:
  """Vocabulary for IDs: same pieces, no dummy-prefix space."""
  return TargetVocabulary(str(model_path))


def base_size(model_path) -> int:
  """Number of pieces before any appended whole tokens of `build_id_model`."""
  proto = sp_pb2.ModelProto.FromString(Path(model_path).read_bytes())
  return sum(1 for p in proto.pieces if p.type != USER_DEFINED)
