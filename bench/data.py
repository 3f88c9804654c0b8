"""The benchmark data: each data set is built once per scale into a template database, and every module that
writes (even an audit event it rolls back) works on its own copy of it, so no module measures what another one left.

A module states what it needs with `DATA = "<name>"` (or None) and receives a `Data` handle:
`with data.copy() as db:` gives a fresh copy (`db.url`, `db.info`), dropped when the block ends.

Copies are cheap next to building: SQLite copies the template file (after a WAL checkpoint); PostgreSQL runs
`CREATE DATABASE <copy> TEMPLATE <template>`. With `BENCH_DATABASE_URL` pointing at a PostgreSQL server, the
templates and copies are databases created next to the named one (`xinmiao_bench_<pid>_<name>...`, the user needs
CREATEDB) and dropped at the end; without it everything is a SQLite file in the run's temporary directory.

A data set may build on another (`care` = `district` + the care layer): the derived template starts as a copy of
its base, so the base is built once too.
"""
from __future__ import annotations

import importlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Dataset:
    name: str
    base: str | None
    builder: str | None  # "module:function", called as fn(url, scale, workdir, base_info) -> info (JSON-able dict)
    about: str


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset("empty", None, None, "the schema migrated to head, no rows"),
    Dataset("district", "empty", "bench.synth:build_dataset",
            "the synthetic district (bench/synth.py): students and answers sealed by the real Vault, screenings over "
            "several rounds, suggested warnings on the latest round, one counselor per school"),
    Dataset("care", "district", "bench.bench_care:add_care_layer",
            "the district plus counselors at work: half of the warnings confirmed with a case and a pending "
            "recheck, observations, this term's check-ins for half of the care-group students, one head teacher"),
    Dataset("school", "empty", "bench.bench_roster:build_school",
            "one school of 3,000 students (300 at tiny scale) sealed by the Vault, one counselor"),
    Dataset("ingest", "empty", "bench.bench_ingest:build_students",
            "students with data keys and no screenings yet, one counselor per 1,000 students"),
    Dataset("dashboard", "empty", "bench.bench_dashboard:build_dataset",
            "district figures data: campaigns for every term, screenings, warnings, rechecks, cases, referrals "
            "(no identity, no answers: the district figures never read them)"),
    Dataset("sweep", "empty", "bench.bench_sweep:build_dataset",
            "100,000 open rechecks (2,000 at tiny scale) over 100 schools, half with a case owner, 200 crises"),
)}


def needs(name: str | None) -> list[str]:
    """The data sets `name` is built from, base first, `name` last."""
    chain: list[str] = []
    while name is not None:
        chain.insert(0, name)
        name = DATASETS[name].base
    return chain


# -- backends -----------------------------------------------------------------------------------------------
class SqliteFiles:
    """Databases as files in one directory."""

    kind = "sqlite"

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    def url(self, name: str) -> str:
        return f"sqlite:///{self._path(name)}"

    def create(self, name: str) -> str:
        self._path(name).touch()
        return self.url(name)

    def clone(self, source: str, name: str) -> str:
        src = self._path(source)
        with sqlite3.connect(src) as conn:  # fold the write-ahead log into the file: the copy is one file
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        shutil.copyfile(src, self._path(name))
        return self.url(name)

    def drop(self, name: str) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self._path(name)}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgresDatabases:
    """Databases on the PostgreSQL server of `server_url`, named `xinmiao_bench_<pid>_<name>`."""

    kind = "postgresql"

    def __init__(self, server_url: str):
        from sqlalchemy.engine import make_url

        from models.db import make_engine, normalise_url

        self._url = make_url(normalise_url(server_url))
        self._admin = make_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=_null_pool())
        self.prefix = f"xinmiao_bench_{os.getpid()}"
        self._made: list[str] = []

    def _db(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def url(self, name: str) -> str:
        return self._url.set(database=self._db(name)).render_as_string(hide_password=False)

    def _run(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def create(self, name: str) -> str:
        self._run(f'CREATE DATABASE "{self._db(name)}"')
        self._made.append(name)
        return self.url(name)

    def clone(self, source: str, name: str) -> str:
        # A template must have no other session: end any connection left to it (all of them are this run's).
        self._run(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self._db(source)}' "
                  f"AND pid <> pg_backend_pid()")
        self._run(f'CREATE DATABASE "{self._db(name)}" TEMPLATE "{self._db(source)}"')
        self._made.append(name)
        return self.url(name)

    def drop(self, name: str) -> None:
        self._run(f'DROP DATABASE IF EXISTS "{self._db(name)}" WITH (FORCE)')
        if name in self._made:
            self._made.remove(name)

    def close(self) -> None:
        for name in list(self._made):
            self.drop(name)
        self._admin.dispose()


def _null_pool() -> Any:
    from sqlalchemy.pool import NullPool

    return NullPool


# -- the store ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Database:
    url: str
    info: dict[str, Any]
    kind: str  # "sqlite" or "postgresql"


class Store:
    """Templates built on first use (once per run), copies handed out and dropped; `close()` removes everything."""

    def __init__(self, scale: str, workdir: Path, database_url: str | None = None, log: Any = None):
        self.scale = scale
        self.workdir = workdir
        self.log = log or (lambda *a: None)
        self.backend: SqliteFiles | PostgresDatabases
        if database_url and not database_url.startswith("sqlite"):
            self.backend = PostgresDatabases(database_url)
        else:
            self.backend = SqliteFiles(workdir / "db")
        self.templates: dict[str, dict[str, Any]] = {}  # name -> info
        self.built: dict[str, dict[str, Any]] = {}  # name -> {"seconds": ..., "about": ...} for the report
        self._copies = 0

    @property
    def kind(self) -> str:
        return self.backend.kind

    def template(self, name: str) -> Database:
        if name not in self.templates:
            self._build(name)
        return Database(self.backend.url(name), self.templates[name], self.kind)

    def _build(self, name: str) -> None:
        spec = DATASETS[name]
        base_info: dict[str, Any] = {}
        if spec.base is not None:
            base_info = self.template(spec.base).info
        started = time.perf_counter()
        self.log(f"data: building {name!r} ({self.scale}) ...")
        if spec.base is None:
            url = self.backend.create(name)
            from app.cli import upgrade_database

            upgrade_database(url)
            info: dict[str, Any] = {}
            own = info
        else:
            url = self.backend.clone(spec.base, name)
            assert spec.builder is not None
            module_name, _, fn_name = spec.builder.partition(":")
            build = getattr(importlib.import_module(module_name), fn_name)
            folder = self.workdir / "data" / name
            folder.mkdir(parents=True, exist_ok=True)
            own = build(url, self.scale, folder, dict(base_info))
            info = {**base_info, **own}
        seconds = time.perf_counter() - started
        self.templates[name] = info
        self.built[name] = {"seconds": round(seconds, 2), "about": spec.about,
                            "built_on": spec.base, "summary": _summary(own)}  # what this layer added
        self.log(f"data: {name!r} built in {seconds:.1f} s")

    @contextmanager
    def copy(self, name: str) -> Iterator[Database]:
        info = self.template(name).info
        self._copies += 1
        copy_name = f"{name}_c{self._copies}"
        url = self.backend.clone(name, copy_name)
        try:
            yield Database(url, info, self.kind)
        finally:
            self.backend.drop(copy_name)

    def release(self, keep: Iterable[str]) -> None:
        """Drop the templates no longer needed: neither in `keep` nor a base of one of them still to be built."""
        wanted = {n for name in keep for n in ([name] if name in self.templates else needs(name))}
        for name in list(self.templates):
            if name not in wanted:
                self.backend.drop(name)
                del self.templates[name]

    def close(self) -> None:
        for name in list(self.templates):
            self.backend.drop(name)
        self.templates.clear()
        self.backend.close()


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    """The counts of a data set worth printing (ids, URLs, passwords and user names left out)."""
    skip = {"password", "key_file", "database_url", "workdir", "campaigns", "first_school", "head_teacher", "counselor",
            "probe_name"}
    return {k: v for k, v in info.items() if k not in skip and not isinstance(v, (list, tuple))}


class Data:
    """What a module receives: its data set's template info and fresh copies."""

    def __init__(self, store: Store, name: str):
        self.store = store
        self.name = name

    @property
    def scale(self) -> str:
        return self.store.scale

    @property
    def kind(self) -> str:
        return self.store.kind

    @property
    def info(self) -> dict[str, Any]:
        return self.store.template(self.name).info

    def copy(self) -> Any:
        """Context manager: a fresh copy of the data set (`.url`, `.info`), dropped when the block ends."""
        return self.store.copy(self.name)

    def workdir(self, what: str) -> Path:
        """A folder inside the run's temporary directory (removed with it) for the module's own files."""
        path = self.store.workdir / "work" / what
        path.mkdir(parents=True, exist_ok=True)
        return path
