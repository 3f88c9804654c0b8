"""Screening in practice: recording a screening (every path), campaigns, class sessions, the interview queue.

Functions take the database session and the acting user (audit Actor) explicitly and flush, never commit.
`record_screening` is the ONE way a screening is stored: from a student's self-completion, a counselor's paper
entry, an import, the demo and the benchmark.
"""
from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.policies import warning_policy
from models import (
    Actor,
    Campaign,
    CampaignInstrument,
    CampaignOptOut,
    ClassSession,
    Notification,
    ResponseDraft,
    School,
    SchoolClass,
    Screening,
    Student,
    User,
    Warning,
    WarningChange,
    append_event,
    campaign_schools,
    counselor_schools,
    utcnow,
)
from models.vault import Vault
from screening import AnswerError, UnknownInstrument, get_instrument, list_instruments, score, suggest_level
from screening.warning import RANK

MODES = ("self", "paper", "import")
INTERVIEW_LEVELS = ("L1", "L2", "L3")
# 6 characters without look-alikes (0/O, 1/I/L): 31^6 ≈ 887 million codes
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
DEFAULT_SESSION_MINUTES = 60
# an identified student may finish the instrument in hand a little after the code expired
SESSION_GRACE = timedelta(minutes=30)
STUDENT_ENTRANCE = "student-entrance"


class ScreeningError(ValueError):
    """A screening that cannot be recorded; `item` names the offending item when there is one."""

    def __init__(self, message: str, item: int | None = None, code: str = "invalid"):
        super().__init__(message)
        self.item = item
        self.code = code


def answer_error_text(exc: ScreeningError) -> str:
    """The error in the reader's language, naming the item."""
    from flask_babel import gettext as _

    if exc.code == "instrument":
        return _("Unknown instrument.")
    if exc.code == "count":
        return _("Wrong number of answers: %(message)s", message=str(exc))
    if exc.item:
        return _("Item %(n)s: the answer is not one of the allowed answers.", n=exc.item)
    return str(exc)


def local_today(tz: str | None = None) -> date:
    return datetime.now(ZoneInfo(tz or os.environ.get("XINMIAO_TIMEZONE") or "Asia/Shanghai")).date()


def add_school_days(start: date, days: int) -> date:
    """`days` weekdays after `start` (weekends skipped; holidays are not known here)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def interview_due(level: str, today: date, policy: Any = None) -> date | None:
    policy = policy or warning_policy()
    window = policy.levels[level].interview_window_days
    if window is None:
        return None
    if level == "L2":  # the policy counts L2's window in school days
        return add_school_days(today, window)
    return today + timedelta(days=window)


def student_instruments() -> list[str]:
    """Instruments a student may complete themselves (parent reports such as PSC-17 excluded)."""
    return [i.id for i in list_instruments() if i.audience == "student"]


def _check_answers(instrument_id: str, answers: Sequence[Any]) -> list[int | None]:
    try:
        inst = get_instrument(instrument_id)
    except UnknownInstrument:
        raise ScreeningError(f"unknown instrument {instrument_id!r}", code="instrument") from None
    if len(answers) != inst.item_count:
        raise ScreeningError(
            f"{inst.short_name} has {inst.item_count} items, got {len(answers)} answers", code="count",
            item=min(len(answers) + 1, inst.item_count),
        )
    if all(type(v) is int for v in answers) and all(v in m for v, m in zip(answers, inst.value_maps)):
        return list(answers)  # the usual case (forms, imports, the demo): every answer already an allowed int
    clean: list[int | None] = []
    for item, value in zip(inst.items, answers):
        if value is None or value == "":
            clean.append(None)
            continue
        try:
            number = int(value) if not isinstance(value, bool) else int(value)
        except (TypeError, ValueError):
            raise ScreeningError(f"item {item.number}: {value!r} is not a number", item=item.number) from None
        try:
            clean.append(item.validate(number))
        except AnswerError as exc:
            raise ScreeningError(str(exc), item=exc.item) from None
    return clean


def record_screening(
    db: Session,
    actor: Actor,
    vault: Vault,
    student: Student,
    instrument_id: str,
    answers: Sequence[Any],
    *,
    mode: str,
    administered_on: date,
    campaign: Campaign | None = None,
    session: ClassSession | None = None,
    recheck: Any = None,
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> Screening:
    """Validate, score, seal the answers, keep the result in clear, suggest a level, open the warning, alert
    counselors of a crisis, flush, then send `signals.screening_recorded` (inside `batch(...)`, a bulk load, the
    flush and the signal happen per group of screenings).

    Raises ScreeningError (naming the item) for an unknown instrument or an answer outside the item's set.
    `today` and `recorded_at` default to now (given for historical loads such as the demo).
    """
    from app.notifications.service import admins, counselors_of_school, notify
    from app.signals import screening_recorded

    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    clean = _check_answers(instrument_id, answers)
    result = score(instrument_id, clean)
    policy = warning_policy()
    level, reasons = suggest_level([result], student.care_groups, policy)
    detail = result.to_dict()
    screening = Screening(
        student_id=student.id,
        school_id=student.school_id,
        class_id=student.class_id,
        grade=student.grade,
        campaign_id=campaign.id if campaign is not None else None,
        session_id=session.id if session is not None else None,
        recheck_id=getattr(recheck, "id", None),
        instrument_id=result.instrument,
        instrument_version=result.version,
        mode=mode,
        administered_on=administered_on,
        recorded_by_id=actor.user_id,
        valid=result.valid,
        total=result.total,
        band=result.band,
        positive=result.positive,
        critical=result.critical,
        flags=json.dumps(list(result.flags)),
        result_json=json.dumps(
            {k: detail[k] for k in ("subscales", "short_forms", "explanation", "symptom_count", "severe",
                                    "critical_items", "missing_items", "reason")},
            ensure_ascii=False,
        ),
        suggested_level=level,
    )
    if recorded_at is not None:
        screening.recorded_at = recorded_at
    vault.seal_into(screening, "answers", clean, student=student)
    db.add(screening)

    warning = None
    if level != "none" and not (level == "care" and _has_open_warning(db, student)):
        today = today or local_today()
        warning = Warning(
            student_id=student.id,
            school_id=student.school_id,
            screening=screening,
            suggested_level=level,
            reasons=json.dumps(reasons, ensure_ascii=False),
            status="suggested",
            interview_due_on=interview_due(level, today, policy),
        )
        warning.ensure_uid()
        change = WarningChange(student_id=student.id, action="suggested", to_level=level, by_id=actor.user_id)
        if recorded_at is not None:
            warning.created_at = change.at = recorded_at
        change.ensure_uid()
        warning.history.append(change)
        db.add(warning)
        if level == "L1":
            db.flush()
            counselors = counselors_of_school(db, student.school_id)
            for counselor in counselors:
                # references only: the notification is rendered per locale and carries no clinical text
                notify(db, counselor, "crisis", f"crisis:{warning.uid}", student_id=student.id,
                       warning_id=warning.id, requires_ack=True)
            if not counselors:
                # Nobody could act on it: tell the administrators (school name only, no student, no clinical
                # detail) so that a counselor is assigned; the warning waits in that counselor's queue.
                for admin in admins(db):
                    notify(db, admin, "crisis_unassigned", f"crisis_unassigned:{warning.uid}",
                           params={"school": student.school.name})
    batch_info = db.info.get(BATCH_KEY)
    if batch_info is None:
        db.flush()  # receivers see the stored screening, with its id
        screening_recorded.send("screenings", db=db, actor=actor, screening=screening, warning=warning)
    else:
        # a bulk load: screenings are flushed together, then their signals sent in order (same transaction)
        if warning is not None:
            batch_info["warned"].add(student.id)
        batch_info["pending"].append((actor, screening, warning))
        if len(batch_info["pending"]) >= BATCH_FLUSH:
            _drain(db, batch_info)
    return screening


BATCH_KEY = "xinmiao_screening_batch"
BATCH_FLUSH = 500


def _drain(db: Session, batch_info: dict[str, Any]) -> None:
    from app.signals import screening_recorded

    pending, batch_info["pending"] = batch_info["pending"], []
    db.flush()
    for actor, screening, warning in pending:
        screening_recorded.send("screenings", db=db, actor=actor, screening=screening, warning=warning)


@contextmanager
def batch(db: Session, students: Iterable[Student]) -> Iterator[None]:
    """Bulk loading (imports, the demo, benchmarks). One query learns which of these students already have an open
    warning (no query per screening); screenings are flushed in groups of BATCH_FLUSH and `screening_recorded` is
    sent for each, in order, right after its group is flushed (receivers always see stored rows with ids). Everything
    pending is flushed and signalled when the block ends; on an exception nothing more is sent."""
    ids = sorted({s.id for s in students if s.id is not None})
    warned: set[int] = set()
    for chunk in _chunks(ids, 900):
        warned.update(db.scalars(select(Warning.student_id).where(
            Warning.student_id.in_(chunk), Warning.status.in_(("suggested", "confirmed")))))
    info: dict[str, Any] = {"warned": warned, "pending": [], "student_ids": ids, "prefetched": {}}
    db.info[BATCH_KEY] = info
    try:
        yield
        _drain(db, info)
    finally:
        db.info.pop(BATCH_KEY, None)


def batch_prefetch(db: Session, key: str, load: Callable[[list[int]], Any]) -> Any:
    """The batch-prefetch hook for `screening_recorded` receivers (and anything else that runs per screening).

    Inside `batch(...)`: `load(student_ids)` (the batch's student ids, sorted) runs ONCE per batch and its result is
    kept under `key` (name it after your area, e.g. "rechecks.open"); later calls return the same object, so a
    receiver may keep it up to date as it changes rows. Outside a batch: None (the receiver queries per screening
    as usual). A screening may be recorded inside the batch for a student not given to `batch(...)`: a receiver
    should treat a student id missing from its prefetched data as "not prefetched" and query for it.

    Also: the batch's open-warning check and the grouped flush + signal described in `batch`."""
    info = db.info.get(BATCH_KEY)
    if info is None:
        return None
    cache = info["prefetched"]
    if key not in cache:
        cache[key] = load(info["student_ids"])
    return cache[key]


def _has_open_warning(db: Session, student: Student) -> bool:
    if student.id is None:
        return False
    batch_info = db.info.get(BATCH_KEY)
    if batch_info is not None:
        return student.id in batch_info["warned"]
    return db.scalar(
        select(Warning.id).where(Warning.student_id == student.id, Warning.status.in_(("suggested", "confirmed"))).limit(1)
    ) is not None


def warning_for(db: Session, screening: Screening) -> Warning | None:
    return db.scalars(select(Warning).where(Warning.screening_id == screening.id)).first()


def result_of(screening: Screening) -> dict[str, Any]:
    return json.loads(screening.result_json or "{}")


# -- campaigns ------------------------------------------------------------------------------------------------
@dataclass
class InstrumentRule:
    instrument_id: str
    grade_from: int
    grade_to: int


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
        if not (1 <= rule.grade_from <= rule.grade_to <= 9):
            raise ScreeningError(f"grades {rule.grade_from}–{rule.grade_to} are not a range within 1–9", code="grades")
        campaign.instruments.append(
            CampaignInstrument(instrument_id=rule.instrument_id, grade_from=rule.grade_from, grade_to=rule.grade_to)
        )
    db.add(campaign)
    db.flush()
    append_event(db, actor, "campaign.created", target=f"campaign:{campaign.id}",
                 detail={"term": campaign.term, "schools": [s.code for s in schools]})
    return campaign


def close_campaign(db: Session, actor: Actor, campaign: Campaign) -> None:
    if campaign.status == "closed":
        return
    campaign.status = "closed"
    campaign.closed_at = utcnow()
    now = utcnow()
    for cs in db.scalars(select(ClassSession).where(ClassSession.campaign_id == campaign.id, ClassSession.closed_at.is_(None))):
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
        db.add(CampaignOptOut(campaign_id=campaign.id, student_id=sid, recorded_by_id=user.id if user else actor.user_id))
    if removed:
        db.execute(delete(CampaignOptOut).where(CampaignOptOut.campaign_id == campaign.id,
                                                CampaignOptOut.student_id.in_(removed)))
    if added or removed:
        append_event(db, actor, "campaign.opt_outs", target=f"campaign:{campaign.id}",
                     detail={"class": klass.id, "added": len(added), "removed": len(removed)})
    db.flush()
    return len(added), len(removed)


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
    for chunk in _chunks(sids, 900):
        for sid, inst in db.execute(select(Screening.student_id, Screening.instrument_id).where(
                Screening.campaign_id == campaign.id, Screening.student_id.in_(chunk))):
            done.setdefault(sid, set()).add(inst)
        drafts.update(db.scalars(select(ResponseDraft.student_id).join(ClassSession, ClassSession.id == ResponseDraft.session_id)
                                 .where(ClassSession.campaign_id == campaign.id, ResponseDraft.student_id.in_(chunk))))
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


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


# -- class sessions -------------------------------------------------------------------------------------------
def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str | None) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def open_session(db: Session, actor: Actor, campaign: Campaign, klass: SchoolClass, *, minutes: int = DEFAULT_SESSION_MINUTES,
                 user: User | None = None) -> ClassSession:
    if campaign.status != "open":
        raise ScreeningError("the campaign is closed", code="closed")
    if klass.school_id not in {s.id for s in campaign.schools}:
        raise ScreeningError("this class is not in the campaign", code="class")
    if not self_instruments_for(campaign, klass.grade):
        raise ScreeningError("no student-report instrument is assigned to this grade", code="instruments")
    minutes = max(5, min(int(minutes), 240))
    now = utcnow()
    for _ in range(10):
        code = new_code()
        if db.scalar(select(ClassSession.id).where(ClassSession.code == code)) is None:
            break
    cs = ClassSession(campaign_id=campaign.id, class_id=klass.id, code=code, opened_by_id=user.id if user else actor.user_id,
                      opened_at=now, expires_at=now + timedelta(minutes=minutes))
    cs.campaign = campaign
    cs.school_class = klass
    db.add(cs)
    db.flush()
    append_event(db, actor, "session.opened", target=f"session:{cs.id}", detail={"class": klass.id, "minutes": minutes})
    return cs


def close_session(db: Session, actor: Actor, cs: ClassSession) -> None:
    if cs.closed_at is None:
        cs.closed_at = utcnow()
        append_event(db, actor, "session.closed", target=f"session:{cs.id}")
        db.flush()


def session_is_open(cs: ClassSession, now: datetime | None = None, grace: timedelta = timedelta(0)) -> bool:
    now = now or utcnow()
    return cs.closed_at is None and cs.campaign.status == "open" and now < cs.expires_at + grace


def find_open_session(db: Session, code: str) -> ClassSession | None:
    code = normalise_code(code)
    if len(code) != CODE_LENGTH:
        return None
    cs = db.scalars(select(ClassSession).where(ClassSession.code == code)).first()
    if cs is None or not session_is_open(cs):
        return None
    return cs


def identify_student(db: Session, vault: Vault, cs: ClassSession, student_number: str, birth_ym: str) -> Student | None:
    """The student of this session's class with this student number and birth month, or None.

    The same path runs whether or not the number exists (one query, one decryption, one comparison of the month),
    and every kind of mismatch gets the same answer."""
    number = (student_number or "").strip()
    month = (birth_ym or "").strip()
    bidx = vault.blind_index("student_number", number or "-")
    # one query for the whole class and exactly one decryption whatever the input: the number's candidate when
    # there is one, else the first student of the class as a decoy (its answer is discarded)
    rows = list(db.scalars(select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled")
                           .order_by(Student.id)))
    candidates = [s for s in rows if s.student_number_bidx == bidx]
    found = None
    for student in candidates or rows[:1]:
        same_number = vault.matches(student, "student_number", number)
        same_month = secrets.compare_digest(student.birth_ym.encode(), month.encode())
        if same_number and same_month and student in candidates:
            found = student
    return found


def session_statuses(db: Session, cs: ClassSession) -> dict[str, Any]:
    """Who in this session's class finished / is in progress / has not started (ids only, no names)."""
    campaign = cs.campaign
    klass = cs.school_class
    progress = class_progress(db, campaign, [klass], self_only=True)[0]
    crises = db.execute(
        select(Warning.uid, Warning.student_id, Warning.acknowledged_at)
        .join(Screening, Screening.id == Warning.screening_id)
        .where(Screening.campaign_id == campaign.id, Screening.class_id == klass.id, Warning.suggested_level == "L1",
               Warning.status == "suggested")
        .order_by(Warning.created_at)
    ).all()
    return {
        "progress": progress,
        "crises": [{"warning": uid, "student": sid, "acknowledged": ack is not None} for uid, sid, ack in crises],
    }


# -- student drafts -------------------------------------------------------------------------------------------
def _latest_draft(db: Session, cs: ClassSession, student: Student, instrument_id: str) -> ResponseDraft | None:
    """This student's latest draft of the instrument in any session of the campaign (a new session after the first
    expired picks up where the student stopped)."""
    return db.scalars(
        select(ResponseDraft).join(ClassSession, ClassSession.id == ResponseDraft.session_id)
        .where(ClassSession.campaign_id == cs.campaign_id, ResponseDraft.student_id == student.id,
               ResponseDraft.instrument_id == instrument_id)
        .order_by(ResponseDraft.updated_at.desc(), ResponseDraft.id.desc()).limit(1)
    ).first()


def has_draft(db: Session, cs: ClassSession, student: Student, instrument_id: str) -> bool:
    return _latest_draft(db, cs, student, instrument_id) is not None


def load_draft(db: Session, vault: Vault, cs: ClassSession, student: Student, instrument_id: str) -> dict[str, int]:
    draft = _latest_draft(db, cs, student, instrument_id)
    if draft is None or draft.answers_enc is None:
        return {}
    # the student's own answers back to themselves: audited as such
    reader = vault.reveal(student, "draft.resume", target=f"session:{cs.id}")
    data = reader.get_json(draft, "answers") or {}
    return {str(k): int(v) for k, v in data.items() if v is not None}


def save_draft(db: Session, vault: Vault, cs: ClassSession, student: Student, instrument_id: str,
               answers: dict[str, int]) -> ResponseDraft:
    draft = db.scalars(select(ResponseDraft).where(ResponseDraft.session_id == cs.id, ResponseDraft.student_id == student.id,
                                                   ResponseDraft.instrument_id == instrument_id)).first()
    if draft is None:
        draft = ResponseDraft(session_id=cs.id, student_id=student.id, instrument_id=instrument_id)
        db.add(draft)
    vault.seal_into(draft, "answers", {str(k): v for k, v in sorted(answers.items())}, student=student)
    draft.updated_at = utcnow()
    db.flush()
    return draft


def drop_draft(db: Session, cs: ClassSession, student: Student, instrument_id: str) -> None:
    """Forget the student's drafts of this instrument in every session of the campaign (it has been submitted)."""
    sessions = select(ClassSession.id).where(ClassSession.campaign_id == cs.campaign_id)
    db.execute(delete(ResponseDraft).where(ResponseDraft.session_id.in_(sessions), ResponseDraft.student_id == student.id,
                                           ResponseDraft.instrument_id == instrument_id))


def done_instruments(db: Session, campaign: Campaign, student: Student) -> set[str]:
    return set(db.scalars(select(Screening.instrument_id).where(Screening.campaign_id == campaign.id,
                                                                Screening.student_id == student.id)))


# -- interview queue and crisis acknowledgement -----------------------------------------------------------------
def interview_queue(db: Session, user: User) -> list[Warning]:
    """Suggested, unconfirmed L1–L3 warnings of the counselor's schools: crises first, then level, then oldest."""
    mine = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
    rows = list(db.scalars(select(Warning).where(Warning.status == "suggested", Warning.suggested_level.in_(INTERVIEW_LEVELS),
                                                 Warning.school_id.in_(mine))))
    rows.sort(key=lambda w: (RANK[w.suggested_level], w.created_at, w.id))
    return rows


def acknowledge_crisis(db: Session, actor: Actor, warning: Warning, user: User) -> bool:
    """Record that a counselor has seen a crisis alert; marks every crisis notification of it read. Audited."""
    if warning.suggested_level != "L1" and warning.confirmed_level != "L1":
        raise ScreeningError("not a crisis warning", code="level")
    first = warning.acknowledged_at is None
    now = utcnow()
    if first:
        warning.acknowledged_at = now
        warning.acknowledged_by_id = user.id
    db.execute(update(Notification).where(Notification.warning_id == warning.id, Notification.kind.in_(("crisis", "crisis_realert")),
                                          Notification.read_at.is_(None)).values(read_at=now))
    append_event(db, actor, "warning.acknowledged", student_public_id=warning.student.public_id,
                 target=f"warning:{warning.uid}", detail={"first": first})
    db.flush()
    return first


# -- finding students ------------------------------------------------------------------------------------------
def find_students(db: Session, vault: Vault, query: str, school_ids: Sequence[int], limit: int = 20) -> list[Student]:
    """Exact search by student number or name via the blind index, confirmed by decrypting (no false positives)."""
    q = (query or "").strip()
    if not q or not school_ids:
        return []
    out: list[Student] = []
    for column, attr in (("student_number", Student.student_number_bidx), ("name", Student.name_bidx)):
        bidx = vault.blind_index(column, q)
        for student in db.scalars(select(Student).where(attr == bidx, Student.school_id.in_(list(school_ids)))
                                  .order_by(Student.id).limit(limit * 2)):
            if student not in out and vault.matches(student, column, q):
                out.append(student)
    return out[:limit]


def match_by_number(db: Session, vault: Vault, numbers: Iterable[str], school_filter: Any) -> dict[str, Student]:
    """{student number: Student} for numbers found (enrolled or not) within `school_filter` (a SQL condition)."""
    wanted = {n.strip() for n in numbers if n and n.strip()}
    by_bidx: dict[str, list[str]] = {}
    for n in wanted:
        by_bidx.setdefault(vault.blind_index("student_number", n), []).append(n)
    found: dict[str, Student] = {}
    keys = list(by_bidx)
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        students = list(db.scalars(select(Student).where(Student.student_number_bidx.in_(chunk), school_filter)))
        vault.preload_keys(s.data_key_id for s in students)
        for s in students:
            for n in by_bidx.get(s.student_number_bidx or "", []):
                if vault.matches(s, "student_number", n):
                    found[n] = s
    return found


def open_campaigns_for_school(db: Session, school_id: int) -> list[Campaign]:
    return list(db.scalars(select(Campaign).join(campaign_schools, campaign_schools.c.campaign_id == Campaign.id)
                           .where(campaign_schools.c.school_id == school_id, Campaign.status == "open")
                           .order_by(Campaign.starts_on.desc())))


def screenings_of(db: Session, student: Student) -> list[Screening]:
    return list(db.scalars(select(Screening).where(Screening.student_id == student.id)
                           .order_by(Screening.administered_on, Screening.id)))
