"""Care reads: the counselor's worklist, the head teacher's class care list, the care-group roster.

Each list is a fixed handful of queries whatever the size of the school (columns, not objects; one query per
source), then the names of the listed students through ONE `reveal_many` (one audit event).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, joinedload

from app.listing import Listing, ListSpec, Page, ScopeOptions
from app.policies import warning_policy
from app.roster.search import name_sort_key
from app.texts import pick
from models import (
    CareCase,
    CareCheckin,
    CaseEntry,
    Recheck,
    SafetyAssessment,
    SafetyPlan,
    School,
    SchoolClass,
    Screening,
    Student,
    StudentCareGroup,
    User,
    Warning,
)
from models.vault import Identity, Vault
from screening.scoring import FLAG_ACUTE

from .policy import (
    ACTIVE_CASE_STATUSES,
    PENDING_RECHECK_STATUSES,
    TIER_OF_LEVEL,
    checkin_due_on,
    next_checkin_due,
    term_of,
    term_start,
    triggering_groups,
)

SOURCE_LIMIT = 500  # rows per source on one page; the rest shows on the source's own list
SECTIONS = ("crisis", "overdue", "today", "week")
# Within a section: clinical work first, the routine termly check-ins last.
KIND_ORDER = {"help_urgent": 0, "help": 6,  # help requests (app/care/help_requests.py)
              "crisis": 0, "assessment": 1, "referral_due": 2, "referral_feedback": 2, "interview": 3, "recheck": 4,
              "safety_plan_review": 5,
              "observation": 6, "plan": 7, "plan_review": 8, "checkin": 9}


@dataclass
class WorkItem:
    # crisis, assessment (a level-1 warning's safety assessment, due its day), referral_due (further evaluation),
    # referral_feedback (a referral with no feedback from the service),
    # safety_plan_review, interview, plan, plan_review, recheck, checkin, observation
    kind: str
    student_id: int
    due: date
    since: date | datetime
    detail: str = ""
    level: str | None = None
    ref: str | None = None  # uid of the warning / case for a deep link
    section: str = ""
    name: str | None = None
    class_name: str | None = None
    public_id: str = ""
    now: bool = False  # an acute answer (ASQ question 5): listed above every other row, whatever its section


# Sections the page shortens to their most urgent rows (crises are always listed in full).
SHORTENED = ("overdue", "today", "week")


@dataclass
class Worklist:
    sections: dict[str, list[WorkItem]] = field(default_factory=lambda: {s: [] for s in SECTIONS})
    totals: dict[str, int] = field(default_factory=lambda: {s: 0 for s in SECTIONS})  # before any shortening
    limit: int | None = None

    @property
    def count(self) -> int:
        return sum(self.totals.values())

    def hidden(self, section: str) -> int:
        """Rows of the section not listed (shortened to the most urgent `limit`)."""
        return self.totals[section] - len(self.sections[section])


def _level_names() -> set[str]:
    """Every level's name in every language (the prefix `_reason_text` drops)."""
    return {name for info in warning_policy().levels.values() for name in info.name.values()}


def _reason_text(reasons_json: str, locale: str, names: set[str] | None = None) -> str:
    """The first (most urgent) rule reason, without its level prefix: the row already shows the level badge.
    `names`: `_level_names()`, computed once by a caller listing many rows."""
    try:
        reasons = json.loads(reasons_json or "[]")
    except ValueError:
        return ""
    if not reasons:
        return ""
    text = pick(reasons[0], locale)
    if names is None:
        names = _level_names()
    for sep in ("：", ": "):
        head, found, rest = text.partition(sep)
        if found and head in names:
            return rest
    return text


def _local_date(value: datetime, tz: Any) -> date:
    return value.astimezone(tz).date()


def worklist(db: Session, user: User, vault: Vault, today: date, tz: Any, locale: str = "zh", *,
             limit: int | None = None, show: str | None = None) -> Worklist:
    """Most urgent first: unacknowledged crises, then overdue, due today and due this week.

    With `limit`, the overdue / today / week sections keep their `limit` most urgent rows (clinical work first, then
    the earliest due) except the section named by `show`, listed in full; `totals` keeps every section's size.
    Only listed students' names are revealed (one `reveal_many`, one audit event)."""
    school_ids = user.school_ids
    week_end = today + timedelta(days=6)
    items: list[WorkItem] = []
    if school_ids:
        items += _warning_items(db, school_ids, today, week_end, tz, locale)
        items += _case_items(db, school_ids, week_end, tz)
        items += _crisis_items(db, school_ids, week_end, tz)
        items += _referral_feedback_items(db, school_ids, today)
        items += _recheck_items(db, school_ids, week_end)
        items += _checkin_items(db, school_ids, today, week_end)
        items += _observation_items(db, school_ids, tz)
        items += _help_items(db, school_ids, tz)
    out = Worklist(limit=limit)
    for item in items:
        if item.kind in ("crisis", "help_urgent"):
            item.section = "crisis"
        elif item.due < today:
            item.section = "overdue"
        elif item.due == today:
            item.section = "today"
        else:
            item.section = "week"
        out.sections[item.section].append(item)
    for section, rows in out.sections.items():
        rows.sort(key=lambda i: (not i.now, KIND_ORDER[i.kind], i.due, i.student_id))
        out.totals[section] = len(rows)
        if limit is not None and section in SHORTENED and section != show:
            del rows[limit:]
    listed = [i for rows in out.sections.values() for i in rows]
    _attach_students(db, vault, listed, "care.worklist", with_school=len(school_ids) > 1)
    return out


def _warning_items(
    db: Session, school_ids: list[int], today: date, week_end: date, tz: Any, locale: str
) -> list[WorkItem]:
    rows = db.execute(
        select(Warning.uid, Warning.student_id, Warning.suggested_level, Warning.confirmed_level, Warning.status,
               Warning.reasons, Warning.interview_due_on, Warning.created_at, Warning.acknowledged_at,
               Screening.flags)
        .outerjoin(Screening, Screening.id == Warning.screening_id)
        .where(
            Warning.school_id.in_(school_ids),
            or_(
                and_(Warning.status == "suggested", Warning.suggested_level.in_(("L1", "L2", "L3"))),
                and_(Warning.status == "confirmed", Warning.confirmed_level == "L1", Warning.acknowledged_at.is_(None)),
            ),
        )
        .order_by(Warning.created_at)
        .limit(SOURCE_LIMIT)
    ).all()
    out = []
    names = _level_names()
    for uid, student_id, suggested, confirmed, status, reasons, due_on, created, acked, flags in rows:
        level = confirmed or suggested
        created_day = _local_date(created, tz)
        if level == "L1" and (status == "suggested" or acked is None):
            out.append(WorkItem("crisis", student_id, created_day, created, _reason_text(reasons, locale, names), level,
                                uid, now=_is_acute(flags)))
            continue
        due = due_on or created_day
        if due <= week_end:
            out.append(WorkItem("interview", student_id, due, created, _reason_text(reasons, locale, names), level,
                                uid))
    return out


def _is_acute(flags_json: str | None) -> bool:
    """The screening behind the warning had an acute answer (the engine's flag "acute", e.g. ASQ question 5)."""
    try:
        return FLAG_ACUTE in json.loads(flags_json or "[]")
    except ValueError:
        return False


def _case_items(db: Session, school_ids: list[int], week_end: date, tz: Any) -> list[WorkItem]:
    rows = db.execute(
        select(CareCase.uid, CareCase.student_id, CareCase.level, CareCase.plan_review_on, CareCase.opened_at,
               CareCase.plan_enc.is_(None))
        .where(CareCase.school_id.in_(school_ids), CareCase.status.in_(ACTIVE_CASE_STATUSES))
        .where(or_(CareCase.plan_enc.is_(None), CareCase.plan_review_on <= week_end))
        .limit(SOURCE_LIMIT)
    ).all()
    out = []
    for uid, student_id, level, review_on, opened_at, no_plan in rows:
        if no_plan:
            # A case without a plan: write the 一生一策 within a week of opening it.
            due = _local_date(opened_at, tz) + timedelta(days=7)
            if due <= week_end:
                out.append(WorkItem("plan", student_id, due, opened_at, "", level, uid))
        elif review_on is not None:
            out.append(WorkItem("plan_review", student_id, review_on, opened_at, "", level, uid))
    return out


def _crisis_items(db: Session, school_ids: list[int], week_end: date, tz: Any) -> list[WorkItem]:
    """The crisis response (app/care/crisis.py): a level-1 warning acknowledged but not yet assessed (due its own
    day), a further-evaluation referral not yet recorded (due `referral_days()` after the assessment), and a safety
    plan whose review date is within the week or past."""
    from .crisis import referral_days

    out: list[WorkItem] = []
    assessed = exists().where(SafetyAssessment.warning_id == Warning.id)
    unassessed = db.execute(
        select(Warning.uid, Warning.student_id, Warning.created_at)
        .where(Warning.school_id.in_(school_ids), Warning.status == "confirmed", Warning.confirmed_level == "L1",
               Warning.acknowledged_at.is_not(None), ~assessed)
        .order_by(Warning.created_at).limit(SOURCE_LIMIT)
    ).all()
    out += [WorkItem("assessment", sid, _local_date(created, tz), created, "", "L1", uid)
            for uid, sid, created in unassessed]

    latest = (
        select(SafetyAssessment.warning_id, func.max(SafetyAssessment.id).label("aid"))
        .group_by(SafetyAssessment.warning_id).subquery("latest_assessment")
    )
    rows = db.execute(
        select(Warning.uid, Warning.student_id, Warning.created_at, SafetyAssessment.assessed_at)
        .join(latest, latest.c.warning_id == Warning.id)
        .join(SafetyAssessment, SafetyAssessment.id == latest.c.aid)
        .where(Warning.school_id.in_(school_ids), Warning.status.in_(("suggested", "confirmed")),
               func.coalesce(Warning.confirmed_level, Warning.suggested_level) == "L1",
               SafetyAssessment.outcome == "further_evaluation")
        .limit(SOURCE_LIMIT)
    ).all()
    if rows:
        referred: dict[int, list[date]] = {}
        for sid, day in db.execute(
            select(CaseEntry.student_id, CaseEntry.occurred_on)
            .where(CaseEntry.kind == "referral", CaseEntry.student_id.in_({r[1] for r in rows}))
        ):
            referred.setdefault(sid, []).append(day)
        days = referral_days()
        for uid, sid, created, assessed_at in rows:
            warning_day = _local_date(created, tz)
            if any(day >= warning_day for day in referred.get(sid, ())):
                continue
            due = _local_date(assessed_at, tz) + timedelta(days=days)
            if due <= week_end:
                out.append(WorkItem("referral_due", sid, due, assessed_at, "", "L1", uid))

    plans = db.execute(
        select(CareCase.uid, SafetyPlan.student_id, SafetyPlan.review_on, SafetyPlan.created_at)
        .join(CareCase, CareCase.id == SafetyPlan.case_id)
        .where(CareCase.school_id.in_(school_ids), CareCase.status.in_(ACTIVE_CASE_STATUSES),
               SafetyPlan.status == "active", SafetyPlan.review_on <= week_end)
        .limit(SOURCE_LIMIT)
    ).all()
    out += [WorkItem("safety_plan_review", sid, review_on, created, "", None, uid)
            for uid, sid, review_on, created in plans if review_on is not None]
    return out


def _referral_feedback_items(db: Session, school_ids: list[int], today: date) -> list[WorkItem]:
    """A referral still waiting for the service's feedback (app/care/referrals.py) `feedback_days()` after it was
    made: planned, sent or accepted, no feedback recorded, of an enrolled student of the counselor's schools.
    Listed from that day on (today, then overdue), not before: until then no feedback is simply not late."""
    from .referrals import OPEN_STATUSES, feedback_days

    latest_made = today - timedelta(days=feedback_days())
    rows = db.execute(
        select(CaseEntry.uid, CaseEntry.student_id, CaseEntry.occurred_on)
        .join(Student, Student.id == CaseEntry.student_id)
        .where(Student.school_id.in_(school_ids), Student.status == "enrolled", CaseEntry.kind == "referral",
               CaseEntry.referral_status.in_(OPEN_STATUSES), CaseEntry.feedback_at.is_(None),
               CaseEntry.occurred_on <= latest_made)
        .order_by(CaseEntry.occurred_on)
        .limit(SOURCE_LIMIT)
    ).all()
    days = feedback_days()
    return [WorkItem("referral_feedback", sid, made + timedelta(days=days), made, "", None, uid)
            for uid, sid, made in rows]


def _recheck_items(db: Session, school_ids: list[int], week_end: date) -> list[WorkItem]:
    rows = db.execute(
        select(Recheck.id, Recheck.student_id, Recheck.level, Recheck.instrument_id, Recheck.due_on, Recheck.status)
        .where(Recheck.school_id.in_(school_ids), Recheck.status.in_(PENDING_RECHECK_STATUSES),
               Recheck.due_on <= week_end)
        .order_by(Recheck.due_on)
        .limit(SOURCE_LIMIT)
    ).all()
    return [
        WorkItem("recheck", sid, due, due, instrument, level, str(rid)) for rid, sid, level, instrument, due, _ in rows
    ]


def _checkin_items(db: Session, school_ids: list[int], today: date, week_end: date) -> list[WorkItem]:
    term = term_of(today)
    due = checkin_due_on(term)
    groups = triggering_groups()
    if due > week_end or not groups:
        return []
    rows = db.execute(
        select(Student.id)
        .where(
            Student.school_id.in_(school_ids),
            Student.status == "enrolled",
            exists().where(StudentCareGroup.student_id == Student.id, StudentCareGroup.group.in_(groups)),
            ~exists().where(CareCheckin.student_id == Student.id, CareCheckin.term == term),
        )
        .order_by(Student.class_id, Student.id)
        .limit(SOURCE_LIMIT)
    ).scalars().all()
    return [WorkItem("checkin", sid, due, term_start(term)) for sid in rows]


def _observation_items(db: Session, school_ids: list[int], tz: Any) -> list[WorkItem]:
    rows = db.execute(
        select(CaseEntry.uid, CaseEntry.student_id, CaseEntry.kind, CaseEntry.created_at)
        .join(Student, Student.id == CaseEntry.student_id)
        .where(Student.school_id.in_(school_ids), CaseEntry.seen_by_counselor_at.is_(None))
        .order_by(CaseEntry.created_at)
        .limit(SOURCE_LIMIT)
    ).all()
    # An unread observation is due the day after it arrives.
    return [WorkItem("observation", sid, _local_date(at, tz) + timedelta(days=1), at, kind, None, uid)
            for uid, sid, kind, at in rows]


def _help_items(db: Session, school_ids: list[int], tz: Any) -> list[WorkItem]:
    """Unacknowledged help requests: urgent ones with the crises; "soon" due the day it came, "whenever" within
    the week (app/care/help_requests.py)."""
    from models import HelpRequest

    rows = db.execute(
        select(HelpRequest.uid, HelpRequest.student_id, HelpRequest.urgency, HelpRequest.created_at,
               HelpRequest.raised_by)
        .where(HelpRequest.school_id.in_(school_ids), HelpRequest.acknowledged_at.is_(None))
        .order_by(HelpRequest.created_at)
        .limit(SOURCE_LIMIT)
    ).all()
    out = []
    for uid, sid, urgency, at, raised_by in rows:
        day = _local_date(at, tz)
        kind = "help_urgent" if urgency == "urgent" else "help"
        out.append(WorkItem(kind, sid, day + timedelta(days=6 if urgency == "whenever" else 0), at, raised_by,
                            None, uid))
    return out


def _attach_students(
    db: Session, vault: Vault, items: list[Any], action: str, with_school: bool = False
) -> dict[int, Any]:
    """Name, class and public id of each listed item's student. Plain rows of the needed columns (the vault opens
    a name from id, public id, key id and sealed name), not Student objects with their class and school joined:
    a worklist lists up to a few hundred students and the ORM's identity map and joined loads were most of it."""
    ids = sorted({i.student_id for i in items})
    if not ids:
        return {}
    students = _load_students(db, ids)
    names = vault.reveal_many(list(students.values()), action, columns=("name",))
    for item in items:
        s = students.get(item.student_id)
        if s is not None:
            item.name = names.get(s.id, Identity()).name
            item.class_name = s.class_name or ""
            if with_school:  # a counselor of several schools: class names repeat across schools
                item.class_name = f"{s.school_name} {item.class_name}"
            item.public_id = s.public_id
    return students


def _load_students(db: Session, ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        for row in db.execute(
            select(Student.id, Student.public_id, Student.data_key_id, Student.name_enc,
                   SchoolClass.name.label("class_name"), School.name.label("school_name"))
            .outerjoin(SchoolClass, SchoolClass.id == Student.class_id)
            .join(School, School.id == Student.school_id)
            .where(Student.id.in_(chunk))
        ):
            out[row.id] = row
    return out


# -- head teacher ---------------------------------------------------------------------------------------------
@dataclass
class ClassRow:
    student: Student
    tier: str
    name: str | None
    next_check: date | None


def class_care_list(
    db: Session, user: User, vault: Vault, today: date
) -> tuple[dict[str, list[ClassRow]], list[tuple[str, str, str]]]:
    """Students of the head teacher's classes who need attention, by tier; plus every class student for the
    observation form as (public_id, name, class name). Never levels, scores or reasons."""
    students = list(
        db.scalars(
            select(Student).options(joinedload(Student.school_class))
            .where(Student.visible_to(user), Student.status == "enrolled")
            .order_by(Student.class_id, Student.id)
        ).unique()
    )
    tiers: dict[str, list[ClassRow]] = {"close": [], "general": [], "care": []}
    if not students:
        return tiers, []
    sub = select(Student.id).where(Student.visible_to(user))
    cases = {
        sid: (level, review)
        for sid, level, review in db.execute(
            select(CareCase.student_id, CareCase.level, CareCase.plan_review_on)
            .where(CareCase.student_id.in_(sub), CareCase.status.in_(ACTIVE_CASE_STATUSES))
        )
    }
    rechecks = dict(
        db.execute(
            select(Recheck.student_id, func.min(Recheck.due_on))
            .where(Recheck.student_id.in_(sub), Recheck.status.in_(PENDING_RECHECK_STATUSES))
            .group_by(Recheck.student_id)
        ).tuples().all()
    )
    last_terms = dict(
        db.execute(
            select(CareCheckin.student_id, func.max(CareCheckin.term))
            .where(CareCheckin.student_id.in_(sub)).group_by(CareCheckin.student_id)
        ).tuples().all()
    )
    names = vault.reveal_many(students, "care.class_list", columns=("name",), detail={"classes": len(user.class_ids)})
    groups = set(triggering_groups())
    for s in students:
        name = names.get(s.id, Identity()).name
        if s.id in cases and cases[s.id][0] in TIER_OF_LEVEL:
            level, review = cases[s.id]
            dates = [d for d in (rechecks.get(s.id), review) if d is not None]
            tiers[TIER_OF_LEVEL[level]].append(ClassRow(s, TIER_OF_LEVEL[level], name, min(dates) if dates else None))
        elif groups & set(s.care_groups):
            tiers["care"].append(ClassRow(s, "care", name, next_checkin_due(last_terms.get(s.id), today)))
    everyone = [(s.public_id, names.get(s.id, Identity()).name or "", s.school_class.name if s.school_class else "")
                for s in students]
    return tiers, everyone


# -- care-group roster ----------------------------------------------------------------------------------------
@dataclass
class RosterRow:
    student: Student
    name: str | None
    groups: list[str]
    last_checkin: date | None
    next_due: date
    guardian_on_file: bool


ROSTER_LIST = ListSpec(sorts=("name", "school", "class", "group", "last_checkin", "urgency"), default="urgency")


def care_roster(
    db: Session, user: User, vault: Vault, today: date, group: str | None = None, listing: Listing | None = None
) -> Page[RosterRow]:
    """One page of the care-group roster, most urgent first by default (the next check-in date, overdue first;
    never checked in before checked in long ago), sortable by every column but the guardian contact.

    Only the page's names and guardians are opened (one audit event), unless the list is sorted by name: then the
    names of the filtered scope are opened to sort them (one audit event), and the page's guardians after."""
    groups = triggering_groups()
    wanted = (group,) if group in groups else groups
    stmt = (
        select(Student).options(joinedload(Student.school_class), joinedload(Student.school))
        .where(
            Student.visible_to(user), Student.status == "enrolled",
            exists().where(StudentCareGroup.student_id == Student.id, StudentCareGroup.group.in_(wanted)),
        )
        .order_by(Student.school_id, Student.class_id, Student.id)
    )
    if listing is not None:
        stmt = listing.where(stmt, Student.school_id, Student.grade, Student.class_id)
    students = list(db.scalars(stmt).unique())
    sub = select(Student.id).where(Student.visible_to(user))
    last = {
        sid: (day, term)
        for sid, day, term in db.execute(
            select(CareCheckin.student_id, func.max(CareCheckin.occurred_on), func.max(CareCheckin.term))
            .where(CareCheckin.student_id.in_(sub)).group_by(CareCheckin.student_id)
        )
    } if students else {}
    rows = []
    for s in students:
        day, term = last.get(s.id, (None, None))
        rows.append(RosterRow(s, None, [g for g in s.care_groups if g in groups], day, next_checkin_due(term, today),
                              False))
    if listing is None:
        listing = Listing(ROSTER_LIST, ScopeOptions([], [], []), "urgency", False)
    detail: dict[str, Any] = {"page": listing.page, "sort": listing.sort_arg}
    if listing.sort_key == "name" and rows:
        names = vault.reveal_many(students, "care.roster", columns=("name",), detail={**detail, "to_sort": True})
        for r in rows:
            r.name = names.get(r.student.id, Identity()).name
    keys = {
        "name": lambda r: name_sort_key(r.name),
        "school": lambda r: r.student.school.code if r.student.school else None,
        "class": lambda r: (r.student.grade, r.student.school_class.name) if r.student.school_class else None,
        "group": lambda r: tuple(sorted(r.groups)) or None,
        "last_checkin": lambda r: r.last_checkin,
        "urgency": lambda r: (r.next_due, r.last_checkin or date.min),
    }
    page = listing.page_of(listing.sort(rows, keys))
    if page.rows:
        columns = ("guardians",) if listing.sort_key == "name" else ("name", "guardians")
        idents = vault.reveal_many([r.student for r in page.rows], "care.roster", columns=columns,
                                   detail={**detail, "page": page.page})
        for r in page.rows:
            ident = idents.get(r.student.id, Identity())
            if "name" in columns:
                r.name = ident.name
            r.guardian_on_file = any((g or {}).get("phone") for g in ident.guardians)
    return page
