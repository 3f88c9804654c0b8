"""The student entrance (/s): a class self-completing in the computer room.

Session code + student number + personal entry code -> one instrument per page -> a thank-you page (never a
score). The entry code (app/screenings/entry_codes.py) is the secret: each student's own for this session, read
out or printed by the counselor; the student number alone is known to classmates.
The student's state lives only in the signed Flask session (`entry`: class session id + student id) and in
ResponseDraft rows; ids in forms are never trusted. A wrong identity gets the same answer whether or not the
student exists.

Limits, never per client address alone (a whole classroom shares one school address): wrong entry codes are
counted per student and session (5, then that student is locked out of the session for 10 minutes, audited; the
counselor can unlock), and per session (`STUDENT_ENTRY_SESSION_MAX_FAILURES` wrong identities in the window,
then the session's entrance waits; the counselor can reopen it). Only guesses of the session code itself, which
name no session to count on, are counted per address, with a limit a whole class cannot reach by typos.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app import form_tokens
from app.auth.throttle import make_rate_limiter
from app.db import db
from app.screenings import campaigns, drafts, entry_codes, recording, sessions
from app.screenings.submission import DuplicateScreening, Submission, submit_screening
from app.security import public
from app.support_resources import support_resources
from app.vault import keyring
from models import Actor, ClassSession, School, Student, append_event, clock
from models.vault import Vault
from screening import get_instrument

bp = Blueprint("student_entry", __name__)

ENTRY_KEY = "entry"
HELP_SCHOOL_KEY = "help_school"  # the school whose counselor the finish and help pages name
SUBMIT_PURPOSE = "student-submit"


def _actor() -> Actor:
    return Actor(None, sessions.STUDENT_ENTRANCE, "student", request.remote_addr)


def _vault() -> Vault:
    return Vault(db.session, keyring(), _actor())


def _limits() -> tuple[Any, Any]:
    ext = current_app.extensions
    return ext["xinmiao_student_code_failures"], ext["xinmiao_student_session_failures"]


def session_limit_key(cs: ClassSession) -> str:
    return f"session:{cs.id}"


def _client() -> str:
    return request.remote_addr or "unknown"


def _too_many():
    return render_template("student_entry/limited.html"), 429


@bp.route("", methods=["GET", "POST"])
@public
def start() -> ResponseReturnValue:
    code_failures, session_failures = _limits()
    code = sessions.normalise_code(request.values.get("code"))
    errors: dict[str, str] = {}
    number = ""
    if request.method == "POST":
        number = (request.form.get("student_number") or "").strip()[:40]
        entry_code = entry_codes.normalise(request.form.get("entry_code"))
        cs = sessions.find_open_session(db.session, code)
        if cs is None:
            if code_failures.is_locked(_client()):
                return _too_many()
            code_failures.failure(_client())
            errors["code"] = _("This code is not valid or has expired. Check it with your teacher.")
        elif session_failures.is_locked(session_limit_key(cs)):
            return _too_many()
        elif not number or not entry_code:
            if not number:
                errors["student_number"] = _("Enter your student number.")
            if not entry_code:
                errors["entry_code"] = _("Enter your personal entry code.")
        else:
            student = sessions.identify_student(db.session, _vault(), cs, number)
            cfg = current_app.config
            result = entry_codes.check(
                db.session, keyring(), _actor(), cs, student, entry_code,
                max_failures=int(cfg.get("STUDENT_ENTRY_CODE_MAX_FAILURES", entry_codes.MAX_FAILURES)),
                lock_minutes=int(cfg.get("STUDENT_ENTRY_LOCK_MINUTES", entry_codes.LOCK_MINUTES)),
            ) if student is not None else entry_codes.Check(False)
            if result.locked:
                errors["identity"] = _(
                    "Too many wrong entry codes for this student number. Wait a few minutes, or ask your teacher."
                )
            elif not result.ok or student is None:
                session_failures.failure(session_limit_key(cs))
                errors["identity"] = _(
                    "The student number or entry code does not match. Check them and try again, or ask your teacher."
                )
            elif campaigns.is_opted_out(db.session, cs.campaign_id, student.id):
                return render_template("student_entry/not_needed.html")
            else:
                session[ENTRY_KEY] = {"cs": cs.id, "st": student.id, "t": int(clock.timestamp())}
                append_event(db.session, _actor(), "student.self_identified", student_public_id=student.public_id,
                             target=f"session:{cs.id}")
                return redirect(url_for("student_entry.questionnaire"))
    return render_template("student_entry/start.html", code=code, number=number, errors=errors)


def _state() -> tuple[ClassSession, Student] | None:
    """The identified student and their class session from the signed session, still valid, or None."""
    entry = session.get(ENTRY_KEY)
    if not isinstance(entry, dict):
        return None
    cs = db.session.get(ClassSession, entry.get("cs"))
    student = db.session.get(Student, entry.get("st"))
    if cs is None or student is None or student.class_id != cs.class_id or student.status != "enrolled":
        return None
    if not sessions.session_is_open(cs, grace=sessions.SESSION_GRACE):
        return None
    if campaigns.is_opted_out(db.session, cs.campaign_id, student.id):
        return None
    return cs, student


def _plan(cs: ClassSession, student: Student) -> tuple[list[str], set[str]]:
    assigned = campaigns.self_instruments_for(cs.campaign, student.grade)
    done = recording.done_instruments(db.session, cs.campaign, student)
    return assigned, done


def _ended():
    session.pop(ENTRY_KEY, None)
    return redirect(url_for("student_entry.start", ended=1))


@bp.route("/q", methods=["GET", "POST"])
@public
def questionnaire() -> ResponseReturnValue:
    state = _state()
    if state is None:
        return _ended()
    cs, student = state
    assigned, done = _plan(cs, student)
    remaining = [i for i in assigned if i not in done]
    if not remaining:
        return redirect(url_for("student_entry.done"))
    current = remaining[0]
    inst = get_instrument(current)
    vault = _vault()
    errors: set[int] = set()
    message = None
    if request.method == "POST":
        if request.form.get("instrument") != current:
            # a stale or tampered page: the server decides which instrument is being answered
            return redirect(url_for("student_entry.questionnaire"))
        answers = _answers_from_form(inst)
        # a conditional item (ASQ question 5) is asked only when the answers above call for it
        asked = inst.asked([answers.get(item.number) for item in inst.items])
        missing = [item.number for item, ask in zip(inst.items, asked, strict=True)
                   if ask and item.number not in answers]
        if missing:
            drafts.save_draft(db.session, vault, cs, student, current, answers)
            errors = set(missing)
            message = _("Please answer every question. Unanswered: %(items)s", items="、".join(str(n) for n in missing))
        else:
            # the page's one-time token is its idempotency key: a copy that arrives again (a retry after a dropped
            # connection whose first attempt did reach us) is answered as the first one was, and stored once
            spent = form_tokens.spend(db.session, request.form.get(form_tokens.FIELD), SUBMIT_PURPOSE,
                                      f"student:{student.id}:session:{cs.id}:{current}")
            if spent in (form_tokens.Spend.REPLAY, form_tokens.Spend.FOREIGN):
                return redirect(url_for("student_entry.questionnaire"))
            values = [answers[item.number] if ask else None for item, ask in zip(inst.items, asked, strict=True)]
            outcome = _submit(cs, student, current, values, vault)
            if outcome == "duplicate":
                return render_template("student_entry/already.html"), 409
            return redirect(url_for("student_entry.questionnaire"))
        saved = answers
    else:
        saved = {int(k): v for k, v in drafts.load_draft(db.session, vault, cs, student, current).items()} \
            if drafts.has_draft(db.session, cs, student, current) else {}
    position = assigned.index(current) + 1
    # a page shown again after missing answers keeps its key (the browser's copy of the answers is keyed by it)
    posted = request.form.get(form_tokens.FIELD) or ""
    key = posted if form_tokens.TOKEN_RE.match(posted) else form_tokens.issue()
    return render_template("student_entry/questionnaire.html", inst=inst, saved=saved, errors=errors, message=message,
                           position=position, total=len(assigned),
                           percent=progress_percent(position, len(assigned), len(saved), inst.item_count),
                           current=current, submission_key=key)


def progress_percent(position: int, total: int, answered: int, items: int) -> int:
    """How far through the whole visit the student is, per question, not per questionnaire: the questionnaires
    before this one, plus the share of this one's questions answered (the page's JS moves it on each answer)."""
    share = answered / items if items else 0
    return round(100 * ((position - 1) + share) / total) if total else 0


def _answers_from_form(inst: Any) -> dict[int, int]:
    out: dict[int, int] = {}
    for item in inst.items:
        raw = request.form.get(f"q{item.number}")
        if raw in (None, ""):
            continue
        try:
            value = int(raw)
        except ValueError:
            continue
        if value in item.values:
            out[item.number] = value
    return out


def _submit(cs: ClassSession, student: Student, instrument_id: str, values: list[int | None], vault: Vault) -> str:
    submission = Submission(student, instrument_id, values, recording.local_today(current_app.config["TIMEZONE"]),
                            campaign=cs.campaign, session=cs)
    try:
        submit_screening(db.session, _actor(), vault, submission, mode="self")
    except DuplicateScreening:
        return "duplicate"  # a second browser of the same student, or a double submission: the first one counts
    return "ok"


@bp.route("/save", methods=["POST"])
@public
def autosave():
    """Autosave of the page in hand (JSON). The instrument must be the one the server says is current."""
    state = _state()
    if state is None:
        return jsonify({"saved": False, "reason": "ended"}), 409
    cs, student = state
    assigned, done = _plan(cs, student)
    remaining = [i for i in assigned if i not in done]
    current = request.form.get("instrument")
    if not remaining or current != remaining[0]:
        return jsonify({"saved": False, "reason": "stale"}), 409
    inst = get_instrument(current)
    answers = _answers_from_form(inst)
    drafts.save_draft(db.session, _vault(), cs, student, current, answers)
    return jsonify({"saved": True, "answered": len(answers), "items": inst.item_count})


@bp.route("/done")
@public
def done():
    state = _state()
    if state is not None:
        cs, student = state
        assigned, finished = _plan(cs, student)
        if any(i not in finished for i in assigned):
            return redirect(url_for("student_entry.questionnaire"))
        session[HELP_SCHOOL_KEY] = student.school_id  # a reload of this page shows the same help
    session.pop(ENTRY_KEY, None)
    return render_template("student_entry/done.html", **help_context(session.get(HELP_SCHOOL_KEY)))


def help_context(school_id: Any) -> dict[str, Any]:
    """What the help box of a student page needs (student_entry/_help.html): the school, for its counselor's
    contact, and the district's support lines. Nothing in it depends on what the student answered."""
    school = db.session.get(School, school_id) if isinstance(school_id, int) else None
    return {"school": school, "resources": support_resources()}


def init_limiters(app: Flask) -> None:
    cfg = app.config
    window = int(cfg.get("STUDENT_ENTRY_WINDOW_SECONDS", 600))
    app.extensions.setdefault(
        "xinmiao_student_code_failures",
        cfg.get("STUDENT_ENTRY_CODE_FAILURES_LIMITER")
        or make_rate_limiter(cfg, "student-code-failures", int(cfg.get("STUDENT_ENTRY_MAX_CODE_FAILURES", 300)),
                             window),
    )
    app.extensions.setdefault(
        "xinmiao_student_session_failures",
        cfg.get("STUDENT_ENTRY_SESSION_FAILURES_LIMITER")
        or make_rate_limiter(cfg, "student-session-failures",
                             int(cfg.get("STUDENT_ENTRY_SESSION_MAX_FAILURES", 150)), window),
    )
