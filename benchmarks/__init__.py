"""Benchmarks: run by hand or by ``make bench``; results go to ``docs/benchmarks.md``."""
