"""Helpers of the deployment tests: the README's install block, PostgreSQL admin URL, free ports."""
from __future__ import annotations

import os
import re
import socket
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_MARK = "# system"
# What a `# system` line may do (it changes the machine, so the test does not run it).
SYSTEM_COMMANDS = ("apt-get install", "useradd", "python3.11 -m venv", "install -m 0644", "systemctl")


def pg_admin_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"


def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


def readme_block(section: str = "## Production deployment") -> list[str]:
    """The lines of the first ```sh block of a README section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text[text.index(section):]
    body = body[: body.index("\n## ", 1)] if "\n## " in body[1:] else body
    match = re.search(r"```sh\n(.*?)```", body, re.S)
    assert match, f"no ```sh block in README section {section!r}"
    return match.group(1).splitlines()


def runnable(lines: list[str]) -> tuple[str, list[str]]:
    """(the script without the `# system` lines, the skipped lines)."""
    kept, skipped = [], []
    for line in lines:
        if line.rstrip().endswith(SYSTEM_MARK):
            skipped.append(line)
        else:
            kept.append(line)
    return "\n".join(kept) + "\n", skipped


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def drop_installation(db: str, roles: tuple[str, ...]) -> None:
    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        for role in roles:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
