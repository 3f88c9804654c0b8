"""deploy/systemd units pass `systemd-analyze verify` (no warning either); no inline comments; docs/scheduler.md shows
the real unit; the supervisor example carries SECRET_KEY; logrotate accepts deploy/logrotate/xinmiao."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.deploy.support import ROOT

UNITS = sorted((ROOT / "deploy" / "systemd").glob("xinmiao-*.*"))


def _materialise(tmp_path):
    """The units with the checkout path of this test run (ExecStart must name an existing executable)."""
    out = []
    for unit in UNITS:
        target = tmp_path / unit.name
        target.write_text(unit.read_text().replace("/opt/xinmiao", str(ROOT)))
        out.append(target)
    return out


def test_there_are_web_scheduler_and_backup_units():
    assert {u.name for u in UNITS} >= {"xinmiao-web.service", "xinmiao-scheduler.service", "xinmiao-backup.service",
                                       "xinmiao-backup.timer"}


def test_systemd_analyze_verify_passes_without_a_warning(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (.ci/run does)", pytrace=False)
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, _materialise(tmp_path))],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_verify_catches_a_missing_executable(tmp_path):
    bad = tmp_path / "xinmiao-bad.service"
    bad.write_text((ROOT / "deploy/systemd/xinmiao-scheduler.service").read_text())  # /opt/xinmiao does not exist
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", str(bad)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and "not executable" in result.stderr


@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_no_comment_after_a_value(unit):
    for number, line in enumerate(unit.read_text().splitlines(), 1):
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            assert " #" not in line and " ;" not in line, f"{unit.name}:{number}: systemd keeps it in the value"


def test_the_docs_show_the_real_scheduler_unit_and_a_supervisor_example_with_secret_key():
    text = (ROOT / "docs" / "scheduler.md").read_text()
    blocks = re.findall(r"```ini\n(.*?)```", text, re.S)
    assert (ROOT / "deploy/systemd/xinmiao-scheduler.service").read_text() in blocks
    [supervisor] = [b for b in blocks if "[program:xinmiao-scheduler]" in b]
    assert ". /etc/xinmiao/xinmiao.env" in supervisor
    assert "SECRET_KEY=" in (ROOT / "deploy" / "env.example").read_text()


def test_the_web_unit_logs_where_logrotate_rotates(tmp_path):
    web = (ROOT / "deploy/systemd/xinmiao-web.service").read_text()
    assert "--access-logfile /var/log/xinmiao/access.log" in web and "LogsDirectory=xinmiao" in web
    conf = (ROOT / "deploy/logrotate/xinmiao").read_text()
    assert conf.startswith("# /etc/logrotate.d/xinmiao") and "/var/log/xinmiao/*.log" in conf
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "access.log").write_text("GET / 200\n" * 10)
    local = conf.replace("/var/log/xinmiao", str(logs)).replace("xinmiao xinmiao", "root root")
    (tmp_path / "xinmiao").write_text(local)
    result = subprocess.run(["logrotate", "--debug", "--state", str(tmp_path / "state"), str(tmp_path / "xinmiao")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "error" not in result.stderr.lower(), result.stderr
