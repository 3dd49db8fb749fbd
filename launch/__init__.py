"""Launchers: N local processes, Cloud TPU VM slices, SLURM GPU clusters.

Run them from the repository root (`python -m launch.local ...`); see
launch/README.md.
"""
