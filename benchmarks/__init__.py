"""The benchmark: ``run.py`` (the entry point) runs one module per section of docs/benchmarks.md,
with the timing loop and the report from ``harness``."""
