"""`flask schools …` and `flask users …`: print what they did; bad arguments exit non-zero and change nothing."""
from __future__ import annotations

from sqlalchemy import func, select

from models import AuditEvent, School, User


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def test_schools_add_prints_the_school_and_list_shows_it(app, db_session):
    r = run(
        app,
        "schools",
        "add",
        "--code",
        "3101519999",
        "--name",
        "崇明区绿华镇小学",
        "--type",
        "rural_small",
        "--stage",
        "primary",
    )
    assert r.exit_code == 0, r.output
    assert "added school 3101519999 崇明区绿华镇小学" in r.output
    listed = run(app, "schools", "list")
    assert "3101519999" in listed.output and "no counselor" in listed.output
    assert db_session.scalars(select(School).where(School.code == "3101519999")).one().district is not None


def test_schools_add_refuses_a_duplicate_code(app, factory, db_session):
    factory.school(code="DUP1")
    r = run(app, "schools", "add", "--code", "DUP1", "--name", "x", "--type", "urban", "--stage", "junior")
    assert r.exit_code != 0 and "already used" in r.output
    assert db_session.scalar(select(func.count()).select_from(School).where(School.code == "DUP1")) == 1


def test_schools_add_refuses_an_unknown_type(app):
    r = run(app, "schools", "add", "--code", "Z1", "--name", "x", "--type", "castle", "--stage", "junior")
    assert r.exit_code != 0 and "castle" in r.output


def test_users_add_counselor_with_two_schools(app, factory, db_session):
    a, b = factory.school(code="CA1"), factory.school(code="CB2")
    r = run(app, "users", "add", "--username", "clicoun", "--role", "counselor", "--school", "CA1", "--school", "CB2",
            "--password", "long-enough-1", "--display-name", "王老师", "--operator-approves")
    assert r.exit_code == 0, r.output
    assert "added user clicoun (counselor): schools CA1" in r.output
    user = db_session.scalars(select(User).where(User.username == "clicoun")).one()
    assert {s.id for s in user.schools} == {a.id, b.id} and user.display_name == "王老师"
    assert db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "user.created", AuditEvent.actor.like("cli:%"))
    ).first()
    # the operator's path is recorded as such: one person proposed and approved, audited per school
    granted = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.granted",
                                                          AuditEvent.target == "user:clicoun")).all()
    assert len(granted) == 2 and all('"same_person": true' in e.detail for e in granted)


def test_users_add_without_operator_approval_only_proposes_the_schools(app, factory, db_session):
    factory.school(code="CP1")
    r = run(app, "users", "add", "--username", "clip", "--role", "counselor", "--school", "CP1",
            "--password", "long-enough-1")
    assert r.exit_code == 0, r.output
    assert "1 access proposal(s) pending" in r.output
    user = db_session.scalars(select(User).where(User.username == "clip")).one()
    assert user.schools == []


def test_users_add_head_teacher_by_school_and_class(app, factory, db_session):
    school = factory.school(code="HT1")
    klass = factory.klass(school, grade=7, name="七年级(3)班")
    factory.klass(factory.school(code="HT2"), grade=7, name="七年级(3)班")
    ambiguous = run(
        app,
        "users",
        "add",
        "--username",
        "clit",
        "--role",
        "head_teacher",
        "--class",
        "七年级(3)班",
        "--password",
        "long-enough-1",
        "--operator-approves",
    )
    assert ambiguous.exit_code != 0 and "several schools" in ambiguous.output
    r = run(
        app,
        "users",
        "add",
        "--username",
        "clit",
        "--role",
        "head_teacher",
        "--school",
        "HT1",
        "--class",
        "七年级(3)班",
        "--password",
        "long-enough-1",
        "--operator-approves",
    )
    assert r.exit_code == 0, r.output
    assert db_session.scalars(select(User).where(User.username == "clit")).one().classes == [klass]
    listed = run(app, "users", "list", "--role", "head_teacher")
    assert "clit" in listed.output and "七年级(3)班" in listed.output


def test_users_add_refuses_bad_arguments_with_a_clear_message(app, factory, db_session):
    factory.school(code="OK1")
    factory.user("admin", username="taken")
    cases = [
        (["--username", "u1", "--role", "wizard", "--password", "long-enough-1"], "wizard"),
        (
            ["--username", "u2", "--role", "counselor", "--school", "NOPE", "--password", "long-enough-1"],
            "unknown school",
        ),
        (
            [
                "--username",
                "u3",
                "--role",
                "head_teacher",
                "--school",
                "OK1",
                "--class",
                "九年级(9)班",
                "--password",
                "long-enough-1",
            ],
            "unknown class",
        ),
        (["--username", "taken", "--role", "admin", "--password", "long-enough-1"], "taken"),
        (["--username", "u4", "--role", "counselor", "--password", "long-enough-1"], "at least one school"),
        (["--username", "u5", "--role", "admin", "--password", "short"], "at least 8"),
    ]
    for args, expected in cases:
        r = run(app, "users", "add", *args)
        assert r.exit_code != 0, args
        assert expected in r.output, (args, r.output)
    assert db_session.scalar(select(func.count()).select_from(User).where(User.username.like("u_"))) == 0


def test_users_list_on_an_empty_installation_says_what_to_do(app):
    r = run(app, "users", "list")
    assert r.exit_code == 0 and "flask users add" in r.output
