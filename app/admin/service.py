"""Setting up the installation: schools, classes, users and their scope. Services flush, never commit.

Every change writes an audit event. Role and scope changes and disabling an account also end that user's
sessions (the session version is bumped), so a changed permission takes effect at once.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Actor, City, District, School, SchoolClass, User, append_event
from models.roster import ROLES, SCHOOL_STAGES, SCHOOL_TYPES

SCHOOL_YEAR_RE = re.compile(r"^(\d{4})-(\d{4})$")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,32}$")
MIN_PASSWORD = 8


def _(message: str, **values: object) -> str:
    """Translated in a request (the user's language); plain English in the CLI, which has no locale."""
    if has_request_context():
        return gettext(message, **values)
    return message % values if values else message


class AdminError(ValueError):
    """A request the data does not allow; `field` names the form field to show it beside."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(str(message))
        self.field = field


# -- district ------------------------------------------------------------------------------------------------
def the_district(db: Session, code: str | None = None, name: str | None = None) -> District:
    """The installation's district; created on first use (a fresh install set up from the CLI)."""
    district = db.scalars(select(District).order_by(District.id)).first()
    if district is None:
        district = District(code=code or "000000", name=name or "本区")
        db.add(district)
        db.flush()
    return district


# -- cities (市教委) ---------------------------------------------------------------------------------------
def list_cities(db: Session) -> list[City]:
    return list(db.scalars(select(City).order_by(City.code)))


def list_districts(db: Session) -> list[District]:
    return list(db.scalars(select(District).order_by(District.code)))


def create_city(db: Session, actor: Actor, code: str, name: str) -> City:
    """A city education commission whose officers compare the figures of its districts; audited."""
    code, name = (code or "").strip(), (name or "").strip()
    if not CODE_RE.match(code):
        raise AdminError(_("A city code is 1-32 letters, digits, '-' or '_'."), "code")
    if not name or len(name) > 100:
        raise AdminError(_("A city needs a name of at most 100 characters."), "name")
    if db.scalars(select(City).where(City.code == code)).first() is not None:
        raise AdminError(_("The city code %(code)s is taken.", code=code), "code")
    city = City(code=code, name=name)
    db.add(city)
    db.flush()
    append_event(db, actor, "city.created", target=f"city:{city.id}", detail={"code": code, "name": name})
    return city


def create_district(db: Session, actor: Actor, code: str, name: str, city: City | None) -> District:
    """Another district of the installation (a city runs several on one database); audited."""
    code, name = (code or "").strip(), (name or "").strip()
    if not CODE_RE.match(code):
        raise AdminError(_("A district code is 1-32 letters, digits, '-' or '_'."), "code")
    if not name or len(name) > 100:
        raise AdminError(_("A district needs a name of at most 100 characters."), "name")
    if db.scalars(select(District).where(District.code == code)).first() is not None:
        raise AdminError(_("The district code %(code)s is taken.", code=code), "code")
    district = District(code=code, name=name, city_id=city.id if city is not None else None)
    db.add(district)
    db.flush()
    append_event(db, actor, "district.created", target=f"district:{district.id}",
                 detail={"code": code, "name": name, "city": district.city_id})
    return district


def assign_district(db: Session, actor: Actor, district: District, city: City | None) -> None:
    """Put a district in a city (or in none); its officers' figures then show on that city's dashboard."""
    before = district.city_id
    district.city_id = city.id if city is not None else None
    if before != district.city_id:
        db.flush()
        append_event(db, actor, "city.district_assigned", target=f"district:{district.id}",
                     detail={"from": before, "to": district.city_id})


def set_district(db: Session, actor: Actor, code: str, name: str) -> District:
    """Give the installation's district its code and name (created when none exists yet); audited."""
    code, name = (code or "").strip(), (name or "").strip()
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,32}", code):
        raise AdminError(_("A district code is 1-32 letters, digits, '-' or '_'."), "code")
    if not name or len(name) > 100:
        raise AdminError(_("A district needs a name of at most 100 characters."), "name")
    district = the_district(db, code, name)
    before = {"code": district.code, "name": district.name}
    district.code, district.name = code, name
    db.flush()
    append_event(db, actor, "district.set", target=f"district:{district.id}",
                 detail={"before": before, "after": {"code": code, "name": name}})
    return district


# -- schools ---------------------------------------------------------------------------------------------------
def _check_school(db: Session, code: str, name: str, type: str, stage: str, school: School | None = None) -> None:
    if not code or not re.fullmatch(r"[A-Za-z0-9_\-]{1,32}", code):
        raise AdminError(_("A school code is 1-32 letters, digits, '-' or '_'."), "code")
    if not name.strip():
        raise AdminError(_("A school needs a name."), "name")
    if type not in SCHOOL_TYPES:
        raise AdminError(
            _("Unknown school type %(value)s; use one of %(choices)s.", value=type, choices=", ".join(SCHOOL_TYPES)),
            "type",
        )
    if stage not in SCHOOL_STAGES:
        raise AdminError(
            _("Unknown stage %(value)s; use one of %(choices)s.", value=stage, choices=", ".join(SCHOOL_STAGES)),
            "stage",
        )
    clash = db.scalars(select(School).where(School.code == code)).first()
    if clash is not None and clash is not school:
        raise AdminError(_("School code %(code)s is already used by %(name)s.", code=code, name=clash.name), "code")


def create_school(db: Session, actor: Actor, *, code: str, name: str, type: str, stage: str) -> School:
    code, name = code.strip(), name.strip()
    _check_school(db, code, name, type, stage)
    school = School(district=the_district(db), code=code, name=name, type=type, stage=stage)
    db.add(school)
    db.flush()
    append_event(db, actor, "school.created", target=f"school:{code}", detail={"type": type, "stage": stage})
    return school


def update_school(
    db: Session, actor: Actor, school: School, *, code: str, name: str, type: str, stage: str
) -> list[str]:
    code, name = code.strip(), name.strip()
    _check_school(db, code, name, type, stage, school)
    if stage != school.stage:
        grades = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10)}[stage]
        if any(c.grade not in grades for c in school.classes):
            raise AdminError(_("The school has classes in grades that stage does not include."), "stage")
    values = {"code": code, "name": name, "type": type, "stage": stage}
    changed = [f for f, v in values.items() if getattr(school, f) != v]
    for f in changed:
        setattr(school, f, values[f])
    if changed:
        db.flush()
        append_event(db, actor, "school.updated", target=f"school:{school.code}", detail={"fields": changed})
    return changed


def school_by_code(db: Session, code: str) -> School | None:
    return db.scalars(select(School).where(School.code == code.strip())).first()


# -- classes ---------------------------------------------------------------------------------------------------
def _check_class(
    db: Session, school: School, grade: int, name: str, school_year: str, klass: SchoolClass | None = None
) -> None:
    if grade not in school.grades:
        raise AdminError(_("Grade %(grade)s is not taught at this school.", grade=grade), "grade")
    if not name.strip():
        raise AdminError(_("A class needs a name."), "name")
    m = SCHOOL_YEAR_RE.match(school_year)
    if not m or int(m.group(2)) != int(m.group(1)) + 1:
        raise AdminError(_("A school year looks like 2026-2027."), "school_year")
    clash = db.scalars(
        select(SchoolClass).where(
            SchoolClass.school_id == school.id, SchoolClass.school_year == school_year, SchoolClass.name == name.strip()
        )
    ).first()
    if clash is not None and clash is not klass:
        raise AdminError(
            _("%(school)s already has a class %(name)s in %(year)s.", school=school.name, name=name, year=school_year),
            "name",
        )


def create_class(db: Session, actor: Actor, school: School, *, grade: int, name: str, school_year: str) -> SchoolClass:
    _check_class(db, school, grade, name, school_year)
    klass = SchoolClass(school=school, grade=grade, name=name.strip(), school_year=school_year)
    db.add(klass)
    db.flush()
    append_event(
        db,
        actor,
        "class.created",
        target=f"class:{klass.id}",
        detail={"school": school.code, "name": klass.name, "year": school_year},
    )
    return klass


def update_class(
    db: Session, actor: Actor, klass: SchoolClass, *, grade: int, name: str, school_year: str
) -> list[str]:
    _check_class(db, klass.school, grade, name, school_year, klass)
    changed = [
        f for f, v in (("grade", grade), ("name", name.strip()), ("school_year", school_year)) if getattr(klass, f) != v
    ]
    klass.grade, klass.name, klass.school_year = grade, name.strip(), school_year
    if changed:
        db.flush()
        append_event(db, actor, "class.updated", target=f"class:{klass.id}", detail={"fields": changed})
    return changed


def find_class(
    db: Session, name: str, school: School | None = None, school_year: str | None = None
) -> list[SchoolClass]:
    stmt = select(SchoolClass).where(SchoolClass.name == name.strip())
    if school is not None:
        stmt = stmt.where(SchoolClass.school_id == school.id)
    if school_year:
        stmt = stmt.where(SchoolClass.school_year == school_year)
    return list(db.scalars(stmt.order_by(SchoolClass.school_year.desc())))


# -- users -----------------------------------------------------------------------------------------------------
@dataclass
class Access:
    role: str
    schools: Sequence[School] = ()
    classes: Sequence[SchoolClass] = ()
    active: bool = True
    city: City | None = None  # a city officer's city (role "city")


@dataclass
class AccessChange:
    events: list[str] = field(default_factory=list)


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise AdminError(_("A password needs at least %(n)s characters.", n=MIN_PASSWORD), "password")


def _check_access(access: Access) -> None:
    if access.role not in ROLES:
        raise AdminError(
            _("Unknown role %(value)s; use one of %(choices)s.", value=access.role, choices=", ".join(ROLES)), "role"
        )
    if access.role == "counselor" and not access.schools:
        raise AdminError(_("A counselor needs at least one school."), "schools")
    if access.role == "head_teacher" and not access.classes:
        raise AdminError(_("A head teacher needs at least one class."), "classes")
    if access.role == "school_leader" and len(set(access.schools)) != 1:
        raise AdminError(_("A school leader belongs to exactly one school."), "schools")
    if access.role == "city" and access.city is None:
        raise AdminError(_("A city officer needs a city."), "city")


def _scope_for(access: Access) -> tuple[list[School], list[SchoolClass]]:
    """Counselors and school leaders carry schools, head teachers classes; other roles carry none.

    A school leader's one school is the same user-school link as a counselor's (`User.schools`), but it opens no
    student (`Student.visible_to` gives the role none): it says whose aggregate figures they see. So it is set at
    once, audited, without the second person that clinical access takes (app/admin/grants.py)."""
    schools = list(dict.fromkeys(access.schools)) if access.role in ("counselor", "school_leader") else []
    classes = list(dict.fromkeys(access.classes)) if access.role == "head_teacher" else []
    return schools, classes


def user_by_username(db: Session, username: str) -> User | None:
    return db.scalars(select(User).where(func.lower(User.username) == username.strip().lower())).first()


def create_user(
    db: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    access: Access,
    display_name: str | None = None,
    email: str | None = None,
    full_time: bool = True,
    operator_approves: bool = False,
) -> User:
    from app.auth.service import hash_password

    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AdminError(_("A username is 2-64 letters, digits, '.', '-' or '_'."), "username")
    if user_by_username(db, username) is not None:
        raise AdminError(_("The username %(name)s is taken.", name=username), "username")
    _check_access(access)
    _check_password(password)
    schools, classes = _scope_for(access)
    user = User(
        username=username,
        display_name=(display_name or "").strip() or username,
        password_hash=hash_password(password),
        role=access.role,
        active=access.active,
        email=(email or "").strip() or None,
        district_id=the_district(db).id,
        city_id=access.city.id if access.role == "city" and access.city is not None else None,
        full_time=full_time,
    )
    db.add(user)
    db.flush()
    append_event(
        db,
        actor,
        "user.created",
        target=f"user:{username}",
        detail={"role": access.role, "schools": [s.code for s in schools], "classes": [c.id for c in classes],
                **({"city": user.city_id} if user.city_id else {})},
    )
    if access.role == "school_leader":
        user.schools = schools  # aggregate figures of one school, not clinical access: no grant (see _scope_for)
        db.flush()
        return user
    # Clinical access takes a second person (app/admin/grants.py): the schools and classes are proposed, and
    # open only when a district officer or the school's counselor approves (or, for the seed and an operator's
    # explicit choice, recorded as approved by the one actor).
    _grant_all(db, actor, user, schools, classes, operator_approves)
    return user


def _grant_all(db: Session, actor: Actor, user: User, schools: Sequence[School], classes: Sequence[SchoolClass],
               operator_approves: bool) -> None:
    from . import grants

    for school in schools:
        if operator_approves:
            grants.record_approved(db, actor, user, school=school, reason="operator")
        else:
            grants.propose(db, actor, user, school=school)
    for klass in classes:
        if operator_approves:
            grants.record_approved(db, actor, user, klass=klass, reason="operator")
        else:
            grants.propose(db, actor, user, klass=klass)


def update_profile(
    db: Session, actor: Actor, user: User, *, display_name: str, email: str | None, full_time: bool
) -> list[str]:
    values = {
        "display_name": display_name.strip() or user.username,
        "email": (email or "").strip() or None,
        "full_time": full_time,
    }
    changed = [k for k, v in values.items() if getattr(user, k) != v]
    for k in changed:
        setattr(user, k, values[k])
    if changed:
        db.flush()
        append_event(db, actor, "user.updated", target=f"user:{user.username}", detail={"fields": changed})
    return changed


def change_access(db: Session, actor: Actor, user: User, access: Access) -> list[str]:
    """Change role, scope and the active flag; each kind of change is its own audit event. Returns the actions."""
    _check_access(access)
    if actor.user_id == user.id and (access.role != "admin" or not access.active):
        raise AdminError(_("You cannot remove your own administrator access."), "role")
    actions: list[str] = []
    schools, classes = _scope_for(access)
    old_role = user.role
    # Between a school leader and any other role the school link changes meaning (figures / clinical access): the
    # old link is removed and the new one made afresh, so a leader's school never becomes a counselor's without
    # the second person a grant takes.
    relinked = access.role != old_role and "school_leader" in (access.role, old_role)
    if access.role != user.role:
        append_event(
            db,
            actor,
            "user.role_changed",
            target=f"user:{user.username}",
            detail={"from": user.role, "to": access.role},
        )
        user.role = access.role
        actions.append("user.role_changed")
    new_city = access.city.id if access.role == "city" and access.city is not None else None
    if new_city != user.city_id:
        append_event(db, actor, "user.city_changed", target=f"user:{user.username}",
                     detail={"from": user.city_id, "to": new_city})
        user.city_id = new_city
        actions.append("user.city_changed")
    old_scope = ({s.code for s in user.schools}, {c.id for c in user.classes})
    new_scope = ({s.code for s in schools}, {c.id for c in classes})
    if old_scope != new_scope or (relinked and old_scope[0]):
        from . import grants

        kept_schools = set() if relinked else old_scope[0] & new_scope[0]
        append_event(
            db,
            actor,
            "user.scope_changed",
            target=f"user:{user.username}",
            detail={
                "schools": sorted(new_scope[0]),
                "classes": sorted(new_scope[1]),
                "removed_schools": sorted(old_scope[0] - kept_schools),
                "removed_classes": sorted(old_scope[1] - new_scope[1]),
            },
        )
        # removing access is immediate; adding it is a proposal a second person approves (app/admin/grants.py)
        for school in [s for s in user.schools if s.code not in kept_schools]:
            if old_role == "school_leader":
                user.schools = [s for s in user.schools if s.id != school.id]  # figures only: no grant to revoke
                db.flush()  # gone before a counselor's grant for the same school is proposed
            else:
                grants.revoke(db, actor, user, school=school)
        for klass in [c for c in user.classes if c.id not in new_scope[1]]:
            grants.revoke(db, actor, user, klass=klass)
        added = [s for s in schools if s.code not in kept_schools]
        if access.role == "school_leader":
            user.schools = [*user.schools, *added]
            added = []
        _grant_all(db, actor, user, added, [c for c in classes if c.id not in old_scope[1]], operator_approves=False)
        actions.append("user.scope_changed")
    if access.active != user.active:
        action = "user.enabled" if access.active else "user.disabled"
        append_event(db, actor, action, target=f"user:{user.username}")
        user.active = access.active
        actions.append(action)
    if actions:
        user.session_version = (user.session_version or 1) + 1  # the old permissions die with the old sessions
        db.flush()
    return actions


def reset_password(db: Session, actor: Actor, user: User, password: str) -> None:
    from app.auth.service import hash_password

    _check_password(password)
    user.password_hash = hash_password(password)
    user.session_version = (user.session_version or 1) + 1
    db.flush()
    append_event(db, actor, "user.password_reset", target=f"user:{user.username}")


def list_users(db: Session, role: str | None = None) -> list[User]:
    stmt = select(User).order_by(User.role, User.username)
    if role:
        stmt = stmt.where(User.role == role)
    return list(db.scalars(stmt))


def schools_with_counts(db: Session) -> list[tuple[School, int, int, list[User]]]:
    """Each school with its class count, enrolled-student count and counselors (aggregates only)."""
    from models import Student
    from models.roster import counselor_schools

    schools = list(db.scalars(select(School).order_by(School.code)))
    classes = dict(
        db.execute(select(SchoolClass.school_id, func.count()).group_by(SchoolClass.school_id)).tuples().all()
    )
    students = dict(
        db.execute(
            select(Student.school_id, func.count()).where(Student.status == "enrolled").group_by(Student.school_id)
        ).tuples().all()
    )
    counselors: dict[int, list[User]] = {}
    rows = db.execute(
        select(counselor_schools.c.school_id, User)
        .join(User, User.id == counselor_schools.c.user_id)
        .where(User.active.is_(True), User.role == "counselor")
        .order_by(User.username)
    ).all()
    for school_id, user in rows:
        counselors.setdefault(school_id, []).append(user)
    return [(s, classes.get(s.id, 0), students.get(s.id, 0), counselors.get(s.id, [])) for s in schools]


def all_classes(db: Session, school_year: str | None = None) -> list[SchoolClass]:
    stmt = (
        select(SchoolClass)
        .join(School)
        .order_by(School.code, SchoolClass.school_year.desc(), SchoolClass.grade, SchoolClass.name)
    )
    if school_year:
        stmt = stmt.where(SchoolClass.school_year == school_year)
    return list(db.scalars(stmt))


def ids_to(db: Session, model: type[Any], ids: Iterable[int]) -> list[Any]:
    ids = list(ids)
    if not ids:
        return []
    return list(db.scalars(select(model).where(model.id.in_(ids))))
