"""One school's figures (the school leader's page and the school report): the district's cubes with a school filter.

The counts are the district's own: the same selection, the same fine cubes (read from the same rollups while
fresh), kept to the rows of one school. They are protected as that school's own family (the school, each grade,
each gender; the additive relations between them and between linked measures) by the same rule and the same k
(`protect_cubes`, app/district/suppression.py). This family is published only to the school's own people (its
school leader and counselors): the district role never sees it (its routes refuse the district role), so no one
holds both families, whose hidden cells differ (a school's total may be a complement "*" among the district's
schools and shown here).

Counselor workload is the one statement of its own here (open cases per owner: counts and staff names, never a
student); it is protected as a family too, whose total is the figures' open-case total.
"""
from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Student, User
from models.care import CareCase
from models.screenings import Screening, Warning

from ..suppression import COMPLEMENT, SHOWN, Relation, cell_text, protect
from .context import Context, SchoolInfo, Selection, district_schools, list_terms, load_context
from .cubes import Cube
from .figures import LINKED, Figures, FiguresCache, present_grades, protect_cubes
from .rollups import OPEN_ROLLUP_MAX_AGE, ROLLUP_MAX_AGE, cached_cubes
from .scopes import ScopeKey, make_scopes
from .staffing import StaffingRow, staffing

STAGE_GRADES = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10)}  # as School.grades
CASE_STATUSES = ("open", "following", "referred")  # a case not yet closed is in exactly one of these
# On the school page the open cases are shown by status too: all open = the sum of the statuses.
SCHOOL_LINKED = {**LINKED, "cases_open": tuple(f"cases_status_{s}" for s in CASE_STATUSES)}


@dataclass
class WorkloadRow:
    counselor: str | None  # a staff member's display name; None: cases with no owner
    text: str
    value: int | None  # None when hidden


@dataclass
class SchoolFigures:
    school: SchoolInfo
    ctx: Context  # the selection, restricted to this school
    figures: Figures
    workload: list[WorkloadRow] = field(default_factory=list)
    workload_total: str = "0"
    bands: Figures | None = None  # enrolled and screened by class size band (`class_band_figures`)

    @property
    def has_data(self) -> bool:
        return bool(self.ctx.campaign_ids) and bool(self.ctx.eligible.get(self.school.id))

    @property
    def total_key(self) -> ScopeKey:
        return (frozenset([self.school.id]), None, None)


def _restrict(ctx: Context, school_id: int) -> Context:
    return Context(
        schools={school_id: ctx.schools[school_id]},
        campaign_ids=list(ctx.campaign_ids),
        eligible={school_id: ctx.eligible[school_id]} if school_id in ctx.eligible else {},
        instruments=list(ctx.instruments),
        closed_stamp=ctx.closed_stamp,
        as_of=ctx.as_of,
    )


def school_figures(db: Session, district_id: int | None, school_id: int, selection: Selection, k: int, today: date,
                   tz_name: str = "Asia/Shanghai", *, rollup_max_age: timedelta | None = ROLLUP_MAX_AGE,
                   open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE, cache: FiguresCache | None = None,
                   with_workload: bool = True) -> SchoolFigures:
    """Protected figures of one school of the district for one selection. LookupError: not a school of it."""
    district_ctx = load_context(db, district_id, selection)
    if school_id not in district_ctx.schools:
        raise LookupError(school_id)
    # The district's cubes of the selection (its rollup while fresh: 应测 "eligible" and the screening measures, the
    # same counts as the district dashboard's), then this school's rows only.
    cubes, _source = cached_cubes(db, district_id, selection, district_ctx, today, tz_name, "full", rollup_max_age,
                                  open_max_age)
    cubes = {m: {key: n for key, n in cube.items() if key[0] == school_id} for m, cube in cubes.items()}
    ctx = _restrict(district_ctx, school_id)
    if not ctx.eligible:  # no selected campaign screens this school: an empty family of the school itself
        ctx.eligible = {school_id: set()}
    # the rows are the grades screened that the school teaches (or where it has students or screenings anyway)
    counted = {key[1] for cube in cubes.values() for key, n in cube.items() if n}
    teaches = set(STAGE_GRADES.get(ctx.schools[school_id].stage, range(1, 10)))
    ctx.eligible[school_id] = {g for g in ctx.eligible[school_id] if g in teaches or g in counted}
    figures = protect_cubes(cubes, make_scopes(ctx), present_grades(ctx), k, cache=cache, linked=SCHOOL_LINKED)
    out = SchoolFigures(ctx.schools[school_id], ctx, figures)
    if with_workload:
        out.workload, out.workload_total = counselor_workload(db, out, k)
        out.bands = class_band_figures(db, out, k, cache)
    return out


# Class size bands (students enrolled in the class): the national standard class is at most 45 students; a rural
# small school's classes are often under 20. Band 0 holds students without a class.
CLASS_BANDS = ((1, 20), (21, 35), (36, 45), (46, None))


def band_of(size: int | None) -> int:
    if not size:
        return 0
    return next(i for i, (lo, hi) in enumerate(CLASS_BANDS, start=1) if size >= lo and (hi is None or size <= hi))


def class_band_figures(db: Session, school: SchoolFigures, k: int, cache: FiguresCache | None = None) -> Figures | None:
    """Students to be screened and screened, by the size band of their class, protected like the grade figures
    (a family of the school: its total, each band, each gender; the band in the place of the grade).

    A student's class is their current class (to be screened) and the class they were screened in (screened); a
    class's size is its enrolled students. Shown only when its totals are the grade figures' totals with the same
    mark (else None: a total shown here and hidden there, or the reverse, would undo a suppression)."""
    sid = school.school.id
    grades = school.ctx.eligible.get(sid, set())
    if not school.has_data:
        return None
    sizes = dict(db.execute(
        select(Student.class_id, func.count(Student.id))
        .where(Student.school_id == sid, Student.status == "enrolled", Student.class_id.is_not(None))
        .group_by(Student.class_id)).tuples().all())
    enrolled: Cube = {}
    for class_id, grade, gender, n in db.execute(
        select(Student.class_id, Student.grade, Student.gender, func.count(Student.id))
        .where(Student.school_id == sid, Student.status == "enrolled")
        .group_by(Student.class_id, Student.grade, Student.gender)
    ):
        if grade in grades:
            key = (sid, band_of(sizes.get(class_id)), gender)
            enrolled[key] = enrolled.get(key, 0) + int(n)
    per = (
        select(Screening.student_id.label("sid"), func.min(Screening.class_id).label("class_id"))
        .where(Screening.campaign_id.in_(school.ctx.campaign_ids), Screening.valid.is_(True),
               Screening.school_id == sid)
        .group_by(Screening.student_id)
        .subquery("per_student")
    )
    screened: Cube = {}
    for class_id, gender, n in db.execute(
        select(per.c.class_id, Student.gender, func.count()).select_from(per)
        .join(Student, Student.id == per.c.sid).group_by(per.c.class_id, Student.gender)
    ):
        key = (sid, band_of(sizes.get(class_id)), gender)
        screened[key] = screened.get(key, 0) + int(n)
    bands = protect_cubes({"eligible": enrolled, "screened": screened}, make_scopes(school.ctx),
                          range(len(CLASS_BANDS) + 1), k, cache=cache, linked={})
    total = school.total_key
    for measure in ("eligible", "screened"):
        if (bands.status(measure, total), bands.text(measure, total)) != (
                school.figures.status(measure, total), school.figures.text(measure, total)):
            return None
    return bands


def counselor_workload(db: Session, school: SchoolFigures, k: int) -> tuple[list[WorkloadRow], str]:
    """Open cases of the selection's warnings at the school, per owner (a counselor's name; never a student).

    Protected as a family (total = the owners' rows), the total a level above the rows, so a hidden row is
    complemented by another row, never by the total. The total is the figures' open-case total: when that one is
    hidden there, every row is hidden here too (the total could otherwise be added up from the rows); so they are
    when the rows, counted live, do not add up to that total (figures from a rollup a few minutes old)."""
    total_key = school.total_key
    if not school.ctx.campaign_ids:
        return [], "0"
    stmt = (
        select(CareCase.owner_id, func.count(CareCase.id))
        .select_from(CareCase)
        .join(Warning, Warning.id == CareCase.warning_id)
        .join(Screening, Screening.id == Warning.screening_id)
        .where(Screening.campaign_id.in_(school.ctx.campaign_ids), Screening.valid.is_(True),
               Screening.school_id == school.school.id, CareCase.status != "closed")
        .group_by(CareCase.owner_id)
    )
    counts = {owner: int(n) for owner, n in db.execute(stmt)}
    names: dict[int | None, str] = {
        uid: name for uid, name in db.execute(select(User.id, User.display_name).where(User.id.in_(
            [o for o in counts if o])))}
    owners = sorted(counts, key=lambda o: (o is None, names.get(o, ""), o or 0))
    total_status = school.figures.status("cases_open", total_key)
    total_text = school.figures.text("cases_open", total_key)
    # The rows are counted now; the figures may come from a rollup a few minutes old. Rows that do not add up to
    # the total shown beside them are hidden rather than published against another total.
    if total_status != SHOWN or school.figures.value("cases_open", total_key) != sum(counts.values()):
        return [WorkloadRow(names.get(o) if o else None, cell_text(0, COMPLEMENT, k), None) for o in owners], total_text
    values: dict[Hashable, int] = {("total",): sum(counts.values()), **{("owner", o): counts[o] for o in owners}}
    levels: dict[Hashable, int] = {("total",): 0, **{("owner", o): 1 for o in owners}}
    result = protect(values, [Relation(("total",), tuple(("owner", o) for o in owners))] if owners else [], k, levels)
    if not result.shown(("total",)):  # cannot happen with a row a level below; never publish it if it did
        return [WorkloadRow(names.get(o) if o else None, cell_text(0, COMPLEMENT, k), None) for o in owners], total_text
    rows = [WorkloadRow(names.get(o) if o else None, result.text(("owner", o)), result.value(("owner", o)))
            for o in owners]
    return rows, total_text


@dataclass
class SchoolTrendPoint:
    term: str
    figures: Figures
    key: ScopeKey
    as_of: datetime | None = None


def school_trends(db: Session, district_id: int | None, school_id: int, k: int, today: date,
                  tz_name: str = "Asia/Shanghai", limit: int = 10, rollup_max_age: timedelta | None = ROLLUP_MAX_AGE,
                  open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE,
                  cache: FiguresCache | None = None) -> list[SchoolTrendPoint]:
    """The school's protected figures term by term (the terms in which a campaign screened the school)."""
    out = []
    for term in list_terms(db, district_id)[-limit:]:
        one = school_figures(db, district_id, school_id, Selection(term, None), k, today, tz_name,
                             rollup_max_age=rollup_max_age, open_max_age=open_max_age, cache=cache,
                             with_workload=False)
        if one.has_data:
            out.append(SchoolTrendPoint(term, one.figures, one.total_key, one.ctx.as_of))
    return out


def school_staffing(db: Session, district_id: int | None, school_id: int, k: int) -> StaffingRow | None:
    """The school's row of the district's staffing table (counselors, students per full-time counselor)."""
    rows, _total = staffing(db, district_id, k)
    return next((r for r in rows if r.school.id == school_id), None)


def district_school(db: Session, district_id: int | None, school_id: int) -> SchoolInfo | None:
    return district_schools(db, district_id).get(school_id)
