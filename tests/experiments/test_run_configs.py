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


def test_demo_long_is_the_demo_with_a_longer_regularised_table3_model_and_wider_beams(monkeypatch):
  monkeypatch.chdir(ROOT)
  from text2tracks_jax.experiments import runner  # pylint: disable=import-outside-toplevel
  from text2tracks_jax.training import train as train_lib  # pylint: disable=import-outside-toplevel
  gin.clear_config()
  try:
    cli.parse_gin(_Args("gin_configs/runs/demo.gin"), ["text2tracks_jax.experiments.runner"])
    demo = (gin.get_bindings(train_lib.train), gin.get_bindings(runner.run_experiment))
    gin.clear_config()
    cli.parse_gin(_Args("gin_configs/runs/demo_long.gin"), ["text2tracks_jax.experiments.runner"])
    assert gin.get_bindings(train_lib.train) == demo[0]  # Table 2 as in the demo
    best = gin.get_bindings(runner.run_experiment)["best_train"]
    assert best == {"num_epochs": 10, "input_token_dropout": 0.2,
                    "model_overrides": {"dropout_rate": 0.1}}
    assert demo[1]["best_train"] == {  # make demo: the MiniLM encoder, top 2 layers trained
        "num_epochs": 2, "model_overrides": {"encoder": "minilm", "frozen_encoder_layers": 4}}
    assert gin.get_bindings(runner.run_experiment)["best_seeds"] == 3
    assert "best_seeds" not in demo[1]  # make demo: one model
    from text2tracks_jax.serving import inference  # pylint: disable=import-outside-toplevel
    decoding = gin.get_bindings(inference.infer)
    assert (decoding["num_beams"], decoding["num_beam_groups"]) == (40, 10)
    assert decoding["diversity_penalty"] == 0.25
  finally:
    gin.clear_config()


def test_installed_package_ships_and_finds_its_gin_configs(tmp_path):
  """A non-editable install (wheel) resolves --gin_file=gin_configs/... and the
  files' own includes from inside the package, from any working directory."""
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(tmp_path / "wheel"), str(ROOT)], check=True)
  wheel = next((tmp_path / "wheel").glob("*.whl"))
  subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                  str(tmp_path / "site"), str(wheel)], check=True)
  code = ("import sys, gin; from text2tracks_jax import cli; "
          "assert cli.__file__.startswith(sys.argv[1]), cli.__file__; "
          "a = type('A', (), {'gin_file': ['gin_configs/runs/demo.gin'], 'gin_bindings': []})(); "
          "cli.parse_gin(a, ['text2tracks_jax.experiments.runner']); "
          "from text2tracks_jax.training import train; "
          "print(gin.get_bindings(train.train)['group_targets'])")
  work = tmp_path / "elsewhere"
  work.mkdir()
  out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], cwd=work,
                       env={**__import__("os").environ, "PYTHONPATH": str(tmp_path / "site")},
                       capture_output=True, text=True, check=False)
  assert out.returncode == 0, out.stderr[-2000:]
  assert out.stdout.strip().splitlines()[-1] == "8"
