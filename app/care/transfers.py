"""Moving a student to another school of the district, and transfer requests. Routes of the care blueprint.

- The sending school's counselor moves their own student out directly (the transfer form): the side that holds
  the file gives it away (docs/decisions.md, "Transfers").
- Everybody else asks: the receiving school's counselor ("request a transfer", or a roster import's rows), an
  admin through the transfer form. The sending school decides (app/care/transfer_requests.py); both sides see the
  request on /care/transfers.
"""
from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.security import current_actor, get_visible_or_404, roles
from app.vault import get_vault
from models import School, SchoolClass, Student, TransferRequest

from . import service, transfer_requests
from .forms import RequestTransferForm, TransferDecisionForm, TransferForm
from .views import bp


def _transfer_student() -> Student:
    public_id = (request.view_args or {})["public_id"]
    if current_user.role == "admin":
        student = db.session.scalars(
            select(Student).join(School, School.id == Student.school_id)
            .where(Student.public_id == public_id, School.district_id == current_user.district_id,
                   Student.status != "erased")
        ).first()
        if student is None:
            abort(404)
        return student
    student = get_visible_or_404(db.session, current_user, Student, public_id)
    if student.school_id not in current_user.school_ids:
        # reached through emergency access (app/emergency), not as the sending school's counselor: the file is
        # read for a crisis, never moved by the reader (a move needs the sending side)
        abort(404)
    return student


@bp.route("/care/students/<public_id>/transfer", methods=["GET", "POST"])
@roles("counselor", "admin")
def transfer(public_id: str):
    student = _transfer_student()
    school = db.session.get_one(School, student.school_id)
    classes = db.session.execute(
        select(SchoolClass.id, SchoolClass.name, School.name)
        .join(School, School.id == SchoolClass.school_id)
        .where(School.district_id == school.district_id, School.id != school.id)
        .order_by(School.code, SchoolClass.grade, SchoolClass.name)
    ).all()
    form = TransferForm()
    form.to_class.choices = [(cid, f"{sname} · {cname}") for cid, cname, sname in classes]
    direct = current_user.role == "counselor"  # the sending school's counselor: the file's holder gives it away
    if form.validate_on_submit():
        to_class = db.session.get_one(SchoolClass, form.to_class.data)
        try:
            if direct:
                service.transfer_student(db.session, current_actor(), student, to_class)
            else:
                transfer_requests.request_transfer(db.session, current_actor(), student, to_class, source="form")
        except service.CareError as exc:
            form.to_class.errors.append(_(str(exc)))
        else:
            if direct:
                flash(_("The student's file has moved to the new school."), "success")
                return redirect(url_for("main.home"))
            flash(_("Transfer requested: the file moves when the student's school approves."), "success")
            return redirect(url_for("care.transfers"))
    name = None
    if current_user.role == "counselor":  # the admin moves records without reading identities
        name = get_vault().reveal_many([student], "transfer.form", columns=("name",))[student.id].name
    return render_template("care/transfer.html", student=student, school=school, form=form, name=name,
                           direct=direct)


# -- requests ---------------------------------------------------------------------------------------------------
@bp.route("/care/transfers")
@roles("counselor", "district", "admin")
def transfers():
    to_decide = transfer_requests.to_decide(db.session, current_user)
    asked = transfer_requests.asked_by_my_schools(db.session, current_user)
    names: dict[int, str | None] = {}
    if current_user.role == "counselor":
        # the sending school's counselor decides on their own student: the name is shown (an audited read);
        # district officers and admins decide without names (they never read identities)
        students = [r.student for r in to_decide]
        if students:
            opened = get_vault().reveal_many(students, "transfer.review", columns=("name",))
            names = {s.id: opened[s.id].name for s in students}
    return render_template("care/transfers.html", to_decide=to_decide, asked=asked, names=names,
                           form=TransferDecisionForm())


def _request_or_404(uid: str) -> TransferRequest:
    return get_visible_or_404(db.session, current_user, TransferRequest, uid)


def _decide(uid: str, decide: Callable[..., object], done: str, category: str):
    """Approve or refuse a transfer request: the same checks, the service's verdict, one message."""
    req = _request_or_404(uid)
    form = TransferDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    if not transfer_requests.may_decide(db.session, current_user, req):
        abort(403)
    try:
        decide(db.session, current_actor(), current_user, req, form.reason.data)
    except service.CareError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for("care.transfers"))
    flash(done, category)
    return redirect(url_for("care.transfers"))


@bp.route("/care/transfers/<uid>/approve", methods=["POST"])
@roles("counselor", "district", "admin")
def transfer_approve(uid: str):
    return _decide(uid, transfer_requests.approve,
                   _("Transfer approved: the student's file has moved to the new school."), "success")


@bp.route("/care/transfers/<uid>/refuse", methods=["POST"])
@roles("counselor", "district", "admin")
def transfer_refuse(uid: str):
    return _decide(uid, transfer_requests.refuse, _("Transfer refused."), "info")


@bp.route("/care/transfers/<uid>/cancel", methods=["POST"])
@roles("counselor", "admin")
def transfer_cancel(uid: str):
    req = _request_or_404(uid)
    if not TransferDecisionForm().validate_on_submit():
        abort(400)
    if not transfer_requests.may_cancel(current_user, req):
        abort(403)
    transfer_requests.cancel(db.session, current_actor(), current_user, req)
    flash(_("Transfer request cancelled."), "info")
    return redirect(url_for("care.transfers"))


@bp.route("/care/transfers/new", methods=["GET", "POST"])
@roles("counselor")
def transfer_request_new():
    """The receiving counselor asks for a student by student number (as on the roster they received)."""
    from app.roster_import.service import find_by_student_number

    form = RequestTransferForm()
    mine = current_user.school_ids
    classes = db.session.execute(
        select(SchoolClass.id, SchoolClass.name, School.name).join(School, School.id == SchoolClass.school_id)
        .where(School.id.in_(mine)).order_by(School.code, SchoolClass.grade, SchoolClass.name)
    ).all()
    form.to_class.choices = [(cid, f"{sname} · {cname}") for cid, cname, sname in classes]
    if form.validate_on_submit():
        to_class = db.session.get_one(SchoolClass, form.to_class.data)
        district_id = db.session.get_one(School, to_class.school_id).district_id
        student = find_by_student_number(db.session, get_vault(), district_id, form.student_number.data or "")
        if student is None or student.status == "erased":
            form.student_number.errors.append(_("No student of the district has this student number."))
        elif student.school_id in mine:
            form.student_number.errors.append(_("This student is already at your school."))
        else:
            try:
                transfer_requests.request_transfer(db.session, current_actor(), student, to_class, source="form")
            except service.CareError as exc:
                form.to_class.errors.append(_(str(exc)))
            else:
                flash(_("Transfer requested: the file moves when the student's school approves."), "success")
                return redirect(url_for("care.transfers"))
    return render_template("care/transfer_request.html", form=form)
