"""`flask schools add|list` and `flask users add|list`: setting up an installation from the command line.

Each command prints what it did; a bad argument (unknown role, school or class, a duplicate code or username)
exits non-zero with a clear message and changes nothing (one transaction per command).
"""
from __future__ import annotations

import os
from typing import NoReturn

import click
from flask.cli import AppGroup

from app.cli import operator_actor
from models import School
from models.roster import ROLES, SCHOOL_STAGES, SCHOOL_TYPES

from . import service

schools_cli = AppGroup("schools", help="Schools of the district.")
users_cli = AppGroup("users", help="User accounts.")
district_cli = AppGroup("district", help="The installation's district.")
city_cli = AppGroup("city", help="Cities (市教委) and the districts in them.")
PASSWORD_ENV = "XINMIAO_USER_PASSWORD"



def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    raise SystemExit(2)


@district_cli.command("set")
@click.option("--code", required=True, help="District code, e.g. 310151.")
@click.option("--name", required=True, help="District name, e.g. 崇明区.")
def district_set(code: str, name: str) -> None:
    """Set the district's code and name (the first step of a new installation)."""
    from app.db import db

    with db.transaction() as session:
        try:
            district = service.set_district(session, operator_actor(), code, name)
        except service.AdminError as exc:
            session.rollback()
            _fail(str(exc))
        click.echo(f"district {district.code} {district.name}")


@city_cli.command("add")
@click.option("--code", required=True, help="City code, e.g. 3100.")
@click.option("--name", required=True, help="City name, e.g. 上海市.")
def city_add(code: str, name: str) -> None:
    """Add a city education commission (its officers compare the figures of its districts)."""
    from app.db import db

    with db.transaction() as session:
        try:
            city = service.create_city(session, operator_actor(), code, name)
        except service.AdminError as exc:
            session.rollback()
            _fail(str(exc))
        click.echo(f"city {city.code} {city.name}")


@city_cli.command("district")
@click.option("--city", "city_code", required=True, help="The city's code.")
@click.option("--code", required=True, help="The district's code (created when new).")
@click.option("--name", default=None, help="The district's name (needed when the district is new).")
def city_district(city_code: str, code: str, name: str | None) -> None:
    """Put a district in a city; a district not yet known is created (with --name)."""
    from sqlalchemy import select

    from app.db import db
    from models import City, District

    with db.transaction() as session:
        city = session.scalars(select(City).where(City.code == city_code)).first()
        if city is None:
            _fail(f"unknown city code {city_code!r}")
        district = session.scalars(select(District).where(District.code == code)).first()
        try:
            if district is None:
                if not name:
                    _fail(f"district {code!r} is new: give its --name")
                district = service.create_district(session, operator_actor(), code, name, city)
            else:
                service.assign_district(session, operator_actor(), district, city)
        except service.AdminError as exc:
            session.rollback()
            _fail(str(exc))
        click.echo(f"district {district.code} {district.name} in city {city.code} {city.name}")


def read_password(password: str | None, password_file: str | None, what: str = "Password") -> str:
    """--password (scripts; visible in the process list), else --password-file (first line), else the
    XINMIAO_USER_PASSWORD environment variable, else a hidden prompt asked twice."""
    if password is not None and password_file is not None:
        _fail("give --password or --password-file, not both")
    if password_file is not None:
        try:
            with open(password_file, encoding="utf-8") as fh:
                value = fh.readline().rstrip("\r\n")
        except OSError as exc:
            _fail(f"cannot read --password-file {password_file}: {exc.strerror}")
        if not value:
            _fail(f"--password-file {password_file} is empty")
        return value
    if password is not None:
        return password
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    value = click.prompt(what, hide_input=True, confirmation_prompt=True)
    return str(value)


@schools_cli.command("add")
@click.option("--code", required=True, help="School code, e.g. 3101510013.")
@click.option("--name", required=True, help="School name, e.g. 崇明区城桥中学.")
@click.option("--type", "type_", required=True, type=click.Choice(SCHOOL_TYPES), help="School type.")
@click.option("--stage", required=True, type=click.Choice(SCHOOL_STAGES), help="Grades taught.")
def schools_add(code: str, name: str, type_: str, stage: str) -> None:
    """Add a school."""
    from app.db import db

    with db.transaction() as session:
        try:
            school = service.create_school(session, operator_actor(), code=code, name=name, type=type_, stage=stage)
        except service.AdminError as exc:
            session.rollback()
            _fail(str(exc))
        click.echo(f"added school {school.code} {school.name} ({school.type}, {school.stage})")


@schools_cli.command("list")
def schools_list() -> None:
    """List the schools with their class and student counts."""
    from app.db import db

    with db.transaction() as session:
        rows = service.schools_with_counts(session)
    if not rows:
        click.echo("no schools yet: add one with `flask schools add --code --name --type --stage`")
        return
    for school, n_classes, n_students, counselors in rows:
        staff = ", ".join(u.username + ("" if u.full_time else " (part-time)") for u in counselors) or "no counselor"
        click.echo(
            f"{school.code:<12} {school.name}  {school.type}/{school.stage}  "
            f"{n_classes} classes, {n_students} students; counselors: {staff}"
        )


@users_cli.command("add")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES),
              help="admin, district, counselor, head_teacher, school_leader or city.")
@click.option("--city", "city_code", default=None, help="City code (a city officer, --role city).")
@click.option("--school", "school_codes", multiple=True, help="School code (counselor; repeat for several; "
              "a school leader's one school; for a head teacher, the school of --class).")
@click.option("--class", "class_names", multiple=True, help="Class name, e.g. 七年级(3)班 (head teacher; repeatable).")
@click.option("--year", "school_year", default=None, help="School year of --class (default: the most recent).")
@click.option("--password", default=None, help="Initial password (at least 8 characters). Seen by anyone who "
              "can list processes: prefer the prompt, --password-file or XINMIAO_USER_PASSWORD.")
@click.option("--password-file", default=None, type=click.Path(dir_okay=False),
              help="Read the initial password from the first line of this file.")
@click.option("--display-name", default=None, help="Name shown in the interface (default: the username).")
@click.option("--email", default=None)
@click.option("--part-time", is_flag=True, help="A counselor who is not a full-time mental-health teacher.")
@click.option("--operator-approves", is_flag=True,
              help="Grant the schools/classes at once, the operator recorded (and audited) as proposer and approver "
                   "(setting up an installation); without it they are proposals a district officer or the school's "
                   "counselor approves on Access grants.")
def users_add(
    username: str,
    role: str,
    school_codes: tuple[str, ...],
    class_names: tuple[str, ...],
    school_year: str | None,
    password: str | None,
    password_file: str | None,
    display_name: str | None,
    email: str | None,
    part_time: bool,
    operator_approves: bool,
    city_code: str | None,
) -> None:
    """Add a user with a role and, for counselors, school leaders and head teachers, their scope.

    The password is asked for (hidden, twice) unless --password, --password-file or XINMIAO_USER_PASSWORD gives it."""
    from app.db import db

    password = read_password(password, password_file)

    with db.transaction() as session:
        city = None
        if city_code is not None:
            from sqlalchemy import select

            from models import City

            if role != "city":
                _fail("--city is only for --role city")
            city = session.scalars(select(City).where(City.code == city_code)).first()
            if city is None:
                _fail(f"unknown city code {city_code!r} (see `flask city add`)")
        schools = []
        for code in school_codes:
            school = service.school_by_code(session, code)
            if school is None:
                _fail(f"unknown school code {code!r} (see `flask schools list`)")
            schools.append(school)
        classes = []
        if class_names and role != "head_teacher":
            _fail("--class is only for --role head_teacher")
        if role not in ("counselor", "head_teacher", "school_leader") and schools:
            _fail(f"--school is only for counselors, school leaders and head teachers, not {role}")
        for name in class_names:
            found = []
            within: list[School | None] = list(schools) or [None]  # no --school: any school
            for school in within:
                found += service.find_class(session, name, school, school_year)
            if school_year is None and found:
                latest = found[0].school_year
                found = [c for c in found if c.school_year == latest]
            if not found:
                where = f" at {', '.join(s.code for s in schools)}" if schools else ""
                _fail(f"unknown class {name!r}{where}")
            if len(found) > 1:
                _fail(
                    f"class {name!r} exists at several schools ({', '.join(c.school.code for c in found)}): "
                    "add --school"
                )
            classes.append(found[0])
        try:
            user = service.create_user(
                session,
                operator_actor(),
                username=username,
                password=password,
                access=service.Access(role=role, schools=schools, classes=classes, city=city),
                display_name=display_name,
                email=email,
                full_time=not part_time,
                operator_approves=operator_approves,
            )
        except service.AdminError as exc:
            session.rollback()
            _fail(str(exc))
        click.echo(f"added user {user.username} ({user.role}){_scope(user)}")
        from .grants import pending_for_user

        pending = pending_for_user(session, user)
        if pending:
            click.echo(f"{len(pending)} access proposal(s) pending: a district officer or the school's counselor "
                       "approves them on /admin/access-grants (or use --operator-approves)")


def _scope(user) -> str:
    if user.role in ("counselor", "school_leader"):
        return ": schools " + ", ".join(f"{s.code} {s.name}" for s in user.schools)
    if user.role == "head_teacher":
        return ": classes " + ", ".join(f"{c.school.name} {c.name} ({c.school_year})" for c in user.classes)
    return ""


@users_cli.command("list")
@click.option("--role", type=click.Choice(ROLES), default=None)
def users_list(role: str | None) -> None:
    """List user accounts with role, state and scope."""
    from app.db import db

    with db.transaction() as session:
        users = service.list_users(session, role)
        if not users:
            click.echo("no users yet: add one with `flask users add`")
            return
        for user in users:
            state = "active" if user.active else "disabled"
            click.echo(f"{user.username:<16} {user.role:<13} {state:<8} {user.display_name}{_scope(user)}")
