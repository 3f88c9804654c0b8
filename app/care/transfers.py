"""Moving a student to another school of the district (a counselor of the student, or the district's admin):
the student's file, warnings and case go with them. Routes of the care blueprint."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.security import current_actor, get_visible_or_404, roles
from app.vault import get_vault
from models import School, SchoolClass, Student

from . import service
from .forms import TransferForm
from .views import bp


def _transfer_student() -> Student:
    public_id = (request.view_args or {})["public_id"]
    if current_user.role == "admin":
        student = db.session.scalars(
            select(Student).join(School, School.id == Student.school_id)
            .where(Student.public_id == public_id, School.district_id == current_user.district_id)
        ).first()
        if student is None:
            abort(404)
        return student
    return get_visible_or_404(db.session, current_user, Student, public_id)


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
    if form.validate_on_submit():
        to_class = db.session.get_one(SchoolClass, form.to_class.data)
        try:
            service.transfer_student(db.session, current_actor(), student, to_class)
        except service.CareError as exc:
            form.to_class.errors.append(_(str(exc)))
        else:
            flash(_("The student's file has moved to the new school."), "success")
            return redirect(url_for("main.home"))
    name = None
    if current_user.role == "counselor":  # the admin moves records without reading identities
        name = get_vault().reveal_many([student], "transfer.form", columns=("name",))[student.id].name
    return render_template("care/transfer.html", student=student, school=school, form=form, name=name)
