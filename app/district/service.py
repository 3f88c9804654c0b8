"""The district statistics service: the ONLY way the district role reaches data.

Aggregate-only by construction: every statement below is a GROUP BY / COUNT over result columns that are in
clear (school, grade, gender, level, positive, dates); none selects a name, student number, sealed (`*_enc`)
or blind-index (`*_bidx`) column, a student id or a public id (ids appear only inside COUNT(DISTINCT ...)).
`tests/integration/test_district_service.py` captures the SQL this module emits and checks exactly that.

How figures are built
---------------------
1. A handful of GROUP BY queries return *fine cubes*: counts per (school, grade, gender) for each measure,
   for the chosen term or campaign (screening figures follow the screenings of its campaigns: warnings, cases,
   rechecks and referrals are those that came from them).
2. `build_family` sums the cubes into every cell the district role can reach — the district, each school
   type, stage and type × stage (the filters), and inside each of those each school, type, stage, grade and
   gender (the groupings) — and states the additive relations between them.
3. `app.district.suppression.protect` hides small cells and their complements over the whole family at once,
   so every page, filter and export shows the same protected figures.
4. Maintained rollups: when every campaign of a selection is closed, its cubes (counts only) are kept in
   `district_rollups` (full detail for the dashboard, type x stage detail for the trends) and read back while
   fresh (`ROLLUP_MAX_AGE`, and until a campaign is closed again). A selection with a campaign still running is
   rolled up too, but trusted for `OPEN_ROLLUP_MAX_AGE` only (5 minutes, a setting) and only for the same
   campaigns on the same day; older, it is recomputed in the request. The scheduler job `district_rollups`
   (app/district/tasks.py) keeps running terms (and closed ones about to expire) fresh every few minutes, so
   requests find a fresh rollup; the nightly job recomputes them all. `Context.as_of` tells when the figures
   shown were computed (the page shows it). Enrolment is always live (the current roll).
Schools, their names and their staff are not children: the staffing table names schools.
"""
from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass
import json
from datetime import date, datetime, timedelta
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, distinct, func, insert, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models import School, Student, User, utcnow
from models.district import DistrictRollup
from models.care import CareCase, CaseEntry
from models.rechecks import Recheck
from models.roster import StudentCareGroup, counselor_schools
from models.screenings import Campaign, CampaignInstrument, Screening, Warning, campaign_schools

from .suppression import Protected, Relation, Structure, rate_value

SCHOOL_TYPES = ("urban", "rural_small", "township_boarding", "other")
TWO_TYPES = ("rural_small", "township_boarding")
STAGES = ("primary", "junior", "nine_year")
GENDERS = ("M", "F")
GRADES = tuple(range(1, 10))
DIMENSIONS = ("school", "type", "stage", "grade", "gender")
CARE_GROUPS = ("left_behind", "migrant", "hardship")
WARNING_LEVELS = ("L1", "L2", "L3", "care")

# Measures protected together because they are linked by an additive relation (all = care + other).
LINKED = {"screened": ("screened_care", "screened_other"), "positive": ("positive_care", "positive_other")}

# Rollups of closed campaigns are trusted for this long (late follow-ups still change them); bump the version
# whenever the meaning of a stored measure changes, so old rollups are recomputed.
ROLLUP_MAX_AGE = timedelta(hours=1)
OPEN_ROLLUP_MAX_AGE = timedelta(minutes=5)  # a selection with a running campaign (dashboard and trend point)
ROLLUP_VERSION = "1"

Cube = dict[tuple[int, int, str], int]  # (school_id, grade, gender) -> count
ScopeKey = tuple[frozenset[int], int | None, str | None]  # (schools, grade or None, gender or None)


# -- selection ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Selection:
    """What the figures are about: a term (all its campaigns) or one campaign."""

    term: str | None = None
    campaign_id: int | None = None


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    stage: str | None = None


@dataclass
class SchoolInfo:
    id: int
    code: str
    name: str
    type: str
    stage: str
    enrolled_all: int = 0  # every enrolled student of the school (for staffing)


@dataclass
class Context:
    """The schools in play and the campaigns selected, for one district."""

    schools: dict[int, SchoolInfo]
    campaign_ids: list[int]
    eligible: dict[int, set[int]]  # school id -> grades the selected campaigns screen
    instruments: list[str]
    closed_stamp: str | None = None  # set when every selected campaign is closed: ids and closing times
    as_of: datetime | None = None  # when the screening figures were computed (a rollup's refresh time, or now)

    @property
    def school_ids(self) -> frozenset[int]:
        return frozenset(self.eligible)


def _district_schools(db: Session, district_id: int | None, with_enrolled: bool = False) -> dict[int, SchoolInfo]:
    """The district's schools; with `with_enrolled`, each school's count of enrolled students (for staffing)."""
    enrolled = func.count(Student.id) if with_enrolled else func.count(School.id) * 0
    stmt = select(School.id, School.code, School.name, School.type, School.stage, enrolled)
    if with_enrolled:
        stmt = stmt.outerjoin(Student, and_(Student.school_id == School.id, Student.status == "enrolled"))
    stmt = stmt.group_by(School.id, School.code, School.name, School.type, School.stage).order_by(School.code)
    if district_id is not None:
        stmt = stmt.where(School.district_id == district_id)
    return {row[0]: SchoolInfo(row[0], row[1], row[2], row[3], row[4], row[5]) for row in db.execute(stmt)}


def _in_district(district_id: int | None) -> Any:
    """Campaigns of the district: linked to one of its schools, or to no school at all (every school)."""
    if district_id is None:
        return Campaign.id.is_not(None)
    return or_(
        Campaign.id.in_(
            select(campaign_schools.c.campaign_id)
            .join(School, School.id == campaign_schools.c.school_id)
            .where(School.district_id == district_id)
            .group_by(campaign_schools.c.campaign_id)
        ),
        ~Campaign.id.in_(select(campaign_schools.c.campaign_id).group_by(campaign_schools.c.campaign_id)),
    )


def list_terms(db: Session, district_id: int | None) -> list[str]:
    """Terms that have a campaign, oldest first."""
    stmt = select(Campaign.term, func.min(Campaign.starts_on)).where(Campaign.status != "draft", _in_district(district_id))
    rows = db.execute(stmt.group_by(Campaign.term).order_by(func.min(Campaign.starts_on), Campaign.term)).all()
    return [row[0] for row in rows]


def list_campaigns(db: Session, district_id: int | None, term: str | None = None) -> list[tuple[int, str, str]]:
    """(id, name, term) of the district's campaigns that are not drafts, newest first."""
    stmt = select(Campaign.id, Campaign.name, Campaign.term, func.count(CampaignInstrument.id)).outerjoin(
        CampaignInstrument, CampaignInstrument.campaign_id == Campaign.id
    ).where(Campaign.status != "draft", _in_district(district_id))
    if term:
        stmt = stmt.where(Campaign.term == term)
    stmt = stmt.group_by(Campaign.id, Campaign.name, Campaign.term, Campaign.starts_on).order_by(
        Campaign.starts_on.desc(), Campaign.id.desc()
    )
    return [(row[0], row[1], row[2]) for row in db.execute(stmt)]


def resolve_selection(db: Session, district_id: int | None, selection: Selection) -> Selection:
    """Fill in a default (the latest term) and drop a campaign id that does not exist."""
    if selection.campaign_id is not None:
        ids = {cid for cid, _, _ in list_campaigns(db, district_id)}
        if selection.campaign_id in ids:
            return Selection(None, selection.campaign_id)
    terms = list_terms(db, district_id)
    if selection.term in terms:
        return Selection(selection.term, None)
    return Selection(terms[-1] if terms else None, None)


def load_context(db: Session, district_id: int | None, selection: Selection) -> Context:
    schools = _district_schools(db, district_id)
    stmt = (
        select(Campaign.id, Campaign.status, Campaign.closed_at)
        .where(Campaign.status != "draft", _in_district(district_id))
        .group_by(Campaign.id, Campaign.status, Campaign.closed_at)
        .order_by(Campaign.id)
    )
    if selection.campaign_id is not None:
        stmt = stmt.where(Campaign.id == selection.campaign_id)
    else:
        stmt = stmt.where(Campaign.term == (selection.term or ""))
    campaign_rows = db.execute(stmt).all()
    campaign_ids = [row[0] for row in campaign_rows]
    closed_stamp = None
    if campaign_rows and all(row[1] == "closed" for row in campaign_rows):
        closed_stamp = ";".join(f"{cid}@{closed.isoformat() if closed else '-'}" for cid, _, closed in campaign_rows)
    links: dict[int, set[int]] = defaultdict(set)
    ranges: dict[int, list[tuple[int, int]]] = defaultdict(list)
    instruments: set[str] = set()
    if campaign_ids:
        for cid, sid in db.execute(
            select(campaign_schools.c.campaign_id, campaign_schools.c.school_id)
            .where(campaign_schools.c.campaign_id.in_(campaign_ids))
            .group_by(campaign_schools.c.campaign_id, campaign_schools.c.school_id)
        ):
            links[cid].add(sid)
        for cid, instrument, g_from, g_to in db.execute(
            select(CampaignInstrument.campaign_id, CampaignInstrument.instrument_id, CampaignInstrument.grade_from,
                   CampaignInstrument.grade_to)
            .where(CampaignInstrument.campaign_id.in_(campaign_ids))
            .group_by(CampaignInstrument.campaign_id, CampaignInstrument.instrument_id, CampaignInstrument.grade_from,
                      CampaignInstrument.grade_to)
        ):
            ranges[cid].append((g_from, g_to))
            instruments.add(instrument)
    eligible: dict[int, set[int]] = defaultdict(set)
    for cid in campaign_ids:
        targets = links.get(cid) or set(schools)
        grades = {g for lo, hi in ranges.get(cid, [(1, 9)]) for g in range(lo, hi + 1)}
        for sid in targets:
            if sid in schools:
                eligible[sid] |= grades
    return Context(schools, campaign_ids, dict(eligible), sorted(instruments), closed_stamp)


# -- the aggregate queries ----------------------------------------------------------------------------------
def _local_date(db: Session, column: Any, tz_name: str) -> Any:
    """The calendar date of a UTC timestamp in the school time zone, computed by the database."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return func.date(func.timezone(tz_name, column))
    offset = datetime.now(ZoneInfo(tz_name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, f"{minutes:+d} minutes")


def _cube(rows: Iterable[Any], n_measures: int) -> list[Cube]:
    cubes: list[Cube] = [dict() for _ in range(n_measures)]
    for row in rows:
        key = (row[0], row[1], row[2])
        for i in range(n_measures):
            value = row[3 + i] or 0
            if value:
                cubes[i][key] = cubes[i].get(key, 0) + int(value)
    return cubes


def enrolled_by_school(db: Session, school_ids: Iterable[int]) -> Cube:
    """Enrolled students per (school, grade, gender): the current roster, the same for every term."""
    ids = list(school_ids)
    if not ids:
        return {}
    return {
        (sid, grade, gender): int(n)
        for sid, grade, gender, n in db.execute(
            select(Student.school_id, Student.grade, Student.gender, func.count(Student.id))
            .where(Student.status == "enrolled", Student.school_id.in_(ids))
            .group_by(Student.school_id, Student.grade, Student.gender)
        )
    }


def eligible_enrolled(ctx: Context, enrolled: Cube) -> Cube:
    """Students enrolled in the grades the selected campaigns screen, in their schools."""
    return {key: n for key, n in enrolled.items() if key[1] in ctx.eligible.get(key[0], ())}


def query_cubes(db: Session, ctx: Context, today: date, tz_name: str, enrolled: Cube | None = None) -> dict[str, Cube]:
    """Every measure as a fine cube (school, grade, gender) -> count. Aggregate queries only."""
    if enrolled is None:
        enrolled = enrolled_by_school(db, ctx.school_ids)
    cubes: dict[str, Cube] = {"enrolled": eligible_enrolled(ctx, enrolled)}
    cubes.update(screening_cubes(db, ctx, today, tz_name))
    return cubes


def screening_cubes(db: Session, ctx: Context, today: date, tz_name: str) -> dict[str, Cube]:
    """The measures that follow the screenings of the selected campaigns (what the rollups keep)."""
    cubes: dict[str, Cube] = {}
    if not ctx.campaign_ids:
        return cubes
    in_campaigns = and_(Screening.campaign_id.in_(ctx.campaign_ids), Screening.valid.is_(True))

    # Students screened and positive, overall, care-group students vs others, and per care group. One row per
    # student first (inner GROUP BY), so each student counts once and the groups partition the students.
    def flag(condition: Any) -> Any:
        return func.max(case((condition, 1), else_=0))

    flags = (
        select(StudentCareGroup.student_id.label("sid"), flag(StudentCareGroup.group.in_(CARE_GROUPS)).label("any_care"),
               *[flag(StudentCareGroup.group == g).label(f"cg_{g}") for g in CARE_GROUPS])
        .group_by(StudentCareGroup.student_id)
        .subquery("care_flags")
    )
    per = (
        select(Screening.student_id.label("sid"), func.min(Screening.school_id).label("school_id"),
               func.min(Screening.grade).label("grade"), flag(Screening.positive.is_(True)).label("pos"))
        .where(in_campaigns)
        .group_by(Screening.student_id)
        .subquery("per_student")
    )
    care_any = func.coalesce(flags.c.any_care, 0)
    columns = [func.count(), func.sum(per.c.pos), func.sum(care_any), func.sum(care_any * per.c.pos),
               func.sum(1 - care_any), func.sum((1 - care_any) * per.c.pos)]
    names = ["screened", "positive", "screened_care", "positive_care", "screened_other", "positive_other"]
    for g in CARE_GROUPS:
        member = func.coalesce(flags.c[f"cg_{g}"], 0)
        columns += [func.sum(member), func.sum(member * per.c.pos)]
        names += [f"screened_{g}", f"positive_{g}"]
    stmt = (
        select(per.c.school_id, per.c.grade, Student.gender, *columns)
        .select_from(per)
        .join(Student, Student.id == per.c.sid)
        .outerjoin(flags, flags.c.sid == per.c.sid)
        .group_by(per.c.school_id, per.c.grade, Student.gender)
    )
    cubes.update(zip(names, _cube(db.execute(stmt), len(names))))

    # Screens and positive screens per instrument.
    per_instrument: dict[str, tuple[Cube, Cube]] = defaultdict(lambda: ({}, {}))
    stmt = (
        select(Screening.instrument_id, Screening.school_id, Screening.grade, Student.gender, func.count(Screening.id),
               func.count(case((Screening.positive.is_(True), Screening.id))))
        .join(Student, Student.id == Screening.student_id)
        .where(in_campaigns)
        .group_by(Screening.instrument_id, Screening.school_id, Screening.grade, Student.gender)
    )
    for instrument, sid, grade, gender, n, pos in db.execute(stmt):
        screens, positives = per_instrument[instrument]
        screens[(sid, grade, gender)] = int(n)
        if pos:
            positives[(sid, grade, gender)] = int(pos)
    for instrument in sorted(set(per_instrument) | set(ctx.instruments)):
        screens, positives = per_instrument.get(instrument, ({}, {}))
        cubes[f"screens:{instrument}"] = screens
        cubes[f"positives:{instrument}"] = positives

    # Warnings by confirmed level, crisis timeliness, interviews within the policy window.
    contact = func.coalesce(Warning.first_contact_at, Warning.acknowledged_at)
    crisis = and_(Warning.status != "superseded", or_(Warning.suggested_level == "L1", Warning.confirmed_level == "L1"))
    confirmed_day = _local_date(db, Warning.confirmed_at, tz_name)
    w_cols = [func.count(case((and_(Warning.status == "confirmed", Warning.confirmed_level == lv), Warning.id)))
              for lv in WARNING_LEVELS]
    w_cols += [
        func.count(case((crisis, Warning.id))),
        func.count(case((and_(crisis, contact.is_not(None),
                              _local_date(db, contact, tz_name) == _local_date(db, Warning.created_at, tz_name)),
                         Warning.id))),
        func.count(case((and_(Warning.status != "superseded", Warning.interview_due_on.is_not(None),
                              or_(Warning.confirmed_at.is_not(None), Warning.interview_due_on < today)), Warning.id))),
        func.count(case((and_(Warning.status != "superseded", Warning.interview_due_on.is_not(None),
                              Warning.confirmed_at.is_not(None), confirmed_day <= Warning.interview_due_on),
                         Warning.id))),
    ]
    w_names = [f"warn_{lv}" for lv in WARNING_LEVELS] + ["crisis", "crisis_same_day", "interview_due", "interview_on_time"]
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender, *w_cols)
        .select_from(Warning)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == Warning.student_id)
        .where(in_campaigns)
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    cubes.update(zip(w_names, _cube(db.execute(stmt), len(w_names))))

    # Rechecks that came from those warnings: due (done or late) and done on time.
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender,
               func.count(case((or_(Recheck.on_time.is_not(None), Recheck.status.in_(("overdue", "escalated", "done"))),
                               Recheck.id))),
               func.count(case((Recheck.on_time.is_(True), Recheck.id))))
        .select_from(Recheck)
        .join(Warning, Warning.id == Recheck.warning_id)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == Recheck.student_id)
        .where(in_campaigns, Recheck.status != "cancelled")
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    cubes.update(zip(["recheck_due", "recheck_on_time"], _cube(db.execute(stmt), 2)))

    # Cases from those warnings: still open, and referred (a referral entry on the case).
    referred = (
        select(CaseEntry.case_id).where(CaseEntry.kind == "referral").group_by(CaseEntry.case_id).subquery("referred")
    )
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender,
               func.count(case((CareCase.status != "closed", CareCase.id))),
               func.count(case((referred.c.case_id.is_not(None), CareCase.id))))
        .select_from(CareCase)
        .join(Warning, Warning.id == CareCase.warning_id)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == CareCase.student_id)
        .outerjoin(referred, referred.c.case_id == CareCase.id)
        .where(in_campaigns)
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    cubes.update(zip(["cases_open", "cases_referred"], _cube(db.execute(stmt), 2)))
    return cubes


# -- the family of cells ------------------------------------------------------------------------------------
@dataclass
class Scopes:
    """Named sets of schools (the filters) and each set's level: 0 district, 1 type/stage, 2 type × stage, 3 school."""

    all: frozenset[int]
    by_type: dict[str, frozenset[int]]
    by_stage: dict[str, frozenset[int]]
    by_type_stage: dict[tuple[str, str], frozenset[int]]
    level: dict[frozenset[int], int]

    def of(self, filters: Filters) -> frozenset[int]:
        scope = self.all
        if filters.type:
            scope = scope & self.by_type.get(filters.type, frozenset())
        if filters.stage:
            scope = scope & self.by_stage.get(filters.stage, frozenset())
        return scope

    def filter_sets(self) -> list[frozenset[int]]:
        sets = [self.all, *self.by_type.values(), *self.by_stage.values(), *self.by_type_stage.values()]
        return [s for s in dict.fromkeys(sets) if s]

    def part_of(self) -> dict[int, frozenset[int]]:
        """Each school's type x stage set (these sets partition the schools)."""
        return {sid: part for part in self.by_type_stage.values() for sid in part}

    def components(self) -> dict[frozenset[int], list[frozenset[int]]]:
        """Each filter set as the type x stage sets it is made of."""
        cached = getattr(self, "_components", None)
        if cached is None:
            parts = list(self.by_type_stage.values())
            cached = {f: [p for p in parts if p <= f] for f in self.filter_sets()}
            self._components = cached
        return cached


def make_scopes(ctx: Context) -> Scopes:
    ids = ctx.school_ids
    by_type = {t: frozenset(s for s in ids if ctx.schools[s].type == t) for t in SCHOOL_TYPES}
    by_stage = {st: frozenset(s for s in ids if ctx.schools[s].stage == st) for st in STAGES}
    by_ts = {(t, st): by_type[t] & by_stage[st] for t in SCHOOL_TYPES for st in STAGES}
    by_type = {k: v for k, v in by_type.items() if v}
    by_stage = {k: v for k, v in by_stage.items() if v}
    by_ts = {k: v for k, v in by_ts.items() if v}
    level: dict[frozenset[int], int] = {}
    for s in ids:
        level[frozenset([s])] = 3
    for v in by_ts.values():
        level[v] = min(level.get(v, 9), 2)
    for v in [*by_type.values(), *by_stage.values()]:
        level[v] = min(level.get(v, 9), 1)
    level[ids] = 0
    return Scopes(ids, by_type, by_stage, by_ts, level)


def cell_level(scopes: Scopes, key: ScopeKey) -> int:
    schools, grade, gender = key
    return scopes.level.get(schools, 3) + (grade is not None) + (gender is not None)


def family_keys(scopes: Scopes, grades: Iterable[int], max_level: int = 9) -> tuple[list[ScopeKey], list[tuple[ScopeKey, tuple[ScopeKey, ...]]]]:
    """Every reachable cell of one measure and the additive relations between them (parent, children)."""
    grades = sorted(grades)
    keys: dict[ScopeKey, None] = {}
    relations: list[tuple[ScopeKey, tuple[ScopeKey, ...]]] = []

    def add(key: ScopeKey) -> ScopeKey:
        keys.setdefault(key, None)
        return key

    def parts(scope: frozenset[int]) -> list[list[frozenset[int]]]:
        splits = [
            [scope & v for v in scopes.by_type.values() if scope & v],
            [scope & v for v in scopes.by_stage.values() if scope & v],
            [frozenset([s]) for s in sorted(scope)],
        ]
        return [p for p in splits if len(p) > 1 or (p and p[0] != scope)]

    for scope in scopes.filter_sets():
        total = add((scope, None, None))
        for split in parts(scope):
            relations.append((total, tuple(add((p, None, None)) for p in split)))
        relations.append((total, tuple(add((scope, g, None)) for g in grades)))
        relations.append((total, tuple(add((scope, None, x)) for x in GENDERS)))
        # The same grade / gender inside each type or stage of this scope (reachable through a filter).
        for split in parts(scope)[:2]:
            if all(p in scopes.level and scopes.level[p] <= 2 for p in split):
                for g in grades:
                    relations.append(((scope, g, None), tuple(add((p, g, None)) for p in split)))
                for x in GENDERS:
                    relations.append(((scope, None, x), tuple(add((p, None, x)) for p in split)))
    if max_level < 9:
        kept = {k for k in keys if cell_level(scopes, k) <= max_level}
        relations = [(p, c) for p, c in relations if p in kept and all(x in kept for x in c)]
        return [k for k in keys if k in kept], relations
    return list(keys), relations


def cell_values(cube: Cube, keys: Iterable[ScopeKey], scopes: Scopes) -> dict[ScopeKey, int]:
    """Each cell's count, summed from the fine cube.

    Every filter set is a union of type x stage sets, and those partition the schools: sum the fine entries into
    schools and type x stage sets once, then each other set from its type x stage parts.
    """
    part_of = scopes.part_of()
    school: dict[int, int] = defaultdict(int)
    base: dict[ScopeKey, int] = defaultdict(int)
    for (sid, grade, gender), n in cube.items():
        school[sid] += n
        part = part_of.get(sid)
        if part is not None:
            base[(part, None, None)] += n
            base[(part, grade, None)] += n
            base[(part, None, gender)] += n
    components = scopes.components()
    out: dict[ScopeKey, int] = {}
    for key in keys:
        schools, grade, gender = key
        parts = components.get(schools)
        if parts is not None:
            out[key] = sum(base.get((p, grade, gender), 0) for p in parts)
        else:  # a single school that is not a filter set
            out[key] = sum(school.get(s, 0) for s in schools)
    return out


@dataclass
class Figures:
    """Protected figures of every measure over the whole family of one selection."""

    scopes: Scopes
    grades: list[int]
    protected: dict[str, Protected]
    k: int

    def value(self, measure: str, key: ScopeKey) -> int | None:
        p = self.protected.get(measure)
        return None if p is None else p.value(key)

    def text(self, measure: str, key: ScopeKey) -> str:
        p = self.protected.get(measure)
        return "0" if p is None else p.text(key)

    def status(self, measure: str, key: ScopeKey) -> str:
        p = self.protected.get(measure)
        return "shown" if p is None else p.status.get(key, "shown")

    def rate(self, numerator: str, denominator: str, key: ScopeKey) -> float | None:
        return rate_value(self.value(numerator, key), self.value(denominator, key))


_PROTECTED_CACHE: "OrderedDict[tuple[Any, ...], Figures]" = OrderedDict()
_PROTECTED_CACHE_SIZE = 32


def protect_cubes(cubes: dict[str, Cube], scopes: Scopes, grades: Iterable[int], k: int, max_level: int = 9) -> Figures:
    """Protect every measure over the family, memoised: the result is a pure function of its inputs, so the same
    counts (another filter or grouping of the same selection, an export of the page just seen) are not
    protected twice. The cache key holds counts and school ids only."""
    grades = sorted(grades)
    key = (
        k, max_level, tuple(grades),
        frozenset(scopes.by_type_stage.items()),  # the schools of each type x stage: the whole family's shape
        frozenset((m, frozenset(c.items())) for m, c in cubes.items()),
    )
    cached = _PROTECTED_CACHE.get(key)
    if cached is not None:
        _PROTECTED_CACHE.move_to_end(key)
        return cached
    figures = _protect_cubes(cubes, scopes, grades, k, max_level)
    _PROTECTED_CACHE[key] = figures
    while len(_PROTECTED_CACHE) > _PROTECTED_CACHE_SIZE:
        _PROTECTED_CACHE.popitem(last=False)
    return figures


def _protect_cubes(cubes: dict[str, Cube], scopes: Scopes, grades: list[int], k: int, max_level: int) -> Figures:
    """Protect every measure over the family; linked measures (all = care + other) are protected together."""
    keys, rels = family_keys(scopes, grades, max_level)
    levels = {key: cell_level(scopes, key) for key in keys}
    single = Structure(keys, [Relation(p, c) for p, c in rels], levels)
    linked_structures: dict[int, Structure] = {}
    protected: dict[str, Protected] = {}
    done: set[str] = set()
    for measure in cubes:
        if measure in done:
            continue
        group = [m for m in (measure, *LINKED.get(measure, ())) if m in cubes]
        values = [cell_values(cubes[m], keys, scopes) for m in group]
        if not any(1 <= v < k for vals in values for v in vals.values()):
            for m, vals in zip(group, values):
                protected[m] = Protected(vals, dict.fromkeys(vals, "shown"), k)
                done.add(m)
            continue
        if len(group) == 1:
            protected[measure] = single.protect([values[0][key] for key in keys], k)
            done.add(measure)
            continue
        structure = linked_structures.get(len(group))
        if structure is None:
            gkeys = [(g, key) for g in range(len(group)) for key in keys]
            grels = [Relation((g, p), tuple((g, x) for x in c)) for g in range(len(group)) for p, c in rels]
            grels += [Relation((0, key), tuple((g, key) for g in range(1, len(group)))) for key in keys]
            structure = Structure(gkeys, grels, {(g, key): levels[key] for g in range(len(group)) for key in keys})
            linked_structures[len(group)] = structure
        result = structure.protect([values[g][key] for g in range(len(group)) for key in keys], k)
        for g, m in enumerate(group):
            protected[m] = Protected(
                {key: result.values[(g, key)] for key in keys}, {key: result.status[(g, key)] for key in keys}, k
            )
            done.add(m)
    return Figures(scopes, sorted(grades), protected, k)


def present_grades(ctx: Context) -> list[int]:
    return sorted({g for grades in ctx.eligible.values() for g in grades})


def compute_figures(db: Session, district_id: int | None, selection: Selection, k: int, today: date,
                    tz_name: str = "Asia/Shanghai", max_level: int = 9, *, enrolled: Cube | None = None,
                    rollup_max_age: timedelta | None = ROLLUP_MAX_AGE,
                    open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE) -> tuple[Context, Figures]:
    """Protected figures for one selection. `max_level=1` computes only the district-level cells (trends).

    Disclosure control runs on whatever counts are used (live or from a rollup); `ctx.as_of` says how old they are.
    """
    ctx = load_context(db, district_id, selection)
    if enrolled is None:
        enrolled = enrolled_by_school(db, ctx.school_ids)
    detail = "coarse" if max_level <= 1 else "full"
    cubes = {"enrolled": eligible_enrolled(ctx, enrolled)}
    cubes.update(cached_screening_cubes(db, district_id, selection, ctx, today, tz_name, detail, rollup_max_age,
                                        open_max_age))
    scopes = make_scopes(ctx)
    return ctx, protect_cubes(cubes, scopes, present_grades(ctx), k, max_level)


# -- maintained rollups -------------------------------------------------------------------------------------
def rollup_key(district_id: int | None, selection: Selection, detail: str) -> str:
    what = f"campaign:{selection.campaign_id}" if selection.campaign_id is not None else f"term:{selection.term}"
    return f"d{district_id or 0}:{what}:{detail}"


def coarsen(cubes: dict[str, Cube], ctx: Context) -> dict[str, Cube]:
    """Counts per (type x stage part, grade, gender), each part stored under its first school's id.

    Enough for the district-level cells (levels 0-1) the trend charts show; ~20x smaller than the full cubes.
    """
    rep: dict[int, int] = {}
    parts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for sid in ctx.school_ids:
        info = ctx.schools[sid]
        parts[(info.type, info.stage)].append(sid)
    for members in parts.values():
        first = min(members)
        for sid in members:
            rep[sid] = first
    out: dict[str, Cube] = {}
    for measure, cube in cubes.items():
        coarse: Cube = defaultdict(int)  # type: ignore[assignment]
        for (sid, grade, gender), n in cube.items():
            coarse[(rep.get(sid, sid), grade, gender)] += n
        out[measure] = dict(coarse)
    return out


def _encode(cubes: dict[str, Cube]) -> str:
    return json.dumps({m: [[s, g, x, n] for (s, g, x), n in cube.items()] for m, cube in cubes.items()},
                      separators=(",", ":"))


def _decode(text: str) -> dict[str, Cube]:
    return {m: {(s, g, x): n for s, g, x, n in rows} for m, rows in json.loads(text).items()}


def rollup_stamp(ctx: Context, today: date) -> str:
    """What a rollup of this context must have been computed from to be reused.

    Closed: the campaigns and their closing times. Running: the campaigns and the day (interview deadlines count
    against today), so a new campaign in the term, a campaign closing or midnight all invalidate it.
    """
    if ctx.closed_stamp is not None:
        return f"{ctx.closed_stamp}|{ROLLUP_VERSION}"
    return "open:" + ",".join(map(str, ctx.campaign_ids)) + f"@{today.isoformat()}|{ROLLUP_VERSION}"


def _max_age(ctx: Context, max_age: timedelta | None, open_max_age: timedelta | None) -> timedelta | None:
    if max_age is None or open_max_age is None and ctx.closed_stamp is None:
        return None
    return max_age if ctx.closed_stamp is not None else min(max_age, open_max_age)  # type: ignore[type-var]


def read_rollup(db: Session, key: str) -> tuple[str, datetime, str] | None:
    row = db.execute(select(DistrictRollup.stamp, DistrictRollup.refreshed_at, DistrictRollup.cubes)
                     .where(DistrictRollup.key == key).group_by(DistrictRollup.key, DistrictRollup.stamp,
                                                                DistrictRollup.refreshed_at, DistrictRollup.cubes)).first()
    return None if row is None else (row[0], row[1], row[2])


def cached_screening_cubes(db: Session, district_id: int | None, selection: Selection, ctx: Context, today: date,
                           tz_name: str, detail: str, max_age: timedelta | None,
                           open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE) -> dict[str, Cube]:
    """The screening measures, from a maintained rollup while it is fresh; sets `ctx.as_of`.

    A rollup is used while its stamp (see `rollup_stamp`) matches and it is younger than `max_age` (closed
    campaigns: follow-up figures still move — late interviews, cases closing) or `open_max_age` (a campaign still
    running); otherwise the figures are computed from the screenings and the rollup is written again.
    `max_age=None` (or `open_max_age=None` for a running selection) always computes live and writes nothing.
    """
    age = _max_age(ctx, max_age, open_max_age)
    if age is None or not ctx.campaign_ids:
        ctx.as_of = utcnow()
        cubes = screening_cubes(db, ctx, today, tz_name)
        return coarsen(cubes, ctx) if detail == "coarse" else cubes
    stamp = rollup_stamp(ctx, today)
    row = read_rollup(db, rollup_key(district_id, selection, detail))
    if row is not None and row[0] == stamp and utcnow() - row[1] < age:
        ctx.as_of = row[1]
        return _decode(row[2])
    cubes = screening_cubes(db, ctx, today, tz_name)
    ctx.as_of = store_rollups(db, district_id, selection, ctx, cubes, stamp)
    return coarsen(cubes, ctx) if detail == "coarse" else cubes


def store_rollups(db: Session, district_id: int | None, selection: Selection, ctx: Context, cubes: dict[str, Cube],
                  stamp: str) -> datetime:
    """Write the full and coarse rollups of a selection (replacing older ones). Flushes, never commits.

    Returns the refresh time written. The counts must have been computed just before (the time is taken here)."""
    now = utcnow()
    for detail, data in (("full", cubes), ("coarse", coarsen(cubes, ctx))):
        key = rollup_key(district_id, selection, detail)
        try:
            with db.begin_nested():
                db.execute(delete(DistrictRollup).where(DistrictRollup.key == key))
                db.execute(insert(DistrictRollup).values(key=key, stamp=stamp, refreshed_at=now, cubes=_encode(data)))
        except IntegrityError:  # another request wrote the same rollup a moment ago: theirs is as good
            pass
        except OperationalError:
            # A read request (SQLite: deferred BEGIN) whose snapshot is older than another writer's commit cannot
            # take the write lock (SQLITE_BUSY_SNAPSHOT): the figures computed are still shown, not stored.
            if db.get_bind().dialect.name != "sqlite":
                raise
    return now


def refresh_rollups(db: Session, district_id: int | None, today: date, tz_name: str = "Asia/Shanghai",
                    *, running: bool = False, due_within: timedelta | None = None,
                    max_age: timedelta = ROLLUP_MAX_AGE, open_max_age: timedelta = OPEN_ROLLUP_MAX_AGE) -> list[str]:
    """Recompute rollups (`flask district refresh-rollups`, the scheduler jobs). Returns the terms refreshed.

    Default: every term whose campaigns are all closed. `running=True`: terms with a running campaign too (and,
    when such a term has a single campaign, the same counts stored under that campaign's selection, whose figures
    are identical). `due_within`: only rollups that are missing, computed from other campaigns, or would expire
    within that time (the frequent job; a term rolled up a moment ago is not computed again).
    """
    done = []
    for term in list_terms(db, district_id):
        selection = Selection(term, None)
        ctx = load_context(db, district_id, selection)
        if not ctx.campaign_ids or (ctx.closed_stamp is None and not running):
            continue
        stamp = rollup_stamp(ctx, today)
        if due_within is not None:
            row = read_rollup(db, rollup_key(district_id, selection, "full"))
            age = max_age if ctx.closed_stamp is not None else min(max_age, open_max_age)
            if row is not None and row[0] == stamp and utcnow() - row[1] + due_within < age:
                continue
        cubes = screening_cubes(db, ctx, today, tz_name)
        store_rollups(db, district_id, selection, ctx, cubes, stamp)
        if len(ctx.campaign_ids) == 1:
            one = Selection(None, ctx.campaign_ids[0])
            one_ctx = load_context(db, district_id, one)
            if one_ctx.campaign_ids == ctx.campaign_ids and one_ctx.eligible == ctx.eligible:
                store_rollups(db, district_id, one, one_ctx, cubes, rollup_stamp(one_ctx, today))
        done.append(term)
    return done


# -- staffing -----------------------------------------------------------------------------------------------
@dataclass
class StaffingRow:
    school: SchoolInfo
    full_time: int
    part_time: int
    students_text: str
    per_counselor: str
    gap: bool


def staffing(db: Session, district_id: int | None, k: int) -> tuple[list[StaffingRow], int]:
    """Counselors per school and students per full-time counselor; two-type schools with none are gaps.

    Student counts here are the school's enrolled students; a count below k reads "<k" and the ratio over it
    is hidden, like everywhere else. Returns the rows and the number of distinct full-time counselors.
    """
    from .suppression import cell_text

    schools = _district_schools(db, district_id, with_enrolled=True)
    counts: dict[int, tuple[int, int]] = {}
    stmt = (
        select(counselor_schools.c.school_id,
               func.count(case((User.full_time.is_(True), User.id))),
               func.count(case((User.full_time.is_(False), User.id))))
        .join(User, User.id == counselor_schools.c.user_id)
        .where(User.role == "counselor", User.active.is_(True))
        .group_by(counselor_schools.c.school_id)
    )
    for sid, ft, pt in db.execute(stmt):
        counts[sid] = (int(ft), int(pt))
    total_ft = db.execute(
        select(func.count(distinct(User.id)))
        .join(counselor_schools, counselor_schools.c.user_id == User.id)
        .where(User.role == "counselor", User.active.is_(True), User.full_time.is_(True),
               counselor_schools.c.school_id.in_(list(schools) or [-1]))
    ).scalar_one()
    rows = []
    for school in schools.values():
        ft, pt = counts.get(school.id, (0, 0))
        n = school.enrolled_all
        small = 1 <= n < k
        text = cell_text(n, "primary" if small else "shown", k)
        ratio = "—" if small or ft == 0 else f"{n / ft:.0f}"
        rows.append(StaffingRow(school, ft, pt, text, ratio, school.type in TWO_TYPES and ft == 0))
    return rows, int(total_ft)


# -- trends -------------------------------------------------------------------------------------------------
@dataclass
class TrendPoint:
    term: str
    figures: Figures
    scopes: Scopes
    as_of: datetime | None = None  # when this term's figures were computed


def trends(db: Session, district_id: int | None, k: int, today: date, tz_name: str = "Asia/Shanghai",
           limit: int = 10, rollup_max_age: timedelta | None = ROLLUP_MAX_AGE,
           open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE) -> list[TrendPoint]:
    """District-level figures (levels 0-1: district, each type / stage / grade / gender) for each term."""
    out = []
    enrolled = enrolled_by_school(db, _district_schools(db, district_id))
    for term in list_terms(db, district_id)[-limit:]:
        ctx, figures = compute_figures(db, district_id, Selection(term, None), k, today, tz_name, max_level=1,
                                       enrolled=enrolled, rollup_max_age=rollup_max_age, open_max_age=open_max_age)
        out.append(TrendPoint(term, figures, figures.scopes, ctx.as_of))
    return out
