"""Demo step 10: the district, its schools, classes, students (identity sealed) and the demo users.

Everything is drawn from `ctx.rng`, so a given seed gives the same district. Later steps find what this one made
in `ctx.data`: "district", "schools" (list), "schools_by_code", "classes" (list), "students" (list),
"users" (by username), "school_year", "counselor_schools", "teacher_class".
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from models import Actor, District, School, SchoolClass, Student, User

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


def seed_roster(ctx: DemoContext) -> str:
    s: Session = ctx.session
    rng = ctx.rng
    year = school_year_for(ctx.today)
    year_start = int(year[:4])

    district = District(code=DISTRICT_CODE, name=DISTRICT_NAME)
    s.add(district)
    schools: list[School] = []
    classes: list[SchoolClass] = []
    plans: dict[str, SchoolPlan] = {}
    for plan in SCHOOLS:
        school = School(district=district, code=plan.code, name=plan.name, type=plan.type, stage=plan.stage)
        s.add(school)
        schools.append(school)
        plans[plan.code] = plan
        for grade in school.grades:
            for number in range(1, plan.classes_per_grade + 1):
                klass = SchoolClass(school=school, grade=grade, name=class_name(grade, number), school_year=year)
                s.add(klass)
                classes.append(klass)
    s.flush()

    students: list[Student] = []
    seq = 0
    for klass in classes:
        plan = plans[klass.school.code]
        size = max(5, plan.class_size + rng.randint(-3, 3))
        rates = CARE_RATES[plan.type]
        for _ in range(size):
            seq += 1
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
    s.add_all(students)
    s.flush()

    users = _users(ctx, district, schools, classes)
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
        teacher_class=users["teacher"].classes[0],
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


def _users(ctx: DemoContext, district: District, schools: list[School], classes: list[SchoolClass]) -> dict[str, User]:
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
    teacher_class = next(c for c in classes if c.school.code == TEACHER_SCHOOL and c.name == TEACHER_CLASS)
    ctx.session.flush()
    # Clinical access through the one mechanism (app/admin/grants.py): the seed is recorded, and audited, as both
    # proposer and approver (the review list shows it); no second person exists in a demo.
    from app.admin.grants import record_approved

    seed = Actor.system("demo-seed")
    for user, school in assignments:
        record_approved(ctx.session, seed, user, school=school, reason="demo seed")
    record_approved(ctx.session, seed, users["teacher"], klass=teacher_class, reason="demo seed")
    ctx.session.flush()
    return users

