"""Gin-configured training: partitioning, optimizers, checkpoints, the train loop."""
