"""Benchmarks: `python -m bench.<name>`; each writes its section of docs/BENCHMARKS.md."""
