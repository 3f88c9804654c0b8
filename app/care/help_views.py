"""How students reach the school's counselor (the contact on every finish page) and the help requests
(我想找老师聊聊) as the staff see them: the counselor edits the contact and acknowledges requests, a head teacher
raises one for a student of their class. The student side is app/student_entry/help.py."""
from __future__ import annotations

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from wtforms import StringField
from wtforms.validators import Length, Optional

from app import form_tokens
from app.db import db
from app.security import current_actor, get_visible_or_404, roles
from app.vault import get_vault
from models import HelpRequest, School, Student, append_event

from . import help_requests
from .views import bp, student_file_url


class ContactForm(FlaskForm):
    name = StringField(_l("Counselor's name as students know it"), validators=[Optional(), Length(max=60)])
    room = StringField(_l("Room"), validators=[Optional(), Length(max=60)])
    hours = StringField(_l("When students can come"), validators=[Optional(), Length(max=120)])


def _my_school_or_404(school_id: int) -> School:
    if school_id not in current_user.school_ids:
        abort(404)
    school = db.session.get(School, school_id)
    if school is None:
        abort(404)
    return school


@bp.route("/care/schools/<int:school_id>/contact", methods=["GET", "POST"])
@roles("counselor")
def school_contact(school_id: int):
    """The counselor's contact shown to every student of the school on the finish page (audited when changed)."""
    school = _my_school_or_404(school_id)
    form = ContactForm(obj=None) if request.method == "POST" else ContactForm(
        data={"name": school.counselor_contact_name, "room": school.counselor_room, "hours": school.counselor_hours})
    if form.validate_on_submit():
        before = {"name": school.counselor_contact_name, "room": school.counselor_room,
                  "hours": school.counselor_hours}
        school.counselor_contact_name = (form.name.data or "").strip() or None
        school.counselor_room = (form.room.data or "").strip() or None
        school.counselor_hours = (form.hours.data or "").strip() or None
        after = {"name": school.counselor_contact_name, "room": school.counselor_room,
                 "hours": school.counselor_hours}
        append_event(db.session, current_actor(), "school.counselor_contact_changed", target=f"school:{school.id}",
                     detail={"fields": sorted(k for k in after if after[k] != before[k])})
        flash(_("Saved: students now see this on their finish page."), "success")
        return redirect(url_for("care.school_contact", school_id=school.id))
    return render_template("care/school_contact.html", school=school, form=form)


# -- help requests: acknowledge (counselor), raise for a student (head teacher), the student file's section -------
URGENCY_LABELS = {"urgent": _l("Urgent: today, as soon as possible"), "soon": _l("Soon: in the next days"),
                  "whenever": _l("No hurry")}


@bp.route("/care/help/<uid>/acknowledge", methods=["POST"])
@roles("counselor")
def acknowledge_help(uid: str):
    req = get_visible_or_404(db.session, current_user, HelpRequest, uid)
    help_requests.acknowledge(db.session, current_actor(), req, current_user)
    flash(_("Acknowledged: the request to talk is off the worklist."), "success")
    student = db.session.get(Student, req.student_id)
    if student is None:
        return redirect(url_for("care.worklist"))
    return redirect(student_file_url(student))


@bp.route("/care/class/help-requests", methods=["POST"])
@roles("head_teacher")
def raise_help_for_student():
    """A head teacher asks the counselor to talk to a student of their class (the same request as the student's)."""
    student = get_visible_or_404(db.session, current_user, Student, request.form.get("student") or "-")
    if form_tokens.already_sent(db.session, request.form, "help-for-student", f"user:{current_user.id}"):
        flash(_("This form was already sent; it was not carried out a second time."), "error")
        return redirect(url_for("care.class_list"))
    try:
        help_requests.raise_request(db.session, current_actor(), get_vault(), student,
                                    request.form.get("urgency") or "", request.form.get("message"),
                                    raised_by="head_teacher", user=current_user)
    except help_requests.HelpRequestError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for("care.class_list"))
    flash(_("Sent: the counselor has your request to talk to this student."), "success")
    return redirect(url_for("care.class_list"))


def help_section(student: Student, reader: object, user: object) -> Markup | None:
    """The student file's record of the student's requests to talk (message opened for the counselor only)."""
    if getattr(user, "role", None) != "counselor":
        return None
    rows = db.session.scalars(select(HelpRequest).where(HelpRequest.student_id == student.id)
                              .order_by(HelpRequest.created_at.desc())).all()
    if not rows:
        return None
    items = [(r, reader.get(r, "message")) for r in rows]  # type: ignore[attr-defined]
    return Markup(render_template("care/_section_help.html", items=items, urgency_labels=URGENCY_LABELS))


@bp.route("/care/worklist/urgent.json")
@roles("counselor")
def worklist_urgent():
    """Polled by the worklist page: how many urgent help requests are unacknowledged in the counselor's schools
    (a number only); the page reloads itself when it changes, so an urgent request shows up live."""
    from sqlalchemy import func

    count = db.session.scalar(select(func.count()).select_from(HelpRequest).where(
        HelpRequest.school_id.in_(current_user.school_ids or [-1]), HelpRequest.urgency == "urgent",
        HelpRequest.acknowledged_at.is_(None)))
    return jsonify({"urgent": int(count or 0)})
