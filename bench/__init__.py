"""Benchmarks (`make bench` -> `python -m bench`, see bench/__main__.py and docs/benchmarks.md).

- bench/core.py: repeated timing (median, min, max), floors, the result row;
- bench/data.py: the data sets, built once per run into templates and copied for each module;
- bench/loadgen.py: HTTP load from wrk, a process of its own;
- bench/report.py: console table, regression view against the last committed result, docs/benchmarks.md;
- bench/bench_*.py: the modules, each stating the data it needs (`DATA`).
"""
