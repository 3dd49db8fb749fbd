"""The scorer end to end: names, loading, missing queries, files, the CLI verb."""

import csv
import json
import logging
import math

import pytest

from text2tracks_jax import cli
from text2tracks_jax.data.dataset import DatasetWriter
from text2tracks_jax.data.errors import InputError
from text2tracks_jax.evaluation import predictions as predictions_lib
from text2tracks_jax.evaluation import scorer

FILES = {"metrics.json", "summary.json", "per_query.csv", "table.md", "table.csv"}
N_TEST = 40


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """100 tracks by 10 artists (t_i by a_{i % 10}); test query q_i holds t_{2i}, t_{2i+1}."""
  path = tmp_path_factory.mktemp("eval") / "data"
  with DatasetWriter(path, source="jsonl", config={}, seed=0) as w:
    for i in range(100):
      w.add_track(f"t{i}", f"Song {i}", f"a{i % 10}", f"Artist {i % 10}")
    w.add_example("train", "train0", "a train query", ["t80", "t81"])
    for i in range(N_TEST):
      w.add_example("test", f"q{i}", f"test query {i}", [f"t{2 * i}", f"t{2 * i + 1}"])
    w.commit()
  return path


def _write(path, records):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
  return path


def _good(i):
  """Both relevant tracks for 3 of 4 queries, one (at rank 2) for the rest.

  The fillers (train tracks t80..t89, artists a0..a9) never share an artist
  with the relevant tracks: every list has as many artists as tracks.
  """
  rel = [f"t{2 * i}", f"t{2 * i + 1}"]
  fill = [f"t{80 + (2 * i + 2) % 10}", f"t{80 + (2 * i + 3) % 10}"]
  return rel + fill if i % 4 else [fill[0], rel[0], fill[1]]


def _bad(i):
  del i
  return [f"t{j}" for j in range(90, 100)]


def _systems(tmp_path, *, missing=0):
  good = _write(tmp_path / "runs" / "t5" / "predictions.test.jsonl",
                [{"query_id": f"q{i}", "query": "x", "track_ids": _good(i), "generated_ids": [],
                  "scores": [], "invalid_ids": i % 3} for i in range(N_TEST)])
  bad = _write(tmp_path / "popularity.jsonl",
               [{"query_id": f"q{i}", "track_ids": _bad(i)} for i in range(N_TEST - missing)])
  copy = _write(tmp_path / "copy.jsonl",
                [{"query_id": f"q{i}", "track_ids": _bad(i)} for i in range(N_TEST)])
  return scorer.parse_systems([str(bad), str(good), f"popcopy={copy}"])


def test_parse_systems_names():
  systems = scorer.parse_systems(["runs/t5-cf/predictions.test.jsonl", "bm25.jsonl",
                                  "Pop=out/predictions.jsonl", "dir/preds.jsonl"])
  assert list(systems) == ["t5-cf", "bm25", "Pop", "dir"]
  assert str(systems["Pop"]) == "out/predictions.jsonl"


def test_parse_systems_refuses_duplicate_names():
  with pytest.raises(InputError, match="'bm25' is used twice.*NAME=path"):
    scorer.parse_systems(["a/bm25.jsonl", "b/bm25.jsonl"])
  with pytest.raises(InputError, match="used twice"):
    scorer.parse_systems(["x=a.jsonl", "x=b.jsonl"])


def test_metrics_missing_queries_and_files(tmp_path, data_dir, caplog):
  systems = _systems(tmp_path, missing=3)
  result = scorer.evaluate(data_dir, systems, tmp_path / "out", k=10)
  assert {p.name for p in (tmp_path / "out").iterdir()} == FILES
  t5, pop = result["metrics"]["t5"], result["metrics"]["popularity"]
  # 30 queries with 2 hits at ranks 1-2, 10 with 1 hit at rank 2 (of 2 relevant)
  assert t5["hits@10"] == pytest.approx((30 * 2 + 10 * 1) / 40)
  assert t5["hit_rate@10"] == 1.0
  assert t5["recall@10"] == pytest.approx((30 * 1.0 + 10 * 0.5) / 40)
  assert t5["precision@10"] == pytest.approx(t5["hits@10"] / 10)
  assert t5["mrr@10"] == pytest.approx((30 * 1.0 + 10 * 0.5) / 40)
  ndcg_one = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
  assert t5["ndcg@10"] == pytest.approx((30 * 1.0 + 10 * ndcg_one) / 40)
  # t5 lists 4 tracks by 4 different artists (2 bits) or 3 by 3 artists
  assert t5["artist_entropy@10"] == pytest.approx((30 * 2.0 + 10 * math.log2(3)) / 40)
  assert t5["invalid_ids_per_query"] == pytest.approx(sum(i % 3 for i in range(40)) / 40)
  assert pop["hits@10"] == 0.0 and "invalid_ids_per_query" not in pop
  # t90..t99 span all 10 artists; the 3 missing queries score as empty lists (entropy 0)
  assert pop["artist_entropy@10"] == pytest.approx(math.log2(10) * 37 / 40)
  assert (pop["queries"], pop["queries_missing"], t5["queries_missing"]) == (40, 3, 0)

  written = json.loads((tmp_path / "out" / "metrics.json").read_text())
  assert written == result["metrics"]
  summary = json.loads((tmp_path / "out" / "summary.json").read_text())
  assert summary["num_queries"] == 40 and summary["num_pairs"] == 3 and summary["k"] == 10
  assert summary["systems"]["popularity"]["missing_query_ids_first"] == ["q37", "q38", "q39"]
  assert any(r.levelno == logging.WARNING and "popularity" in r.getMessage()
             and "3 of the 40" in r.getMessage() for r in caplog.records)
  assert "Warning: popularity has no predictions for 3 of the 40 queries" in result["table"]

  with open(tmp_path / "out" / "per_query.csv") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 3 * 40
  row = next(r for r in rows if r["system"] == "popularity" and r["query_id"] == "q39")
  assert row["missing"] == "1" and float(row["hits@10"]) == 0.0 and row["invalid_ids"] == ""
  row = next(r for r in rows if r["system"] == "t5" and r["query_id"] == "q1")
  assert float(row["hits@10"]) == 2.0 and row["invalid_ids"] == "1"


def test_table_marks_significance_with_letters(tmp_path, data_dir):
  result = scorer.evaluate(data_dir, _systems(tmp_path), tmp_path / "out")
  lines = result["table"].splitlines()
  assert lines[0].startswith("| System | hits@10 | hit_rate@10 |")
  pop_row, t5_row, copy_row = lines[2:5]
  assert pop_row.startswith("| (a) popularity | 0.000 |")
  assert t5_row.startswith("| (b) t5 | **1.750**<sup>ac</sup> | **1.000**<sup>ac</sup> |")
  assert copy_row.startswith("| (c) popcopy | 0.000 |")
  assert "<sup>" not in pop_row.split("|")[2] and "<sup>" not in copy_row.split("|")[2]
  assert "Bonferroni-corrected over the 3 system pairs" in result["table"]
  # identical systems: p = 1, not significant, no NaN in the JSON
  pair = next(r for r in result["pvalues"]["hits@10"] if {r["a"], r["b"]} == {"popularity",
                                                                              "popcopy"})
  assert pair["pvalue"] == 1.0 and not pair["significant"]
  assert result["better_than"]["hits@10"]["t5"] == ["popularity", "popcopy"]
  with open(tmp_path / "out" / "table.csv") as f:
    t5 = next(r for r in csv.DictReader(f) if r["system"] == "t5")
  assert t5["letter"] == "b" and t5["hits@10 better than"] == "ac" and t5["hits@10"] == "1.75"
  assert (tmp_path / "out" / "table.md").read_text() == result["table"]


def test_query_dependence_columns(tmp_path, data_dir):
  """jaccard@10 and distinct_tracks@10 in metrics.json, table.md, table.csv and summary.json."""
  result = scorer.evaluate(data_dir, _systems(tmp_path, missing=3), tmp_path / "out")
  metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
  n_pairs = 40 * 39 // 2  # few queries: every pair
  # popularity: one list for the 37 queries it predicts, empty for 3 (no overlap with anything)
  assert metrics["popularity"]["jaccard@10"] == pytest.approx(37 * 36 / 2 / n_pairs)
  assert metrics["popularity"]["distinct_tracks@10"] == 10
  assert metrics["popcopy"]["jaccard@10"] == 1.0 and metrics["popcopy"]["distinct_tracks@10"] == 10
  # t5: queries i and j share their two fillers when i = j (mod 5), nothing else; a list has
  # 3 tracks when i % 4 == 0, else 4
  size = [3 if i % 4 == 0 else 4 for i in range(40)]
  expected = sum(2 / (size[i] + size[j] - 2) for i in range(40) for j in range(i + 1, 40)
                 if i % 5 == j % 5) / n_pairs
  assert metrics["t5"]["jaccard@10"] == pytest.approx(expected)
  assert metrics["t5"]["distinct_tracks@10"] == 30 * 2 + 10 * 1 + 10  # relevant + fillers
  assert list(metrics["t5"])[:9] == ["hits@10", "hit_rate@10", "recall@10", "precision@10",
                                     "ndcg@10", "mrr@10", "artist_entropy@10", "jaccard@10",
                                     "distinct_tracks@10"]
  assert result["summary"]["query_pairs"]["count"] == n_pairs

  lines = result["table"].splitlines()
  assert lines[0].endswith("| artist_entropy@10 | jaccard@10 | distinct_tracks@10 "
                           "| invalid IDs/query |")
  pop_cells = [c.strip() for c in lines[2].split("|")]
  assert pop_cells[9:11] == [f"{37 * 36 / 2 / n_pairs:.3f}", "10"]
  copy_cells = [c.strip() for c in lines[4].split("|")]
  assert copy_cells[9:11] == ["1.000", "10"]  # the highest, not bold, no letters
  assert "Query dependence, one number per system (no significance test" in result["table"]
  assert f"all {n_pairs} pairs of queries" in result["table"]
  with open(tmp_path / "out" / "table.csv") as f:
    reader = csv.DictReader(f)
    rows = {r["system"]: r for r in reader}
  assert "jaccard@10 better than" not in reader.fieldnames
  assert rows["t5"]["distinct_tracks@10"] == "80" and rows["popcopy"]["jaccard@10"] == "1"


def test_top_lists_in_label_order_distinct_and_empty_when_missing(tmp_path):
  path = _write(tmp_path / "s.jsonl", [{"query_id": "q2", "track_ids": ["a", "a", "b", "c"]},
                                       {"query_id": "q0", "track_ids": ["d"]}])
  preds = predictions_lib.load(path)
  labels = {"q0": ["d"], "q1": ["x"], "q2": ["a"]}
  assert scorer.top_lists(preds, labels, 2) == [["d"], [], ["a", "b"]]


def test_single_system_runs_no_tests(tmp_path, data_dir):
  systems = dict(list(_systems(tmp_path).items())[1:2])
  result = scorer.evaluate(data_dir, systems, tmp_path / "out")
  assert result["pvalues"]["hits@10"] == [] and "One system: no significance tests" in \
      result["table"]
  assert "<sup>" not in result["table"] and "**" not in result["table"]


ok = {"query_id": "q0", "track_ids": ["t0"]}


@pytest.mark.parametrize("records,line,field", [
    ([ok, '{"query_id": "q1", "track_ids": ["t2"'], 2, None),  # truncated JSON
    ([ok, '["q1"]'], 2, None),
    ([ok, {"track_ids": ["t2"]}], 2, "query_id"),
    ([{"query_id": "q1"}], 1, "track_ids"),
    ([{"query_id": 7, "track_ids": []}], 1, "query_id"),
    ([ok, {"query_id": "q1", "track_ids": "t2 t3"}], 2, "track_ids"),
    ([ok, {"query_id": "q1", "track_ids": ["t2", 3]}], 2, "track_ids"),
    ([ok, {"query_id": "q1", "track_ids": []}, ok], 3, "query_id"),  # duplicate
    ([ok, {"query_id": "nope", "track_ids": []}], 2, "query_id"),  # not in the labels
    ([{"query_id": "q0", "track_ids": [], "invalid_ids": -1}], 1, "invalid_ids"),
])
def test_bad_predictions_name_file_line_field_and_write_nothing(tmp_path, data_dir, records,
                                                               line, field):
  bad = _write(tmp_path / "bad.jsonl", records)
  good = _write(tmp_path / "good.jsonl", [ok])
  with pytest.raises(InputError) as e:
    scorer.evaluate(data_dir, {"good": good, "bad": bad}, tmp_path / "out")
  assert (e.value.path, e.value.line, e.value.field) == (str(bad), line, field)
  assert str(e.value).startswith(f"{bad}:{line}:" + (f" field '{field}':" if field else ""))
  assert not (tmp_path / "out").exists()


def test_failed_run_keeps_previous_results(tmp_path, data_dir):
  scorer.evaluate(data_dir, _systems(tmp_path), tmp_path / "out")
  before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
  bad = _write(tmp_path / "bad.jsonl", ["not json"])
  with pytest.raises(InputError):
    scorer.evaluate(data_dir, {"bad": bad}, tmp_path / "out")
  assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before


def test_empty_or_absent_file_is_an_error(tmp_path, data_dir):
  with pytest.raises(InputError, match="no predictions in file"):
    scorer.evaluate(data_dir, {"e": _write(tmp_path / "e.jsonl", [])}, tmp_path / "out")
  with pytest.raises(InputError, match="no such predictions file"):
    scorer.evaluate(data_dir, {"x": tmp_path / "absent.jsonl"}, tmp_path / "out")


def test_unknown_tracks_are_counted(tmp_path, data_dir, caplog):
  path = _write(tmp_path / "s.jsonl", [{"query_id": "q0", "track_ids": ["t0", "zz1", "zz2"]}])
  result = scorer.evaluate(data_dir, {"s": path}, tmp_path / "out")
  assert result["metrics"]["s"]["unknown_tracks"] == 2
  assert any(r.levelno == logging.WARNING and "not in the catalog" in r.getMessage()
             for r in caplog.records)


def test_cli_evaluate(tmp_path, data_dir, capsys):
  systems = _systems(tmp_path)
  args = ["evaluate", "--data", str(data_dir), "--out", str(tmp_path / "out"), "--k", "5",
          "--predictions"] + [f"{n}={p}" for n, p in systems.items()]
  assert cli.main(args) == 0
  assert {p.name for p in (tmp_path / "out").iterdir()} == FILES
  out = capsys.readouterr().out
  assert "| (b) t5 |" in out and "hits@5" in out
  written = json.loads((tmp_path / "out" / "metrics.json").read_text())
  assert "hits@5" in written["t5"]
  # popularity lists 10 tracks; only the top 5 count
  pop = written["popularity"]
  assert (pop["distinct_tracks@5"], pop["jaccard@5"]) == (5, 1.0)

  bad = _write(tmp_path / "bad.jsonl", [ok, {"query_id": "q1"}])
  assert cli.main(["evaluate", "--data", str(data_dir), "--out", str(tmp_path / "out2"),
                   "--predictions", str(bad)]) == 2
  assert f"{bad}:2: field 'track_ids': missing" in capsys.readouterr().err
  assert not (tmp_path / "out2").exists()
  assert cli.main(["evaluate", "--data", str(tmp_path / "nodata"), "--out",
                   str(tmp_path / "out2"), "--predictions", str(bad)]) == 2
