"""Every experiment config under gin_configs/runs/ parses as the CLI parses it
(an include without its own imports, a typo in a binding: caught here, not an
hour into a run)."""

from pathlib import Path

import gin
import pytest

from text2tracks_jax import cli

ROOT = Path(__file__).resolve().parents[2]
RUNS = sorted(p.name for p in (ROOT / "gin_configs" / "runs").glob("*.gin"))


class _Args:
  def __init__(self, gin_file):
    self.gin_file, self.gin_bindings = [gin_file], []


@pytest.mark.parametrize("name", RUNS)
def test_run_config_parses(name, monkeypatch):
  monkeypatch.chdir(ROOT)
  gin.clear_config()
  try:
    cli.parse_gin(_Args(f"gin_configs/runs/{name}"), ["text2tracks_jax.experiments.runner"])
  finally:
    gin.clear_config()


def test_demo_long_is_the_demo_with_four_times_table2s_budget(monkeypatch):
  monkeypatch.chdir(ROOT)
  from text2tracks_jax.experiments import runner  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import train as train_lib  # pylint: disable=import-outside-toplevel
  gin.clear_config()
  try:
    cli.parse_gin(_Args("gin_configs/runs/demo_long.gin"), ["text2tracks_jax.experiments.runner"])
    assert gin.get_bindings(train_lib.train)["num_epochs"] == 2
    assert gin.get_bindings(runner.run_experiment)["best_train"] is None
    assert gin.get_bindings(train_lib.train)["trie_loss"] is True
  finally:
    gin.clear_config()
