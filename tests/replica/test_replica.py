"""The statistics replica against a REAL PostgreSQL primary and hot standby (their own clusters, built here).

One session-scoped pair of clusters in a temporary directory on free ports (initdb, the deploy/ snippets,
deploy/postgresql/replication.sql for the role and slot, pg_basebackup -R), run as the `postgres` user. Not marked
`db`: it builds its own servers, so `make test` runs it once (in its first, all-tests half), never twice.
Proves: the district pages read from the standby (its older value while replay is paused, and every statement
it received); a write on the primary shows on the standby's figures after replication; too much lag and a
stopped standby fall back to the primary and say so; nothing but reads ever reaches the standby (no rollup
stored through it); the export's audit event lands on the primary.
"""
from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from models import AuditEvent
from models.db import make_engine
from models.district import DistrictRollup
from tests.conftest import login, make_test_app
from tests.factories import Factory
from tests.integration.district_world import TERM, build
from tests.waiting import wait_until

pytestmark = pytest.mark.replica

PG_BIN = Path(os.environ.get("XINMIAO_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "postgresql"
SLOT = "xinmiao_standby"
REPLICATOR = "xinmiao_replicator"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*cmd: str) -> None:
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    done = subprocess.run([*prefix, *cmd], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"


@dataclass
class Pair:
    root: Path
    primary_port: int
    standby_port: int

    def url(self, port: int, database: str = "xinmiao") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def pg_ctl(self, name: str, action: str) -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.root / name), "-l", str(self.root / f"{name}.log"),
                     "-w", "-t", "30", "-m", "fast", action)


@pytest.fixture(scope="session")
def pair() -> Iterator[Pair]:
    root = Path(tempfile.mkdtemp(prefix="xinmiao-replica-"))
    pw = pwd.getpwnam("postgres")
    os.chown(root, pw.pw_uid, pw.pw_gid)
    os.chmod(root, 0o700)
    p = Pair(root, _free_port(), _free_port())
    started: list[str] = []
    try:
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(root / "primary"), "-U", "postgres", "--auth=trust",
                     "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        for name in ("replica-primary.conf", "replica-standby.conf", "replication.sql"):  # deploy/, as shipped
            shutil.copy(DEPLOY / name, root / name)
            os.chown(root / name, pw.pw_uid, pw.pw_gid)
        common = (f"listen_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\nfsync = off\n"
                  "shared_buffers = 32MB\nmax_connections = 30\n")
        with open(root / "primary" / "postgresql.conf", "a") as fh:
            fh.write(f"include '{root / 'replica-primary.conf'}'\nport = {p.primary_port}\n{common}"
                     "max_slot_wal_keep_size = 256MB\nwal_keep_size = 64MB\n")
        p.pg_ctl("primary", "start")
        started.append("primary")
        _as_postgres(str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(p.primary_port), "-U", "postgres",
                     "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-v", f"repl_role={REPLICATOR}",
                     "-v", "repl_password=replica-test", "-v", f"slot={SLOT}", "-q",
                     "-f", str(root / "replication.sql"))
        _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(p.primary_port), "-U", "postgres",
                     "xinmiao")
        _as_postgres(str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(p.primary_port), "-U", REPLICATOR,
                     "-D", str(root / "standby"), "-R", "-S", SLOT, "-X", "stream", "-c", "fast", "--no-sync")
        with open(root / "standby" / "postgresql.conf", "a") as fh:
            fh.write(f"include '{root / 'replica-standby.conf'}'\nport = {p.standby_port}\n{common}")
        p.pg_ctl("standby", "start")
        started.append("standby")
        yield p
    finally:
        for name in reversed(started):
            if (root / name / "postmaster.pid").exists():
                p.pg_ctl(name, "stop")
        shutil.rmtree(root, ignore_errors=True)


def _caught_up(primary: Engine, standby: Engine, what: str = "replay") -> bool:
    with primary.connect() as c:
        lsn = c.execute(text("SELECT pg_current_wal_lsn()")).scalar_one()
    fn = "pg_last_wal_replay_lsn()" if what == "replay" else "pg_last_wal_receive_lsn()"
    with standby.connect() as c:
        return bool(c.execute(text(f"SELECT {fn} >= CAST(:lsn AS pg_lsn)"), {"lsn": lsn}).scalar_one())


def _superuser(standby: Engine, sql: str) -> None:
    with standby.connect() as c:
        c.execute(text(sql))
        c.commit()


def _dashboard(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/district?term={TERM}&group=school")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _count(engine: Engine, stmt) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return int(s.execute(stmt).scalar_one())


def _rollups(engine: Engine) -> dict[str, object]:
    with Session(engine) as s:
        return dict(s.execute(select(DistrictRollup.key, DistrictRollup.refreshed_at)).tuples().all())


def test_the_statistics_read_from_the_standby_and_fall_back_to_the_primary(pair: Pair, keyring) -> None:  # type: ignore[no-untyped-def]
    from app.cli import upgrade_database

    upgrade_database(pair.url(pair.primary_port))
    primary = make_engine(pair.url(pair.primary_port))
    standby = make_engine(pair.url(pair.standby_port))
    with Session(primary) as s:
        factory = Factory(s, keyring)
        world = build(factory)
        school_a = world.schools["A"]
        username = world.district_user.username
        s.commit()
        school_a_id = school_a.id
    app = make_test_app(primary, keyring, None, DATABASE_REPLICA_URL=pair.url(pair.standby_port))
    replica_engine = app.extensions["xinmiao_replica_factory"].kw["bind"]
    sent: list[str] = []
    event.listen(replica_engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: sent.append(statement))
    wait_until(lambda: _caught_up(primary, standby), timeout=30, what="the standby to replay the world")
    client = app.test_client()
    login(client, username)

    # 1. Read from the standby: the figures, the lag in the "figures as of" line, no rollup written anywhere.
    html = _dashboard(client)
    assert "90.0%" in html  # coverage 36 / 40
    assert "读自统计只读副本" in html and "落后主库" in html
    assert any("screenings" in s for s in sent), "the dashboard's figures were not read from the standby"
    assert _count(primary, select(func.count()).select_from(DistrictRollup)) == 0

    # 2. A write on the primary while the standby's replay is paused: the page still shows the standby's older value.
    _superuser(standby, "SELECT pg_wal_replay_pause()")
    with Session(primary) as s:
        factory = Factory(s, keyring)
        from models import School

        a = s.get(School, school_a_id)
        factory.student(school=a, klass=factory.klass(a, grade=7), name="新转入生", number="G3199999999", gender="M")
        s.commit()
    wait_until(lambda: _caught_up(primary, standby, "receive"), timeout=30, what="the standby to receive the write")
    html = _dashboard(client)
    assert "90.0%" in html and "87.8%" not in html, "the page did not read the standby's (older) figures"
    assert "读自统计只读副本" in html

    # 3. More lag than the setting: the primary's figures, and the page says why.
    app.config["REPLICA_MAX_LAG_SECONDS"] = 0
    html = _dashboard(client)
    assert "87.8%" in html  # 36 / 41 on the primary
    assert "读自主库" in html and "统计只读副本落后" in html
    app.config["REPLICA_MAX_LAG_SECONDS"] = 300
    stored = _rollups(primary)
    assert stored, "read from the primary, the stale rollup is stored there"

    # 4. Replication resumes: the standby's figures show the write.
    _superuser(standby, "SELECT pg_wal_replay_resume()")
    wait_until(lambda: _caught_up(primary, standby), timeout=30, what="the standby to replay the write")
    sent.clear()
    html = _dashboard(client)
    assert "87.8%" in html and "读自统计只读副本" in html
    assert sent, "the dashboard sent nothing to the standby"
    for page in ("/district/trends", "/district/staffing"):
        body = client.get(page).get_data(as_text=True)
        assert "读自统计只读副本" in body, page

    health = client.get("/healthz").get_json()
    assert health["replica"].startswith("ok, lag "), health

    # 5. The export reads the standby; its audit event is written on the primary.
    before = _count(primary, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "district.export"))
    response = client.get(f"/district/export/coverage.csv?term={TERM}&group=school")
    assert response.status_code == 200
    assert "城区中学,21" in response.get_data(as_text=True).replace("\ufeff", "")
    after = _count(primary, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "district.export"))
    assert after == before + 1

    # Nothing but reads ever reached the standby (it would refuse a write; a rollup stored through it would show).
    writes = [s for s in sent if s.lstrip().split(None, 1)[0].upper() not in ("SELECT", "WITH", "SHOW")]
    assert not writes, writes
    assert _rollups(primary) == stored, "a page read from the standby stored a rollup"

    # 6. The standby stops: every statistics page falls back to the primary and says so.
    pair.pg_ctl("standby", "stop")
    html = _dashboard(client)
    assert "87.8%" in html and "读自主库" in html and "统计只读副本无法连接" in html
    staffing = client.get("/district/staffing").get_data(as_text=True)
    assert "统计只读副本无法连接" in staffing
    health = client.get("/healthz")
    assert health.get_json()["replica"] == "unreachable: the statistics read the primary"
    assert health.status_code == 200  # not blocking: the pages still serve, from the primary
    primary.dispose()
    standby.dispose()
    replica_engine.dispose()


def test_without_a_replica_the_statistics_read_the_primary_and_say_nothing(app) -> None:  # type: ignore[no-untyped-def]
    from app.db import db

    assert "xinmiao_replica_factory" not in app.extensions
    with app.test_request_context("/district"):
        read = db.statistics()
        assert read.source == "primary" and read.session is db.session
        from app.district.views import source_text

        assert source_text() == ""
