"""What an installation needs to run, checked: used by `/healthz` (the quick, runtime part) and `flask doctor`
(all of it, with what to do about each problem). Every check answers, none raises.
"""
from __future__ import annotations

import gettext
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from config import ROOT, production_missing

REDIS_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    blocking: bool = True  # False: reported, but the web workers can still serve (e.g. the scheduler)


def check_database(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1"))
        return Check("database", True, "ok")
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        session.rollback()
        return Check("database", False, f"error: {type(exc).__name__}",
                     "check DATABASE_URL and that PostgreSQL is running and reachable")


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S)


def check_redis(app: Flask) -> Check | None:
    url = app.config.get("REDIS_URL")
    if not url:
        return None
    try:
        redis_client(url).ping()
        return Check("redis", True, "ok")
    except Exception as exc:  # noqa: BLE001
        return Check("redis", False, f"error: {type(exc).__name__}",
                     "start Redis or fix REDIS_URL: sign-in and the student entrance need it")


def check_replica(app: Flask) -> Check | None:
    """The statistics replica (DATABASE_REPLICA_URL), when configured: streaming and its lag, or why the statistics
    read the primary meanwhile. Never blocking: the pages fall back to the primary."""
    from app.db import probe_replica

    factory = app.extensions.get("xinmiao_replica_factory")
    if factory is None:
        return None
    max_lag = float(app.config.get("REPLICA_MAX_LAG_SECONDS", 300))
    session, lag, reason = probe_replica(factory, max_lag)
    lag_text = "" if lag is None else f", lag {lag:.0f} s"
    if session is not None:
        session.close()
        return Check("replica", True, f"ok{lag_text}", blocking=False)
    return Check("replica", False, f"{reason}{lag_text}: the statistics read the primary", blocking=False,
                 fix="check the standby and its replication (docs/operations.md, \"Statistics replica\")")


def check_scheduler(session: Session) -> Check:
    from app.scheduler.lease import LEASE_NAME
    from models import SchedulerLease
    from models.clock import database_now

    try:
        row = session.get(SchedulerLease, LEASE_NAME)
        now = database_now(session)
    except Exception as exc:  # noqa: BLE001
        session.rollback()
        return Check("scheduler", False, f"error: {type(exc).__name__}", "", blocking=False)
    fix = "start the scheduler: systemctl start xinmiao-scheduler (flask scheduler run, exactly one process)"
    if row is None:
        return Check("scheduler", False, "not running (no lease)", fix, blocking=False)
    if row.expires_at < now:
        return Check("scheduler", False, f"not running: lease of {row.holder} expired at "
                     f"{row.expires_at.isoformat()}", fix, blocking=False)
    return Check("scheduler", True, f"running: {row.holder}, lease renewed until {row.expires_at.isoformat()}",
                 blocking=False)


def check_audit_linker(app: Flask, session: Session) -> Check:
    """Events left unlinked past AUDIT_UNLINKED_MAX_AGE_SECONDS: the audit linker (scheduler job audit_link) is
    not running or refuses the chain (docs/security.md section 6)."""
    from models import clock
    from models.audit import unlinked_report

    bound = float(app.config.get("AUDIT_UNLINKED_MAX_AGE_SECONDS", 60))
    try:
        report = unlinked_report(session, clock.now(), bound)
    except Exception as exc:  # noqa: BLE001
        session.rollback()
        return Check("audit linker", False, f"error: {type(exc).__name__}", "", blocking=False)
    if not report.ok:
        return Check("audit linker", False, f"{report.stale} audit events not linked for more than {bound:g} s",
                     "start the scheduler (job audit_link); if it runs, `flask audit link` and `flask audit "
                     "verify` say why the chain is refused", blocking=False)
    return Check("audit linker", True, f"{report.pending} events pending", blocking=False)


def check_key_file(app: Flask) -> Check:
    from app.keys.cli import key_source
    from models.crypto import CryptoError, KeyRing

    kind, path = key_source(app)
    if kind != "file" or not path:
        return Check("keys", True, f"master keys from {kind}")
    try:
        ring = KeyRing.from_file(path)
    except CryptoError as exc:
        return Check("keys", False, f"error: {exc}", "restore the key file from the key backup (mode 0600, "
                     "readable by the app's user only); see docs/operations.md")
    return Check("keys", True, f"key file {path}: master versions {ring.versions}, current {ring.current_version}")


def check_keys_open_a_sample(app: Flask, session: Session) -> Check:
    from models import DataKey
    from models.crypto import CryptoError

    ring = app.extensions["xinmiao_keyring"]
    try:
        sample = session.scalars(
            select(DataKey).where(DataKey.destroyed_at.is_(None), DataKey.wrapped.is_not(None))
            .order_by(DataKey.master_version.desc()).limit(1)
        ).first()
        if sample is None:
            return Check("keys open data", True, "no student data key yet")
        ring.unwrap(sample.wrapped, sample.id, sample.master_version)
        oldest = session.scalars(
            select(DataKey).where(DataKey.destroyed_at.is_(None), DataKey.wrapped.is_not(None))
            .order_by(DataKey.master_version).limit(1)
        ).first()
        if oldest is not None:
            ring.unwrap(oldest.wrapped, oldest.id, oldest.master_version)
    except CryptoError as exc:
        session.rollback()
        return Check("keys open data", False, f"error: {exc}",
                     "this key file does not open the database's data: use the key file (or backup) of this "
                     "installation")
    except Exception as exc:  # noqa: BLE001
        session.rollback()
        return Check("keys open data", False, f"error: {type(exc).__name__}", "check the database")
    return Check("keys open data", True, "a sample of data keys opens")


def check_migrations(app: Flask, session: Session) -> Check:
    from alembic.script import ScriptDirectory

    from app.cli import alembic_config

    try:
        heads = set(ScriptDirectory.from_config(alembic_config(app.config["DATABASE_URL"])).get_heads())
        current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception as exc:  # noqa: BLE001
        session.rollback()
        return Check("migrations", False, f"error: {type(exc).__name__} (no schema?)",
                     "run: flask --app app db upgrade (as the owner role, see README)")
    if current != heads:
        return Check("migrations", False, f"database at {sorted(current) or 'nothing'}, code at {sorted(heads)}",
                     "run: flask --app app db upgrade (as the owner role; stop the scheduler first)")
    return Check("migrations", True, f"at head {', '.join(sorted(heads))}")


def check_translations() -> Check:
    mo = ROOT / "translations" / "zh" / "LC_MESSAGES" / "messages.mo"
    fix = "run: python translations/build.py (the interface is in English until then)"
    if not mo.exists():
        return Check("translations", False, f"{mo} missing", fix)
    with mo.open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    if catalog.gettext("Back to home") == "Back to home":
        return Check("translations", False, f"{mo} has no Chinese text", fix)
    newest_source = max((p.stat().st_mtime for p in (ROOT / "translations" / "src").glob("*.po")), default=0)
    if mo.stat().st_mtime < newest_source:
        return Check("translations", False, "compiled catalog older than its sources", fix)
    return Check("translations", True, "zh compiled")


def check_settings(app: Flask) -> Check:
    cfg = app.config
    if cfg.get("ENV_NAME") != "production":
        return Check("settings", False, f"XINMIAO_ENV is {cfg.get('ENV_NAME')}", "set XINMIAO_ENV=production "
                     "in the environment file (deploy/env.example)")
    missing = production_missing(cfg)
    if not cfg.get("REDIS_URL"):
        missing.append("REDIS_URL")
    if missing:
        return Check("settings", False, "missing: " + ", ".join(missing), "set them in the environment file")
    if cfg.get("BASE_URL", "").startswith("http://"):
        return Check("settings", False, f"XINMIAO_BASE_URL is {cfg['BASE_URL']}",
                     "set XINMIAO_BASE_URL to the public https:// address")
    return Check("settings", True, "production settings complete")


def check_proxy(app: Flask) -> Check:
    networks = app.config.get("TRUSTED_PROXY_NETWORKS") or ()
    if not networks:
        return Check("proxy", False, "XINMIAO_TRUSTED_PROXIES is not set: behind nginx every client looks like "
                     "the proxy (one shared student-entrance limit, the proxy's address in the audit log)",
                     "set XINMIAO_TRUSTED_PROXIES to the proxy's address (127.0.0.1 when nginx runs on this host)")
    wide = [str(n) for n in networks if n.prefixlen < (24 if n.version == 4 else 64)]
    if wide:
        return Check("proxy", False, f"XINMIAO_TRUSTED_PROXIES trusts whole networks {', '.join(wide)}",
                     "list only the proxies' own addresses: anyone in a trusted network can choose their address")
    return Check("proxy", True, "trusted proxies " + ", ".join(str(n) for n in networks))


def runtime_checks(app: Flask, session: Session) -> list[Check]:
    """The quick checks of /healthz."""
    checks = [check_database(session)]
    redis = check_redis(app)
    if redis is not None:
        checks.append(redis)
    checks += [check_scheduler(session), check_key_file(app)]
    replica = check_replica(app)
    if replica is not None:
        checks.append(replica)
    session.rollback()
    return checks


def all_checks(app: Flask, session: Session) -> list[Check]:
    """Everything `flask doctor` checks, in the order an administrator fixes them."""
    checks = [check_settings(app), check_translations(), check_key_file(app), check_database(session)]
    redis = check_redis(app)
    if redis is not None:
        checks.append(redis)
    checks += [check_migrations(app, session), check_keys_open_a_sample(app, session), check_scheduler(session),
               check_audit_linker(app, session), check_proxy(app)]
    replica = check_replica(app)
    if replica is not None:
        checks.append(replica)
    session.rollback()
    return checks


