"""Benchmarks (`make bench` -> `python -m bench`): a synthetic district, then every `bench/bench_*.py` module's
`run(scale, database_url)`; results in bench/results/ and docs/benchmarks.md. See bench/__main__.py.

`CONTEXT` holds what the harness built (the `bench.synth.build_district` result: database URL, key file,
counselor usernames and password, school ids) for modules that want to reuse the synthetic district; a module
run on its own finds it empty and builds what it needs.
"""
from __future__ import annotations

from typing import Any

CONTEXT: dict[str, Any] = {}
