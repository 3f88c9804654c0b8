"""Benchmarks (`make bench` -> `python -m bench`): a synthetic district, then every `bench/bench_*.py` module's
`run(scale, database_url)`; results in bench/results/ and docs/benchmarks.md. See bench/__main__.py.

`CONTEXT` holds what the harness built (the `bench.synth.build_district` result: database URL, key file,
counselor usernames and password, school ids) for modules that want to reuse the synthetic district; a module
run on its own finds it empty and builds what it needs.
"""
from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

CONTEXT: dict[str, Any] = {}


@contextmanager
def scratch_database(prefix: str, database_url: str | None = None) -> Iterator[tuple[str, Any]]:
    """(url, engine) of a database migrated to head: the given one, or a temporary SQLite file removed afterwards."""
    from app.cli import upgrade_database
    from models.db import make_engine

    tmp = None
    if database_url is None:
        tmp = tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-")
        database_url = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    try:
        upgrade_database(database_url)
        engine = make_engine(database_url)
        try:
            yield database_url, engine
        finally:
            engine.dispose()
    finally:
        if tmp is not None:
            tmp.cleanup()
