"""Reproducible performance harness; see `python -m benchmarks.run --help`."""
