"""Experiment runners: gin configs in `gin_configs/runs/` -> the paper's tables and figure."""
