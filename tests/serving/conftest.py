"""Shared fixtures: a tiny synthetic world with its semantic-ids-cf ID map."""

import pytest

from text2tracks_jax import cli


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """RUN/data and RUN/ids/semantic-ids-cf of the tiny preset, built by the CLI."""
  run = tmp_path_factory.mktemp("serving") / "world"
  assert cli.main(["prepare", "--source", "synthetic", "--preset", "tiny",
                   "--out", str(run / "data")]) == 0
  assert cli.main(["build-ids", "--data", str(run / "data"), "--strategy", "semantic-ids-cf",
                   "--out", str(run / "ids" / "semantic-ids-cf")]) == 0
  return run
