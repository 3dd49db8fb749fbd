"""Text2Tracks-JAX: prompt-based music recommendation by generative retrieval."""

__version__ = "0.1.0"
