"""Demo step 10: the district, its schools, classes, students (identity sealed) and the demo users.

Everything is drawn from `ctx.rng`, so a given seed gives the same district. Later steps find what this one made
in `ctx.data`: "district", "schools" (list), "schools_by_code", "classes" (list), "students" (list),
"users" (by username), "school_year", "counselor_schools", "teacher_class".
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Actor, District, School, SchoolClass, Screening, Student, User, append_event

from . import DemoContext, names

DISTRICT_CODE = "310151"
DISTRICT_NAME = "崇明区"

GRADE_WORDS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九"}


@dataclass(frozen=True)
class SchoolPlan:
    code: str
    name: str
    type: str
    stage: str
    classes_per_grade: int
    class_size: int
    counselor: tuple[str, str, bool] | None  # (username, display name, full time) or None (a staffing gap)


# About 1,500 students. Two "two-type" schools have no full-time counselor: 三星镇小学 has none at all and
# 建设镇中学 only a part-time one, so the district's staffing page shows the gap the plan asks to close.
SCHOOLS: tuple[SchoolPlan, ...] = (
    SchoolPlan("3101510001", "崇明区城桥中学", "urban", "junior", 2, 34, ("counselor", "李心怡", True)),
    SchoolPlan("3101510002", "崇明区实验小学", "urban", "primary", 1, 33, ("zhoujing", "周静", True)),
    SchoolPlan("3101510003", "崇明区东门中学", "urban", "junior", 2, 30, ("wuhaiyan", "吴海燕", True)),
    SchoolPlan("3101510004", "崇明区港西中学", "township_boarding", "junior", 2, 28, ("counselor", "李心怡", True)),
    SchoolPlan("3101510005", "崇明区堡镇中学", "township_boarding", "junior", 1, 32, ("shenli", "沈莉", True)),
    SchoolPlan("3101510006", "崇明区新河镇学校", "township_boarding", "nine_year", 1, 22, ("guhua", "顾华", True)),
    SchoolPlan("3101510007", "崇明区建设镇中学", "township_boarding", "junior", 1, 26, ("shimin", "施敏", False)),
    SchoolPlan("3101510008", "崇明区竖新镇小学", "rural_small", "primary", 1, 12, ("chenyan", "陈燕", True)),
    SchoolPlan("3101510009", "崇明区三星镇小学", "rural_small", "primary", 1, 9, None),
    SchoolPlan("3101510010", "崇明区向化镇学校", "rural_small", "nine_year", 1, 11, ("huangting", "黄婷", True)),
    SchoolPlan("3101510011", "崇明区庙镇小学", "rural_small", "primary", 1, 14, ("caoyun", "曹云", True)),
    SchoolPlan("3101510012", "崇明区启智学校", "other", "nine_year", 1, 8, ("lujun", "陆军", True)),
)
TEACHER_SCHOOL, TEACHER_CLASS = "3101510004", "七年级(1)班"

# Probability of each care group by school type (left-behind children concentrate in rural and township
# schools, migrant children in urban and township schools; every township-boarding pupil may board).
CARE_RATES: dict[str, dict[str, float]] = {
    "urban": {"left_behind": 0.04, "migrant": 0.17, "hardship": 0.04},
    "rural_small": {"left_behind": 0.28, "migrant": 0.03, "hardship": 0.07},
    "township_boarding": {"left_behind": 0.22, "migrant": 0.12, "hardship": 0.06, "boarding": 0.75},
    "other": {"left_behind": 0.10, "migrant": 0.05, "hardship": 0.10, "boarding": 0.3},
}

STAFF: tuple[tuple[str, str, str], ...] = (
    ("admin", "系统管理员", "admin"),
    ("district", "陈建华（区教育局）", "district"),
    ("teacher", "赵春梅", "head_teacher"),
)


def school_year_for(today: date) -> str:
    start = today.year if today.month >= 9 else today.year - 1
    return f"{start}-{start + 1}"


def class_name(grade: int, number: int) -> str:
    return f"{GRADE_WORDS[grade]}年级({number})班"


def _uuid(ctx: DemoContext) -> str:
    return str(uuid.UUID(int=ctx.rng.getrandbits(128), version=4))


def _birth(ctx: DemoContext, grade: int, year_start: int) -> date:
    """Born between September and the next August, so the pupil starts grade 1 at six."""
    born_from = year_start - grade - 6  # grade 7 in 2026-2027: born Sep 2013 .. Aug 2014
    month = ctx.rng.randint(1, 12)
    year = born_from if month >= 9 else born_from + 1
    if ctx.rng.random() < 0.04:  # a few started a year late or repeated a grade
        year -= 1
    return date(year, month, ctx.rng.randint(1, 28))


def _guardians(ctx: DemoContext, family: str, groups: set[str]) -> list[dict[str, str]]:
    rng = ctx.rng
    if "left_behind" in groups:  # parents work away: a grandparent looks after the child
        carer = rng.choice([("祖父", "M"), ("祖母", "F"), ("外祖母", "F"), ("外祖父", "M")])
        carer_family = family if carer[0] in ("祖父", "祖母") else names.surname(rng)
        out = [
            {"name": names.adult_name(rng, carer[1], carer_family), "relation": carer[0], "phone": names.mobile(rng)}
        ]
        out.append(
            {"name": names.adult_name(rng, "M", family), "relation": "父亲（外出务工）", "phone": names.mobile(rng)}
        )
        return out
    father = {"name": names.adult_name(rng, "M", family), "relation": "父亲", "phone": names.mobile(rng)}
    mother = {"name": names.adult_name(rng, "F"), "relation": "母亲", "phone": names.mobile(rng)}
    return [mother, father] if rng.random() < 0.6 else [father, mother]


def _plan_of(ctx: DemoContext) -> dict[str, SchoolPlan]:
    return {plan.code: plan for plan in SCHOOLS}


def _add_classes(ctx: DemoContext, schools: list[School], year: str) -> list[SchoolClass]:
    plans = _plan_of(ctx)
    classes: list[SchoolClass] = []
    for school in schools:
        for grade in school.grades:
            for number in range(1, plans[school.code].classes_per_grade + 1):
                klass = SchoolClass(school=school, grade=grade, name=class_name(grade, number), school_year=year)
                ctx.session.add(klass)
                classes.append(klass)
    ctx.session.flush()
    return classes


def _new_students(ctx: DemoContext, classes: list[SchoolClass], year_start: int) -> list[Student]:
    """A class's worth of invented pupils for each class given (identity sealed, care groups drawn by school type)."""
    rng = ctx.rng
    plans = _plan_of(ctx)
    students: list[Student] = []
    for klass in classes:
        plan = plans[klass.school.code]
        size = max(5, plan.class_size + rng.randint(-3, 3))
        rates = CARE_RATES[plan.type]
        for _ in range(size):
            seq = ctx.data["student_seq"] = ctx.data.get("student_seq", 0) + 1
            gender = "M" if rng.random() < 0.52 else "F"
            born = _birth(ctx, klass.grade, year_start)
            family = names.surname(rng)
            groups = {g for g, p in rates.items() if rng.random() < p}
            if "boarding" in groups and klass.grade < 4 and plan.type != "other":
                groups.discard("boarding")  # the youngest pupils go home every day
            student = Student(
                public_id=_uuid(ctx),
                school_id=klass.school_id,
                class_id=klass.id,
                grade=klass.grade,
                gender=gender,
                birth_ym=f"{born.year:04d}-{born.month:02d}",
                status="enrolled",
            )
            ctx.vault.seal_identity(
                student,
                name=names.child_name(rng, gender, family),
                student_number=f"G{DISTRICT_CODE}{born:%Y%m%d}{seq:04d}",  # e.g. G310151201305120034
                guardians=_guardians(ctx, family, groups),
            )
            student.set_care_groups(groups)
            students.append(student)
    ctx.session.add_all(students)
    ctx.session.flush()
    return students


def seed_roster(ctx: DemoContext) -> str:
    """The district as it was on 1 September of the history's first school year (the current one without
    history); `roster_term` moves it on, year by year, to today's."""
    s: Session = ctx.session
    year = ctx.terms[0].school_year if ctx.terms else school_year_for(ctx.today)

    district = District(code=DISTRICT_CODE, name=DISTRICT_NAME)
    s.add(district)
    schools: list[School] = []
    for plan in SCHOOLS:
        school = School(district=district, code=plan.code, name=plan.name, type=plan.type, stage=plan.stage)
        s.add(school)
        schools.append(school)
    s.flush()
    classes = _add_classes(ctx, schools, year)
    students = _new_students(ctx, classes, int(year[:4]))

    final_year = ctx.terms[-1].school_year if ctx.terms else year
    users = _users(ctx, district, schools, classes, teacher_now=final_year == year)
    by_code = {school.code: school for school in schools}
    ctx.data.update(
        district=district,
        schools=schools,
        schools_by_code=by_code,
        classes=classes,
        students=students,
        users=users,
        school_year=year,
        counselor_schools=list(users["counselor"].schools),
        teacher_class=ctx.data.get("teacher_class"),
        moved=[],
    )
    groups_count: dict[str, int] = {}
    for st in students:
        for g in st.care_groups:
            groups_count[g] = groups_count.get(g, 0) + 1
    care = ", ".join(f"{g} {n}" for g, n in sorted(groups_count.items()))
    return (
        f"district {DISTRICT_NAME} ({DISTRICT_CODE}): {len(schools)} schools, {len(classes)} classes ({year}), "
        f"{len(students)} students (care groups: {care}), {len(users)} users"
    )


def roster_term(ctx: DemoContext) -> str:
    """Per term (order 15): at a new school year, the new year's classes, everyone up a grade, the top grade
    graduated and a new first grade; then a few students move to another school of the district (the transfer
    service, by the sending school's counselor, between terms)."""
    term = ctx.term
    assert term is not None
    parts = []
    if term.school_year != ctx.data["school_year"]:
        parts.append(_new_school_year(ctx, term.school_year))
    if term is not ctx.terms[0]:
        parts.append(_move_some(ctx, term))
    return "roster: " + ("; ".join(parts) or "unchanged")


def _new_school_year(ctx: DemoContext, year: str) -> str:
    """1 September of `year`: what the school year's roster import does (app/roster_import), in bulk."""
    from . import at, school_moment

    s = ctx.session
    start = int(year[:4])
    with at(ctx, school_moment(date(start, 9, 1), 8, 0)):
        schools: list[School] = ctx.data["schools"]
        classes = _add_classes(ctx, schools, year)
        by_slot = {(c.school_id, c.grade, c.name[-3:]): c for c in classes}  # "(1)班"
        old = {c.id: c for c in ctx.data["classes"]}
        promoted = graduated = 0
        for st in s.scalars(select(Student).where(Student.status == "enrolled").order_by(Student.id)):
            before = old.get(st.class_id) if st.class_id is not None else None
            slot = by_slot.get((st.school_id, st.grade + 1, before.name[-3:] if before else "(1)班"))
            if slot is None:  # the school's top grade: off to the next stage
                st.status = "graduated"
                graduated += 1
                continue
            st.grade, st.class_id = slot.grade, slot.id
            promoted += 1
        entry = [c for c in classes if c.grade == min(c.school.grades)]
        intake = _new_students(ctx, entry, start)
        if ctx.terms and year == ctx.terms[-1].school_year:
            _grant_teacher(ctx, classes)
        append_event(s, Actor.system("demo-seed"), "roster.school_year_started",
                     detail={"school_year": year, "promoted": promoted, "graduated": graduated,
                             "new": len(intake)})
    ctx.data["classes"] = classes
    ctx.data["school_year"] = year
    ctx.data["students"] = list(s.scalars(select(Student).where(Student.status == "enrolled")
                                          .order_by(Student.id)))
    return f"school year {year}: {promoted} up a grade, {graduated} graduated, {len(intake)} new"


MOVES_PER_TERM = 2


def _move_some(ctx: DemoContext, term: Any) -> str:
    """Two students a term (before its screening) move to a school of the same stage that has their grade: the
    sending school's counselor moves the file (app/care/service.transfer_student)."""
    from app.care.service import transfer_student

    from . import at, school_moment

    s, rng = ctx.session, ctx.rng
    counselors = _counselor_of_school(ctx)
    classes: list[SchoolClass] = ctx.data["classes"]
    moved: list[Student] = ctx.data["moved"]
    screened = set(s.scalars(select(Screening.student_id).distinct()))
    candidates = [st for st in s.scalars(select(Student).where(Student.status == "enrolled", Student.grade >= 4)
                                         .order_by(Student.id))
                  if st.id in screened and st.school_id in counselors and st not in moved]
    done = 0
    day = term.starts_on - timedelta(days=rng.randint(5, 20))
    while candidates and done < MOVES_PER_TERM:
        st = candidates.pop(rng.randrange(len(candidates)))
        here = ctx.data["schools_by_code"]
        stage = next(sc.stage for sc in here.values() if sc.id == st.school_id)
        targets = [c for c in classes if c.grade == st.grade and c.school_id != st.school_id
                   and c.school.stage == stage]
        if not targets:
            continue
        with at(ctx, school_moment(day, 10, 0)):
            transfer_student(s, Actor.for_user(counselors[st.school_id]), st, rng.choice(targets))
        moved.append(st)
        done += 1
    return f"{done} moved school"


def _counselor_of_school(ctx: DemoContext) -> dict[int, User]:
    out: dict[int, User] = {}
    for user in sorted(ctx.data["users"].values(), key=lambda u: u.id):
        if user.role == "counselor":
            for school in user.schools:
                out.setdefault(school.id, user)
    return out


def _grant_teacher(ctx: DemoContext, classes: list[SchoolClass]) -> None:
    from app.admin.grants import record_approved

    teacher_class = next(c for c in classes if c.school.code == TEACHER_SCHOOL and c.name == TEACHER_CLASS)
    record_approved(ctx.session, Actor.system("demo-seed"), ctx.data["users"]["teacher"], klass=teacher_class,
                    reason="demo seed")
    ctx.session.flush()
    ctx.data["teacher_class"] = teacher_class


def _users(ctx: DemoContext, district: District, schools: list[School], classes: list[SchoolClass], *,
           teacher_now: bool = True) -> dict[str, User]:
    from app.auth.service import hash_password

    hashed = hash_password(ctx.password)  # once: argon2 is slow on purpose
    users: dict[str, User] = {}

    def make(username: str, display: str, role: str, full_time: bool = True) -> User:
        user = User(
            username=username,
            display_name=display,
            password_hash=hashed,
            role=role,
            active=True,
            district_id=district.id,
            full_time=full_time,
            email=f"{username}@example.edu.cn",
        )
        ctx.session.add(user)
        users[username] = user
        return user

    for username, display, role in STAFF:
        make(username, display, role)
    by_code = {school.code: school for school in schools}
    assignments: list[tuple[User, School]] = []
    for plan in SCHOOLS:
        if plan.counselor is None:
            continue
        username, display, full_time = plan.counselor
        user = users.get(username) or make(username, display, "counselor", full_time)
        assignments.append((user, by_code[plan.code]))
    ctx.session.flush()
    # Clinical access through the one mechanism (app/admin/grants.py): the seed is recorded, and audited, as both
    # proposer and approver (the review list shows it); no second person exists in a demo.
    from app.admin.grants import record_approved

    seed = Actor.system("demo-seed")
    for user, school in assignments:
        record_approved(ctx.session, seed, user, school=school, reason="demo seed")
    ctx.session.flush()
    if teacher_now:  # the head teacher of this year's class (else of the current year's, when it begins)
        ctx.data["users"] = users
        _grant_teacher(ctx, classes)
    return users

