"""LlamaBurn's performance suite: fidelity, accuracy, pipeline ceiling, footprint, history and start-up.

Run it with ``python -m benchmarks`` (see docs/performance.md); tests/test_benchmarks_smoke.py runs a
short version of it in CI.
"""
