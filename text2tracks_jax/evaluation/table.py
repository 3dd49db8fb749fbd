"""The results table, Markdown and CSV, with significance marked as papers do.

Each system gets a letter (a, b, c, ...); a cell carries, as superscript, the
letters of the systems that its system is significantly better than on that
metric, and the best value of each column is bold. System-level columns (one
number per system, e.g. jaccard@k, distinct_tracks@k) follow the metric
columns, plain: there is no per-query test for them and no "best".
"""

from __future__ import annotations

import csv
import io
from typing import List, Mapping, Optional, Sequence

DIGITS = 3
INVALID = "invalid_ids_per_query"


def _fmt(value: Optional[float]) -> str:
  if value is None:
    return "–"
  return str(value) if isinstance(value, int) else f"{value:.{DIGITS}f}"


def _best(means: Mapping[str, Mapping[str, float]], metric: str) -> Optional[float]:
  values = [round(m[metric], DIGITS) for m in means.values()]
  return max(values) if len(values) > 1 else None


def markdown(means: Mapping[str, Mapping[str, float]], columns: Sequence[str],
             letters: Mapping[str, str], marks: Mapping[str, Mapping[str, List[str]]],
             notes: Sequence[str], system_level: Sequence[str] = ()) -> str:
  """Markdown table: one row per system, one column per metric, then notes.

  Args:
    means: system -> metric -> mean value (report order).
    columns: the metric columns, e.g. ["hits@10", ..., "artist_entropy@10"].
    letters: system -> its letter.
    marks: metric -> system -> the systems it is significantly better than.
    notes: footnote lines printed under the table.
    system_level: system-level measures, shown after `columns` without bold
      or letters.
  """
  show_invalid = any(m.get(INVALID) is not None for m in means.values())
  header = (["System"] + list(columns) + list(system_level)
            + (["invalid IDs/query"] if show_invalid else []))
  lines = ["| " + " | ".join(header) + " |",
           "|---|" + "---:|" * (len(header) - 1)]
  best = {c: _best(means, c) for c in columns}
  for name, m in means.items():
    cells = [f"({letters[name]}) {name}"]
    for c in columns:
      cell = _fmt(m[c])
      if best[c] is not None and round(m[c], DIGITS) == best[c]:
        cell = f"**{cell}**"
      beaten = marks.get(c, {}).get(name, [])
      if beaten:
        cell += "<sup>" + "".join(letters[b] for b in beaten) + "</sup>"
      cells.append(cell)
    cells += [_fmt(m[c]) for c in system_level]
    if show_invalid:
      cells.append(_fmt(m.get(INVALID)))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines + [""] + list(notes)) + "\n"


def csv_table(means: Mapping[str, Mapping[str, float]], columns: Sequence[str],
              letters: Mapping[str, str], marks: Mapping[str, Mapping[str, List[str]]],
              missing: Mapping[str, int], system_level: Sequence[str] = ()) -> str:
  """CSV: system, letter, each metric and the letters it beats, the system-level
  measures, invalid IDs, missing."""
  buf = io.StringIO()
  w = csv.writer(buf, lineterminator="\n")
  header = ["system", "letter"]
  for c in columns:
    header += [c, f"{c} better than"]
  w.writerow(header + list(system_level) + [INVALID, "queries_missing"])
  for name, m in means.items():
    row = [name, letters[name]]
    for c in columns:
      row += [f"{m[c]:.6g}", "".join(letters[b] for b in marks.get(c, {}).get(name, []))]
    row += [f"{m[c]:.6g}" for c in system_level]
    invalid = m.get(INVALID)
    w.writerow(row + ["" if invalid is None else f"{invalid:.6g}", missing[name]])
  return buf.getvalue()


def footnotes(*, k: int, split: str, num_queries: int, num_systems: int, alpha: float,
              missing: Mapping[str, int], num_query_pairs: int) -> List[str]:
  """The lines under the table: what the numbers and the marks mean."""
  n_pairs = num_systems * (num_systems - 1) // 2
  sample = ("all" if num_query_pairs == num_queries * (num_queries - 1) // 2
            else "a seeded random sample of")
  notes = [f"Means over the {num_queries} {split} queries at k = {k}. hits@{k} is the number "
           f"of relevant tracks in the top {k} (not 0/1); artist_entropy@{k} is the Shannon "
           f"entropy in bits of the artists in the top {k} (higher = more diverse).",
           f"Query dependence, one number per system (no significance test, no bold): "
           f"jaccard@{k} is the mean overlap |A ∩ B| / |A ∪ B| of the top-{k} lists of "
           f"{sample} {num_query_pairs} pairs of queries, the same pairs for every system "
           f"(1 = the same list for every query, as popularity; 0 when both lists are empty); "
           f"distinct_tracks@{k} is the number of distinct tracks over the top-{k} lists of "
           f"all {num_queries} queries (at most {num_queries * k})."]
  if n_pairs:
    notes.append(
        f"Superscript letters: the row's system is significantly better than the systems with "
        f"those letters on that metric (paired two-sided Student t-test on per-query scores, "
        f"Bonferroni-corrected over the {n_pairs} system pair{'s' if n_pairs > 1 else ''}: "
        f"p × {n_pairs} < {alpha:g}). Bold: best in the column.")
  else:
    notes.append("One system: no significance tests.")
  for name, n in missing.items():
    if n:
      notes.append(f"Warning: {name} has no predictions for {n} of the {num_queries} queries; "
                   "they are scored as empty lists.")
  return notes

