"""Wiring per app, not per process: each app holds its own warning policy, care groups and areas' contributions."""
from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import yaml

from app.areas import Area, FileSection, NavItem, Wiring, wiring
from app.care_groups import care_group_keys
from app.policies import warning_policy
from app.screenings.recording import record_screening
from config import CONFIG_DIR
from models import Actor
from models.vault import Vault
from tests.conftest import make_test_app

ROOT = Path(__file__).resolve().parents[2]
# PHQ-A total 11 (positive, no critical item, not severe): L3 under the shipped policy's rule `positive`.
POSITIVE = [2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]


def _policy_file(tmp_path: Path, **rules: str) -> Path:
    data = yaml.safe_load((CONFIG_DIR / "warning_policy.yaml").read_text(encoding="utf-8"))
    data["rules"].update(rules)
    path = tmp_path / "warning_policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_two_apps_with_different_warning_policies_give_different_levels_for_the_same_answers(
        engine, keyring, connection, db_session, factory, tmp_path):
    from tests.conftest import _session_on

    shipped = make_test_app(engine, keyring, lambda: _session_on(connection))
    stricter = make_test_app(engine, keyring, lambda: _session_on(connection),
                             WARNING_POLICY_FILE=str(_policy_file(tmp_path, positive="L2")))
    vault = Vault(db_session, keyring, Actor.system("tests"))
    levels = {}
    for name, app in (("shipped", shipped), ("stricter", stricter)):
        student = factory.student()
        with app.app_context():
            screening = record_screening(db_session, Actor.system("tests"), vault, student, "phqa", POSITIVE,
                                         mode="paper", administered_on=date(2026, 10, 12))
        db_session.flush()
        levels[name] = screening.suggested_level
    assert levels == {"shipped": "L3", "stricter": "L2"}
    assert warning_policy(shipped).rules["positive"] == "L3" and warning_policy(stricter).rules["positive"] == "L2"


def test_an_app_reads_the_repository_policy_file_by_default(app):
    assert warning_policy(app).path == str(CONFIG_DIR / "warning_policy.yaml")
    with app.app_context():
        assert care_group_keys() == tuple(warning_policy(app).care_groups)


def test_each_app_keeps_its_own_wiring(app, engine, keyring):
    other = make_test_app(engine, keyring)
    assert wiring(app) is not wiring(other)
    assert wiring(app).home["counselor"] == "care.worklist" and wiring(app).home["district"] == "district.dashboard"
    extra = FileSection(99, lambda student, reader, user: None)
    app.extensions["xinmiao_wiring"] = wiring(app).plus(Area("tests", file_sections=(extra,)))
    assert extra in wiring(app).file_sections and extra not in wiring(other).file_sections
    assert [s.order for s in wiring(app).file_sections] == sorted(s.order for s in wiring(app).file_sections)


def test_a_wiring_refuses_two_areas_of_one_name_or_two_homes_for_a_role():
    import pytest

    with pytest.raises(ValueError, match="declared twice"):
        Wiring.of([Area("a"), Area("a")])
    with pytest.raises(ValueError, match="two home pages"):
        Wiring.of([Area("a", home={"admin": "a.home"}), Area("b", home={"admin": "b.home"})])
    nav = Wiring.of([Area("a", nav=(NavItem("a.x", "X", ("admin",), 30), NavItem("a.y", "Y", ("district",), 10)))])
    assert [i.endpoint for i in nav.nav_for("admin")] == ["a.x"]


def test_the_engine_reads_no_environment_and_imports_nothing_of_the_app():
    for path in sorted((ROOT / "screening").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert not {"environ", "getenv", "environb"} & (attrs | names), f"{path.name} reads the environment"
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        roots = {m.split(".")[0] for m in imported}
        assert not roots & {"app", "models", "config", "flask", "sqlalchemy"}, f"{path.name} imports {roots}"
