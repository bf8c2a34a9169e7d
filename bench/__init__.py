"""Benchmarks, run on demand (`make bench`); their results are recorded in docs/benchmarks.md."""
