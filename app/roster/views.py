"""Roster pages: the counselor's student list, student file, create/edit; the head teacher's class list."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app import form_tokens, search_tokens
from app.care_groups import care_group_keys, care_group_label, care_groups, in_config_order
from app.db import db
from app.listing import Listing, ListSpec, scope_options
from app.security import current_actor, get_visible_or_404, roles
from app.student_file import render_sections
from app.ui import label_text, local_today
from app.vault import get_vault
from models import Student
from models.vault import ErasedStudentError

from . import service
from .forms import GENDER_LABELS, GRADE_LABELS, STATUS_LABELS, StudentForm, parse_filters

bp = Blueprint("roster", __name__)

# Messages for the rules the service enforces (the form checks most of them first).
SERVICE_ERRORS = {
    "duplicate": _l("This student number already belongs to a student in the district"),
    "school": _l("Choose one of your schools"),
    "class": _l("Choose a class of the same school and grade, or no class"),
    "grade": _l("Choose a grade from 1 to 9"),
    "care_groups": _l("Unknown care group"),
    "status": _l("Choose a status"),
    "guardians": _l("At most three guardians"),
}


def init_templates(app: Flask) -> None:
    app.jinja_env.filters["care_group"] = care_group_label
    app.jinja_env.filters["care_group_order"] = in_config_order
    app.jinja_env.globals["grade_label"] = lambda g: GRADE_LABELS.get(g, g)
    app.jinja_env.globals["gender_label"] = lambda g: label_text(GENDER_LABELS[g]) if g in GENDER_LABELS else g
    app.jinja_env.globals["student_status_label"] = (
        lambda s: label_text(STATUS_LABELS[s]) if s in STATUS_LABELS else s)


def _care_choices() -> list[tuple[str, str]]:
    return [(g.key, care_group_label(g.key)) for g in care_groups()]


FILTER_ARGS = ("school", "grade", "class", "group", "status")
# The list's columns (app/listing.py); a search's results come best match first (`match`) unless sorted.
STUDENT_LIST = ListSpec(("name", "number", "school", "class", "status"), "class")
SEARCH_LIST = ListSpec(("match", *STUDENT_LIST.sorts), "match")


@bp.route("/students", methods=["GET", "POST"])
@roles("counselor")
def students():
    """The list. A search is a POST (CSRF-protected) answered by a redirect to `?r=<opaque token>`: the name
    searched for is in no URL, so in no log (app/search_tokens.py). School, grade and class filters, the sort and
    the page are app/listing.py's, as on every other list; the care group and the status are this list's own."""
    if request.method == "POST":
        # the sort chosen before stays (as a filter form keeps it on the other lists); the page starts again
        return redirect(url_for("roster.students", **search_tokens.result_args(request.form, (*FILTER_ARGS, "sort"))))
    schools = service.schools_of(current_user)
    options = scope_options(db.session, current_user)
    args = {k: v for k, v in request.args.items() if k in ("group", "status")}  # a `q` in the URL is never read
    if request.args.get("r"):
        query = search_tokens.recall(request.args["r"])
        if query is None:
            flash(_("This search has expired; search again."), "info")
        else:
            args["q"] = query
    filters = parse_filters(args, set(), set(), set(care_group_keys()))
    listing = Listing.parse(SEARCH_LIST if filters.q.strip() else STUDENT_LIST, options)
    filters.school_id, filters.grade, filters.class_id = listing.school_id, listing.grade, listing.class_id
    page = service.list_students(
        db.session, get_vault(), current_user, filters, listing.page,
        sort=None if listing.sort_key == "match" or "sort" not in listing.args else listing.sort_key,
        descending=listing.descending,
    )
    listing.page = page.page
    return render_template(
        "roster/list.html",
        page=page,
        listing=listing,
        filters=filters,
        schools=schools,
        classes=options.classes,
        care_choices=_care_choices(),
        grade_labels={g: GRADE_LABELS.get(g, g) for g in options.grades},
        status_labels={s: STATUS_LABELS[s] for s in service.LISTED_STATUSES},
        filtered=any(request.args.get(k) for k in (*FILTER_ARGS, "r")),
    )


@bp.route("/students/<public_id>")
@roles("counselor", "head_teacher")
def student(public_id: str):
    if current_user.role != "counselor":
        # Head teachers may see their class's students by the scope rule, but not the file (answers, notes):
        # 404, as for any record they may not open, so a guessed URL discloses nothing.
        abort(404)
    tombstone = db.session.scalars(select(Student).where(
        Student.public_id == public_id, Student.status == "erased", Student.school_id.in_(current_user.school_ids)
    )).first()
    if tombstone is not None:
        # An erased student is nobody's record (Student.visible_to): every page of theirs answers 404, except
        # this one for the counselors of the school that held them, who may know the student existed: it says
        # the file was erased, and opens nothing (the data key is gone).
        return render_template("roster/student.html", student=tombstone, identity=None, erased=True, sections=[])
    student = get_visible_or_404(db.session, current_user, Student, public_id)
    reader = get_vault().reveal(student, "student.view")
    erased = False
    identity = None
    if not erased:
        try:
            identity = reader.identity
        except ErasedStudentError:
            erased = True
    sections: list[Markup] = [] if erased else render_sections(student, reader, current_user)
    return render_template("roster/student.html", student=student, identity=identity, erased=erased, sections=sections)


def _form(student: Student | None = None) -> StudentForm:
    form = StudentForm()
    schools = service.schools_of(current_user)
    if student is not None:
        schools = [s for s in schools if s.id == student.school_id]
    return form.setup(schools, service.visible_classes(db.session, current_user), _care_choices(), local_today().year)


def _data(form: StudentForm) -> service.StudentData:
    return service.StudentData(
        name=form.name.data,
        student_number=form.student_number.data,
        national_id=form.national_id.data,
        school_id=form.school_id.data,
        grade=form.grade.data,
        class_id=form.class_id.data,
        gender=form.gender.data,
        birth_ym=form.birth_ym.data,
        status=form.status.data,
        care_groups=list(form.care_groups.data or []),
        guardians=form.guardian_rows(),
    )


def _attach(form: StudentForm, exc: service.RosterError) -> None:
    field = getattr(form, exc.field, None)
    message = SERVICE_ERRORS.get(exc.message, exc.message)
    if exc.unknown:
        message = _("Unknown care group %(codes)s; valid codes: %(valid)s", codes=", ".join(exc.unknown),
                    valid=", ".join(care_group_keys()))
    if field is not None:
        field.errors = list(field.errors or []) + [message]
    else:
        flash(str(message), "error")


@bp.route("/students/new", methods=["GET", "POST"])
@roles("counselor")
def new_student():
    form = _form()
    if not form.school_id.choices:
        abort(403)  # a counselor without schools has nowhere to add a student
    if form.validate_on_submit():
        # a double click: the service's duplicate-number check runs before either copy has flushed, so the
        # token's unique constraint is what stops two copies arriving together
        if form_tokens.already_sent(db.session, request.form, "student-new", f"user:{current_user.id}"):
            flash(_("This form was already sent; it was not carried out a second time."), "error")
            return redirect(url_for("roster.students"))
        try:
            created = service.create_student(db.session, current_actor(), get_vault(), current_user, _data(form))
        except service.RosterError as exc:
            _attach(form, exc)
        else:
            flash(_("Student added."), "success")
            return redirect(url_for("roster.student", public_id=created.public_id))
    return render_template(
        "roster/form.html", form=form, student=None
    ), 200 if request.method == "GET" or not form.errors else 422


@bp.route("/students/<public_id>/edit", methods=["GET", "POST"])
@roles("counselor")
def edit_student(public_id: str):
    student = get_visible_or_404(db.session, current_user, Student, public_id)
    if student.status == "erased":
        abort(404)
    form = _form(student)
    if request.method == "GET":
        identity = get_vault().reveal(student, "student.edit").identity
        form.name.data = identity.name
        form.student_number.data = identity.student_number
        form.national_id.data = identity.national_id
        form.school_id.data = student.school_id
        form.grade.data = student.grade
        form.class_id.data = student.class_id or 0
        form.gender.data = student.gender
        form.birth_ym.data = student.birth_ym
        form.status.data = student.status
        form.care_groups.data = student.care_groups
        # MAX_GUARDIANS entries on the form, as many guardians as the student has: the rest stay blank
        for entry, guardian in zip(form.guardians.entries, identity.guardians, strict=False):
            entry.form.name.data = guardian.get("name", "")
            entry.form.relation.data = guardian.get("relation", "")
            entry.form.phone.data = guardian.get("phone", "")
    elif form.validate_on_submit():
        try:
            changed = service.update_student(
                db.session, current_actor(), get_vault(), current_user, student, _data(form)
            )
        except service.RosterError as exc:
            _attach(form, exc)
        else:
            flash(_("Changes saved.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("roster.student", public_id=student.public_id))
    status = 200 if request.method == "GET" or not form.errors else 422
    return render_template("roster/form.html", form=form, student=student), status


@bp.route("/my-class")
@roles("head_teacher")
def my_class():
    classes = service.class_list(db.session, get_vault(), current_user)
    return render_template("roster/my_class.html", classes=classes)
