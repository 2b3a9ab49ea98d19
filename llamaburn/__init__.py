"""LlamaBurn: benchmark local LLM servers honestly."""

__version__ = "0.1.0"
