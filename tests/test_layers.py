"""Dependencies run one way (design.md): a package imports only from the layers
below it, never from one beside or above it. Every import counts, those inside
functions too."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Lowest first. Units in one layer do not import each other.
LAYERS = (
    ("logs",),  # console logging set-up for the entry points; standard library only
    ("data",),
    ("ids", "evaluation"),
    ("tasks",),
    ("models",),
    ("training", "decoding"),
    ("serving", "baselines"),
    ("experiments",),
    ("cli",),
)
RANK = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}


def _unit(module: str):
  """The layer unit of a dotted module name, or None if it is not ours."""
  parts = module.split(".")
  if parts[0] == "tasks":
    return "tasks"
  if parts[0] != "text2tracks_jax" or len(parts) == 1:
    return None
  return "cli" if parts[1] == "cli" else parts[1]


def _module_name(path: Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix("").parts)
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
  """(line, imported module) of every import in `path`, relative ones resolved."""
  name = _module_name(path)
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      for alias in node.names:
        yield node.lineno, alias.name
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
      yield node.lineno, base
      for alias in node.names:  # `from pkg import module`
        yield node.lineno, f"{base}.{alias.name}"


def _sources():
  return sorted((ROOT / "text2tracks_jax").rglob("*.py")) + sorted((ROOT / "tasks").rglob("*.py"))


def test_every_unit_has_a_layer():
  units = {_unit(_module_name(p)) for p in _sources()} - {None}
  assert units <= set(RANK), f"add {sorted(units - set(RANK))} to LAYERS"


def test_imports_run_one_way():
  wrong = []
  for path in _sources():
    here = _unit(_module_name(path))
    if here is None:  # text2tracks_jax/__init__.py
      continue
    for line, module in _imports(path):
      there = _unit(module)
      if there is None or there == here:
        continue
      if RANK[there] >= RANK[here]:
        wrong.append(f"{path.relative_to(ROOT)}:{line}: {here} imports {module} ({there} is "
                     f"{'beside' if RANK[there] == RANK[here] else 'above'} it)")
  assert not wrong, "\n".join(wrong)


def test_training_and_decoding_know_nothing_of_each_other_or_serving():
  """The rule of issue 15, spelled out (the layer table implies it)."""
  for here, banned in (("training", {"decoding", "serving"}), ("decoding", {"training", "serving"})):
    for path in sorted((ROOT / "text2tracks_jax" / here).rglob("*.py")):
      found = {_unit(m) for _, m in _imports(path)} & banned
      assert not found, f"{path.relative_to(ROOT)} imports {sorted(found)}"
