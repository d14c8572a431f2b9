"""Sentinel's benchmark suite: `python -m benchmarks NAME` (see docs/benchmarks.md).

Benchmarks, not tests: each one measures this code next to a baseline in the same
run, prints a table and writes JSON under benchmarks/results/ (git-ignored);
`--publish` also writes the copy under benchmarks/reported/ that docs/benchmarks.md quotes.
"""
