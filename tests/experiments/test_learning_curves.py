"""`experiments.learning_curves`: yardsticks, event files, report and CLI."""

import csv
import json
import math

import numpy as np
import pytest

from text2tracks_jax.experiments import learning_curves as lc
from text2tracks_jax.training.input_pipeline import TokenizedExamples

# Two queries (the second differs only in a word and is shorter); three IDs:
# X and Y of 2 tokens + EOS, Z of 1 token + EOS.
Q1, Q2 = [5, 6, 1], [7, 1, 0]
X, Y, Z = [10, 11, 1], [10, 12, 1], [13, 1, 0]
INPUTS = np.array([Q1, Q1, Q1, Q2], np.int32)  # [N=4, S=3]
TARGETS = np.array([X, X, Y, Z], np.int32)  # [N=4, T=3]
# IDs over the 4 pairs: X 1/2, Y 1/4, Z 1/4 -> H(ID) = 1.5 ln 2.
H_ID = 1.5 * math.log(2)
# Q1 (3/4 of the pairs) has X 2/3, Y 1/3; Q2 has Z only.
H_GIVEN = 0.75 * (math.log(3) - 2 / 3 * math.log(2))
TOKENS = (3 + 3 + 3 + 2) / 4  # target tokens per pair, EOS included

LOSSES = {10: 3.0, 20: 2.0, 30: 1.5, 40: 1.25}
HITS = {20: 0.1, 40: 0.3}
RECALL = {20: 0.01, 40: 0.03}
STEPS_PER_EPOCH = 20


def test_yardsticks_by_hand():
  y = lc.yardsticks(INPUTS, TARGETS)
  assert (y["pairs"], y["distinct_queries"], y["distinct_ids"]) == (4, 2, 3)
  assert y["tokens_per_id"] == pytest.approx(TOKENS)
  assert y["id_entropy_nats"] == pytest.approx(H_ID)
  assert y["id_given_query_nats"] == pytest.approx(H_GIVEN)
  assert y["marginal_per_token"] == pytest.approx(H_ID / TOKENS)
  assert y["floor_per_token"] == pytest.approx(H_GIVEN / TOKENS)


def test_yardsticks_limits():
  # Every query with a single ID: nothing left to pay once memorised.
  y = lc.yardsticks(np.array([Q1, Q2, Q2]), np.array([X, Z, Z]))
  assert y["floor_per_token"] == 0.0
  assert y["marginal_per_token"] > 0.0
  # One query for all pairs: knowing it says nothing, floor = marginal.
  y = lc.yardsticks(np.array([Q1] * 4), TARGETS)
  assert y["floor_per_token"] == pytest.approx(y["marginal_per_token"])
  with pytest.raises(ValueError):
    lc.yardsticks(np.zeros((3, 2), int), np.zeros((4, 2), int))


def _write_events(logdir, scalars_by_step):
  from clu import metric_writers  # pylint: disable=import-outside-toplevel
  writer = metric_writers.create_default_writer(str(logdir), asynchronous=False)
  for step in sorted(scalars_by_step):
    writer.write_scalars(step, scalars_by_step[step])
  writer.flush()
  writer.close()


def _workdir(root, name="run", *, loss=True, cache=True):
  wd = root / name
  (wd / "cache").mkdir(parents=True)
  config = {"task": "toy_task", "steps_per_epoch": STEPS_PER_EPOCH, "total_steps": 40,
            "batch_size": 2, "examples": 4, "group_targets": 0, "query_groups": None,
            "trie_loss": False, "gin_config": "train_lib.train.batch_size = 2\n"}
  (wd / "train_config.json").write_text(json.dumps(config))
  if cache:
    TokenizedExamples(INPUTS, TARGETS).save(wd / "cache" / "toy_task.train.0123456789ab.npz")
  by_step = {}
  for step in sorted(set(LOSSES) | set(HITS)):
    by_step[step] = {}
    if loss and step in LOSSES:
      by_step[step].update({"loss": LOSSES[step], "learning_rate": 1e-3,
                            "examples_per_second": 100.0})
    if step in HITS:
      by_step[step].update({"validation_hits@10": HITS[step],
                            "validation_recall@10": RECALL[step]})
  _write_events(wd / "tensorboard", by_step)
  return wd


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  return _workdir(tmp_path_factory.mktemp("lc"))


def test_reads_clu_scalars(workdir):
  scalars = lc.read_scalars(workdir / "tensorboard")
  steps, values = scalars["loss"]
  assert steps.tolist() == sorted(LOSSES)
  np.testing.assert_allclose(values, [LOSSES[s] for s in sorted(LOSSES)], rtol=1e-6)
  assert scalars["validation_hits@10"][0].tolist() == [20, 40]
  np.testing.assert_allclose(scalars["validation_recall@10"][1], [0.01, 0.03], rtol=1e-6)


def test_a_step_written_again_keeps_its_last_value(tmp_path):
  # A resumed run logs steps again in a new event file.
  _write_events(tmp_path, {10: {"loss": 3.0}, 20: {"loss": 2.0}})
  _write_events(tmp_path, {20: {"loss": 1.0}, 30: {"loss": 0.5}})
  steps, values = lc.read_scalars(tmp_path)["loss"]
  assert steps.tolist() == [10, 20, 30]
  np.testing.assert_allclose(values, [3.0, 1.0, 0.5])


def test_cli_writes_table_csv_and_plot(workdir, tmp_path):
  out = tmp_path / "report"
  rc = lc.main([str(workdir), "--out", str(out), "--labels", "toy", "--popularity", "0.2",
                "--cooccurrence", "0.5"])
  assert rc == 0
  png = out / "learning_curves.png"
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
  assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left

  md = (out / "learning_curves.md").read_text()
  marginal, floor = f"{H_ID / TOKENS:.3f}", f"{H_GIVEN / TOKENS:.3f}"
  last = np.mean(list(LOSSES.values()))  # all 4 logs are within the last LAST_LOGS
  assert (f"| toy | full softmax | 4 | 2 | 3 | 2.75 | {marginal} | {floor} | {last:.3f} "
          f"| {last - H_GIVEN / TOKENS:+.3f} |") in md
  # One row per validation eval; train loss = mean of the logs since the previous row.
  assert "| step | epoch | train loss | validation hits@10 | validation recall@10 |" in md
  assert "| 20 | 1.00 | 2.500 | 0.100 | 0.010 |" in md
  assert "| 40 | 2.00 | 1.375 | 0.300 | 0.030 |" in md
  assert "popularity 0.200, cooccurrence 0.500" in md

  with open(out / "learning_curves.csv") as f:
    rows = list(csv.DictReader(f))
  assert [(r["run"], int(r["step"]), float(r["epoch"])) for r in rows] == [
      ("toy", 10, 0.5), ("toy", 20, 1.0), ("toy", 30, 1.5), ("toy", 40, 2.0)]
  assert [float(r["loss"]) for r in rows] == pytest.approx(list(LOSSES.values()))
  assert [r["validation_hits@10"] for r in rows][::2] == ["", ""]
  assert float(rows[3]["validation_hits@10"]) == pytest.approx(0.3)
  assert [float(r["marginal_entropy_per_token"]) for r in rows] == pytest.approx(
      [H_ID / TOKENS] * 4, abs=1e-6)
  assert float(rows[0]["memorisation_floor_per_token"]) == pytest.approx(H_GIVEN / TOKENS,
                                                                          abs=1e-6)


def test_without_validation_rows_are_logged_steps(tmp_path):
  wd = tmp_path / "noval"
  (wd / "cache").mkdir(parents=True)
  (wd / "train_config.json").write_text(json.dumps({"task": "t", "steps_per_epoch": 10}))
  TokenizedExamples(INPUTS, TARGETS).save(wd / "cache" / "t.train.abc.npz")
  _write_events(wd / "tensorboard", {s: {"loss": 10.0 - s / 10} for s in range(5, 80, 5)})
  run = lc.collect(wd)
  rows = lc.curve_rows(run)
  assert len(rows) == lc.MAX_ROWS and rows[0]["step"] == 5 and rows[-1]["step"] == 75
  assert rows[0]["loss"] == pytest.approx(9.5)
  assert "validation_hits@10" not in rows[0]
  md = lc.write_report([run], tmp_path / "out")
  assert "| step | epoch | train loss |\n|---:|---:|---:|\n| 5 | 0.50 | 9.500 |" in md
  assert (tmp_path / "out" / "learning_curves.png").stat().st_size > 0


def test_label_smoothing_is_flagged():
  config = {"gin_config": "train_lib.train.label_smoothing = 0.1\ntrain_lib.train.z_loss = 0.0\n"}
  kind = lc._loss_kind(config)  # pylint: disable=protected-access
  assert kind == "full softmax (label smoothing 0.1: yardsticks not exact)"


def test_bad_input_exits_2_and_writes_nothing(workdir, tmp_path, capsys):
  out = tmp_path / "out"
  missing = tmp_path / "no_such_workdir"
  assert lc.main([str(workdir), str(missing), "--out", str(out)]) == 2
  err = capsys.readouterr().err.strip()
  assert err.startswith("error: ") and str(missing) in err and "\n" not in err
  assert not out.exists()

  assert lc.main([str(workdir), "--out", str(out), "--labels", "a,b"]) == 2
  assert capsys.readouterr().err.startswith("error: --labels")

  nocache = _workdir(tmp_path, "nocache", cache=False)
  assert lc.main([str(nocache), "--out", str(out)]) == 2
  assert str(nocache / "cache") in capsys.readouterr().err

  noloss = _workdir(tmp_path, "noloss", loss=False)
  assert lc.main([str(noloss), "--out", str(out)]) == 2
  assert "no 'loss' scalar" in capsys.readouterr().err
  assert not out.exists()


def test_validation_loss_is_a_column_and_drawn(tmp_path):
  wd = tmp_path / "vl"
  (wd / "cache").mkdir(parents=True)
  (wd / "train_config.json").write_text(json.dumps({"task": "t", "steps_per_epoch": 10}))
  TokenizedExamples(INPUTS, TARGETS).save(wd / "cache" / "t.train.abc.npz")
  _write_events(wd / "tensorboard", {10: {"loss": 3.0}, 20: {"loss": 2.0, "validation_loss": 2.5},
                                     30: {"loss": 1.0}, 40: {"loss": 0.5, "validation_loss": 2.75}})
  run = lc.collect(wd)
  rows = lc.curve_rows(run)  # one row per validation eval, as with hits
  assert [(r["step"], r["validation_loss"]) for r in rows] == [(20, 2.5), (40, 2.75)]
  md = lc.write_report([run], tmp_path / "out")
  assert "| step | epoch | train loss | validation loss |" in md
  assert "| 40 | 4.00 | 0.750 | 2.750 |" in md
  with open(tmp_path / "out" / "learning_curves.csv") as f:
    assert [r["validation_loss"] for r in csv.DictReader(f)] == ["", "2.5", "", "2.75"]
