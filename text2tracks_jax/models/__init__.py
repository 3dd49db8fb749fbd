"""Flax T5 v1.1 / Flan-T5 network and checkpoint import (HF, T5X)."""
