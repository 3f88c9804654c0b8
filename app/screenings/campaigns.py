"""Screening campaigns (测评计划): creating and closing them, opt-outs, which instruments a grade answers, and the
progress of each class.

Functions take the database session and the acting user (audit Actor) explicitly and flush, never commit.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from app.listing import Listing, ListSpec, Page
from app.roster.search import name_sort_key
from models import (
    Actor,
    Campaign,
    CampaignInstrument,
    CampaignOptOut,
    ClassSession,
    ResponseDraft,
    School,
    SchoolClass,
    Screening,
    Student,
    User,
    append_event,
    campaign_schools,
    utcnow,
)
from models.vault import Vault
from screening import get_instrument, list_instruments

from .recording import ScreeningError, chunks, grade_refusal_text


def student_instruments() -> list[str]:
    """Instruments a student may complete themselves (parent reports such as PSC-17 excluded)."""
    return [i.id for i in list_instruments() if i.audience == "student"]


@dataclass
class InstrumentRule:
    instrument_id: str
    grade_from: int
    grade_to: int


def rule_refusal(rule: InstrumentRule) -> str | None:
    """Why a rule cannot be part of a campaign (grades outside 1–9, or outside the instrument's validated
    grades: PHQ-9 for grade 1), naming the instrument and the first grade refused; None when it can."""
    if not (1 <= rule.grade_from <= rule.grade_to <= 9):
        return f"grades {rule.grade_from}–{rule.grade_to} are not a range within 1–9"
    for grade in range(rule.grade_from, rule.grade_to + 1):
        refusal = grade_refusal_text(rule.instrument_id, grade)
        if refusal is not None:
            return refusal
    return None


def grades_without_suicide_item(rules: Sequence[InstrumentRule]) -> list[int]:
    """The grades the rules screen with no instrument that asks about suicide (no critical item): a campaign form
    warns before leaving a grade so (a suicidal 10-year-old answering only CES-DC is never flagged)."""
    screened: set[int] = set()
    covered: set[int] = set()
    for rule in rules:
        grades = set(range(rule.grade_from, rule.grade_to + 1))
        screened |= grades
        if get_instrument(rule.instrument_id).has_suicide_item:
            covered |= grades
    return sorted(screened - covered)


def suicide_item_instruments(grade: int) -> list[str]:
    """Short names of the student instruments with a suicide item that `grade` may take (for the warning)."""
    return [i.short_name for i in list_instruments()
            if i.audience == "student" and i.has_suicide_item and i.grade_allowed(grade)]


def create_campaign(
    db: Session,
    actor: Actor,
    *,
    name: str,
    term: str,
    starts_on: date,
    ends_on: date,
    schools: Sequence[School],
    rules: Sequence[InstrumentRule],
    guardian_notice: str | None = None,
    guardian_notice_on: date | None = None,
    created_by: User | None = None,
) -> Campaign:
    if ends_on < starts_on:
        raise ScreeningError("the window ends before it starts", code="window")
    if not schools:
        raise ScreeningError("choose at least one school", code="schools")
    if not rules:
        raise ScreeningError("choose at least one instrument", code="rules")
    campaign = Campaign(
        name=name.strip(), term=term.strip(), starts_on=starts_on, ends_on=ends_on, status="open",
        guardian_notice=(guardian_notice or None), guardian_notice_on=guardian_notice_on,
        created_by_id=created_by.id if created_by else actor.user_id,
    )
    campaign.schools = list(schools)
    for rule in rules:
        get_instrument(rule.instrument_id)
        refusal = rule_refusal(rule)
        if refusal is not None:
            raise ScreeningError(refusal, code="grades")
        campaign.instruments.append(
            CampaignInstrument(instrument_id=rule.instrument_id, grade_from=rule.grade_from, grade_to=rule.grade_to)
        )
    db.add(campaign)
    db.flush()
    append_event(db, actor, "campaign.created", target=f"campaign:{campaign.id}",
                 detail={"term": campaign.term, "schools": [s.code for s in schools]})
    return campaign


class CampaignScopeError(PermissionError):
    """The action touches a school outside the user's scope (the view answers 403; nothing is changed)."""


def covers_only_schools_of(campaign: Campaign, user: User | None) -> bool:
    """True when every school the campaign covers is one of the user's (a user of None: the system, the CLI)."""
    if user is None:
        return True
    return {s.id for s in campaign.schools} <= set(user.school_ids)


def close_campaign(db: Session, actor: Actor, campaign: Campaign, user: User | None = None) -> None:
    """Close the campaign and every open session of it, in every school it covers: so only a user whose scope
    holds all those schools may (a counselor of one of them closes their own class sessions instead)."""
    if not covers_only_schools_of(campaign, user):
        raise CampaignScopeError("the campaign covers schools outside your scope")
    if campaign.status == "closed":
        return
    campaign.status = "closed"
    campaign.closed_at = utcnow()
    now = utcnow()
    for cs in db.scalars(
        select(ClassSession).where(ClassSession.campaign_id == campaign.id, ClassSession.closed_at.is_(None))
    ):
        cs.closed_at = now
    append_event(db, actor, "campaign.closed", target=f"campaign:{campaign.id}")
    db.flush()


def set_opt_outs(db: Session, actor: Actor, campaign: Campaign, klass: SchoolClass, opted_out: Iterable[int],
                 user: User | None = None) -> tuple[int, int]:
    """Make the opted-out students of one class exactly `opted_out` (student ids); returns (added, removed)."""
    class_ids = set(db.scalars(select(Student.id).where(Student.class_id == klass.id)))
    wanted = {sid for sid in opted_out if sid in class_ids}
    current = set(db.scalars(select(CampaignOptOut.student_id).where(
        CampaignOptOut.campaign_id == campaign.id, CampaignOptOut.student_id.in_(class_ids))))
    added, removed = wanted - current, current - wanted
    for sid in sorted(added):
        db.add(
            CampaignOptOut(campaign_id=campaign.id, student_id=sid, recorded_by_id=user.id if user else actor.user_id)
        )
    if removed:
        db.execute(delete(CampaignOptOut).where(CampaignOptOut.campaign_id == campaign.id,
                                                CampaignOptOut.student_id.in_(removed)))
    if added or removed:
        append_event(db, actor, "campaign.opt_outs", target=f"campaign:{campaign.id}",
                     detail={"class": klass.id, "added": len(added), "removed": len(removed)})
    db.flush()
    return len(added), len(removed)


def opted_out_ids(db: Session, campaign_id: int, student_ids: Iterable[int]) -> set[int]:
    """Which of `student_ids` opted out of the campaign (one query, the per-class form)."""
    ids = list(student_ids)
    if not ids:
        return set()
    return set(db.scalars(select(CampaignOptOut.student_id).where(
        CampaignOptOut.campaign_id == campaign_id, CampaignOptOut.student_id.in_(ids))))


@dataclass
class OptOutRow:
    student: Student
    recorded_at: datetime
    name: str | None = None


OPT_OUT_LIST = ListSpec(sorts=("name", "school", "class", "recorded"), default="class")


def opt_out_list(db: Session, vault: Vault, user: User, campaign: Campaign, listing: Listing) -> Page[OptOutRow]:
    """One page of the campaign's opted-out students in the user's scope, filtered and sorted by app/listing.py.
    Only the page's names are opened (one audit event), unless the list is sorted by name: then the filtered
    scope's are, to sort them (one event, `to_sort`)."""
    stmt = (
        select(Student, CampaignOptOut.recorded_at)
        .join(CampaignOptOut, CampaignOptOut.student_id == Student.id)
        .options(joinedload(Student.school), joinedload(Student.school_class))
        .where(CampaignOptOut.campaign_id == campaign.id, Student.visible_to(user), Student.status != "erased")
        .order_by(Student.school_id, Student.grade, Student.class_id, Student.id)
    )
    stmt = listing.where(stmt, Student.school_id, Student.grade, Student.class_id)
    rows = [OptOutRow(s, at) for s, at in db.execute(stmt).unique()]
    detail: dict[str, Any] = {"purpose": "opt_outs", "campaign": campaign.id, "sort": listing.sort_arg}
    if listing.sort_key == "name" and rows:
        names = vault.reveal_many([r.student for r in rows], "roster.list", columns=("name",),
                                  detail={**detail, "to_sort": True})
        for r in rows:
            r.name = names[r.student.id].name
    page = listing.page_of(listing.sort(rows, {
        "name": lambda r: name_sort_key(r.name),
        "school": lambda r: r.student.school.code,
        "class": lambda r: (r.student.grade, r.student.school_class.name) if r.student.school_class else None,
        "recorded": lambda r: r.recorded_at,
    }))
    if listing.sort_key != "name" and page.rows:
        names = vault.reveal_many([r.student for r in page.rows], "roster.list", columns=("name",),
                                  detail={**detail, "page": page.page})
        for r in page.rows:
            r.name = names[r.student.id].name
    return page


def is_opted_out(db: Session, campaign_id: int, student_id: int) -> bool:
    return db.scalar(select(CampaignOptOut.student_id).where(
        CampaignOptOut.campaign_id == campaign_id, CampaignOptOut.student_id == student_id)) is not None


def campaign_classes(db: Session, campaign: Campaign, school_ids: Iterable[int] | None = None) -> list[SchoolClass]:
    """Classes of the campaign's schools (optionally limited) whose grade has at least one instrument."""
    ids = [s.id for s in campaign.schools]
    if school_ids is not None:
        allowed = set(school_ids)
        ids = [i for i in ids if i in allowed]
    if not ids:
        return []
    grades = {g for ci in campaign.instruments for g in range(ci.grade_from, ci.grade_to + 1)}
    return list(db.scalars(select(SchoolClass).where(SchoolClass.school_id.in_(ids), SchoolClass.grade.in_(grades))
                           .order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)))


def self_instruments_for(campaign: Campaign, grade: int) -> list[str]:
    student_ids = set(student_instruments())
    return [i for i in dict.fromkeys(campaign.instruments_for_grade(grade)) if i in student_ids]


@dataclass
class StudentProgress:
    student_id: int
    status: str  # completed / in_progress / not_started / opted_out
    done: int = 0
    assigned: int = 0


@dataclass
class ClassProgress:
    klass: SchoolClass
    assigned: int = 0
    completed: int = 0
    in_progress: int = 0
    not_started: int = 0
    opted_out: int = 0
    students: list[StudentProgress] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(100 * self.completed / self.assigned) if self.assigned else 0


def class_progress(db: Session, campaign: Campaign, classes: Sequence[SchoolClass], *,
                   self_only: bool = False) -> list[ClassProgress]:
    """Per class: assigned (enrolled, not opted out), completed (every assigned instrument done), in progress
    (something done or a draft saved), not started, opted out. A few grouped queries for all classes.

    `self_only`: count only the instruments students answer themselves (a class session's view)."""
    if not classes:
        return []
    class_ids = [c.id for c in classes]
    students = db.execute(select(Student.id, Student.class_id, Student.grade).where(
        Student.class_id.in_(class_ids), Student.status == "enrolled").order_by(Student.id)).all()
    sids = [s.id for s in students]
    opted = set(db.scalars(select(CampaignOptOut.student_id).where(CampaignOptOut.campaign_id == campaign.id)))
    done: dict[int, set[str]] = {}
    drafts: set[int] = set()
    for chunk in chunks(sids, 900):
        for sid, inst in db.execute(select(Screening.student_id, Screening.instrument_id).where(
                Screening.campaign_id == campaign.id, Screening.student_id.in_(chunk))):
            done.setdefault(sid, set()).add(inst)
        drafts.update(
            db.scalars(
                select(ResponseDraft.student_id)
                .join(ClassSession, ClassSession.id == ResponseDraft.session_id)
                .where(ClassSession.campaign_id == campaign.id, ResponseDraft.student_id.in_(chunk))
            )
        )
    by_class = {c.id: ClassProgress(c) for c in classes}
    for sid, cid, grade in students:
        cp = by_class[cid]
        assigned = set(self_instruments_for(campaign, grade) if self_only else campaign.instruments_for_grade(grade))
        got = done.get(sid, set()) & assigned
        if sid in opted:
            cp.opted_out += 1
            cp.students.append(StudentProgress(sid, "opted_out", len(got), len(assigned)))
            continue
        cp.assigned += 1
        if assigned and got >= assigned:
            status = "completed"
            cp.completed += 1
        elif got or sid in drafts:
            status = "in_progress"
            cp.in_progress += 1
        else:
            status = "not_started"
            cp.not_started += 1
        cp.students.append(StudentProgress(sid, status, len(got), len(assigned)))
    return [by_class[c.id] for c in classes]


def open_campaigns_for_school(db: Session, school_id: int) -> list[Campaign]:
    return list(db.scalars(select(Campaign).join(campaign_schools, campaign_schools.c.campaign_id == Campaign.id)
                           .where(campaign_schools.c.school_id == school_id, Campaign.status == "open")
                           .order_by(Campaign.starts_on.desc())))
