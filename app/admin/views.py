"""Admin pages: the installation's schools, classes and users. Admins never see clinical content.

Views are thin: form -> service -> redirect. Creating users and changing a role, a scope or the active flag
need a recent login; every change is audited by the service.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from app.auth import service as auth_service
from app.auth import two_factor
from app.auth.forms import EmptyForm
from app.db import db
from app.security import current_actor, recent_login_required, roles
from app.ui import local_today
from models import City, District, School, SchoolClass, Student, User

from . import service
from .forms import (
    ROLE_CHOICES,
    SCHOOL_STAGE_LABELS,
    SCHOOL_TYPE_LABELS,
    AccessForm,
    AssignDistrictForm,
    CityForm,
    ClassForm,
    DistrictForm,
    NewUserForm,
    PasswordResetForm,
    ProfileForm,
    SchoolForm,
)

bp = Blueprint("admin", __name__)


def init_templates(app: Flask) -> None:
    @app.context_processor
    def _labels() -> dict[str, Any]:
        return {"school_type_labels": SCHOOL_TYPE_LABELS, "school_stage_labels": SCHOOL_STAGE_LABELS}


def _current_school_year() -> str:
    from app.demo.roster import school_year_for

    return school_year_for(local_today())


def _attach(form: Any, exc: service.AdminError) -> None:
    target = getattr(form, exc.field, None) if exc.field else None
    if target is not None:
        target.errors = list(target.errors) + [str(exc)]
    else:
        flash(str(exc), "error")


def _get(model: type, row_id: int) -> Any:
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    return row


@bp.route("/")
@roles("admin")
def home():
    s = db.session
    counts = {
        "schools": s.scalar(select(func.count()).select_from(School)),
        "classes": s.scalar(select(func.count()).select_from(SchoolClass)),
        "students": s.scalar(select(func.count()).select_from(Student).where(Student.status == "enrolled")),
        "users": s.scalar(select(func.count()).select_from(User).where(User.active.is_(True))),
    }
    return render_template("admin/home.html", counts=counts)


# -- schools -------------------------------------------------------------------------------------------------
@bp.route("/schools")
@roles("admin")
def schools():
    return render_template("admin/schools.html", rows=service.schools_with_counts(db.session))


@bp.route("/schools/new", methods=["GET", "POST"])
@roles("admin")
def new_school():
    form = SchoolForm()
    if form.validate_on_submit():
        try:
            school = service.create_school(
                db.session,
                current_actor(),
                code=form.code.data,
                name=form.name.data,
                type=form.type.data,
                stage=form.stage.data,
            )
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            flash(_("School %(name)s created.", name=school.name), "success")
            return redirect(url_for("admin.school_classes", school_id=school.id))
    return render_template("admin/school_form.html", form=form, school=None)


@bp.route("/schools/<int:school_id>/edit", methods=["GET", "POST"])
@roles("admin")
def edit_school(school_id: int):
    school = _get(School, school_id)
    form = SchoolForm(obj=school)
    if form.validate_on_submit():
        try:
            changed = service.update_school(
                db.session,
                current_actor(),
                school,
                code=form.code.data,
                name=form.name.data,
                type=form.type.data,
                stage=form.stage.data,
            )
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            flash(_("School saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("admin.schools"))
    return render_template("admin/school_form.html", form=form, school=school)


# -- classes -------------------------------------------------------------------------------------------------
@bp.route("/schools/<int:school_id>/classes")
@roles("admin")
def school_classes(school_id: int):
    school = _get(School, school_id)
    counts = dict(
        db.session.execute(
            select(Student.class_id, func.count())
            .where(Student.school_id == school.id, Student.status == "enrolled")
            .group_by(Student.class_id)
        ).tuples().all()
    )
    classes = sorted(school.classes, key=lambda c: (c.school_year, c.grade, c.name), reverse=False)
    classes.sort(key=lambda c: c.school_year, reverse=True)
    return render_template("admin/classes.html", school=school, classes=classes, counts=counts)


@bp.route("/schools/<int:school_id>/classes/new", methods=["GET", "POST"])
@roles("admin")
def new_class(school_id: int):
    school = _get(School, school_id)
    form = ClassForm()
    if request.method == "GET":
        form.school_year.data = _current_school_year()
    if form.validate_on_submit():
        try:
            klass = service.create_class(
                db.session,
                current_actor(),
                school,
                grade=form.grade.data,
                name=form.name.data,
                school_year=form.school_year.data.strip(),
            )
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            flash(_("Class %(name)s created.", name=klass.name), "success")
            return redirect(url_for("admin.school_classes", school_id=school.id))
    return render_template("admin/class_form.html", form=form, school=school, klass=None)


@bp.route("/classes/<int:class_id>/edit", methods=["GET", "POST"])
@roles("admin")
def edit_class(class_id: int):
    klass = _get(SchoolClass, class_id)
    form = ClassForm(obj=klass)
    if form.validate_on_submit():
        try:
            service.update_class(
                db.session,
                current_actor(),
                klass,
                grade=form.grade.data,
                name=form.name.data,
                school_year=form.school_year.data.strip(),
            )
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            flash(_("Class saved."), "success")
            return redirect(url_for("admin.school_classes", school_id=klass.school_id))
    return render_template("admin/class_form.html", form=form, school=klass.school, klass=klass)


# -- users ---------------------------------------------------------------------------------------------------
@bp.route("/users")
@roles("admin")
def users():
    role = request.args.get("role") or None
    if role not in (None, *[r for r, _label in ROLE_CHOICES]):
        role = None
    return render_template(
        "admin/users.html", users=service.list_users(db.session, role), role=role, role_choices=ROLE_CHOICES
    )


def _scope_choices(form: AccessForm) -> None:
    schools = list(db.session.scalars(select(School).order_by(School.code)))
    form.schools.choices = [SelectChoice(s.id, s.name) for s in schools]
    form.city.choices = _city_choices()
    form.classes.choices = [
        SelectChoice(c.id, f"{c.name} · {c.school_year}", optgroup=c.school.name)
        for c in service.all_classes(db.session)
    ]


def _access_from(form: AccessForm) -> service.Access:
    return service.Access(
        role=form.role.data,
        schools=service.ids_to(db.session, School, form.schools.data or []),
        classes=service.ids_to(db.session, SchoolClass, form.classes.data or []),
        active=bool(form.active.data),
        city=db.session.get(City, form.city.data) if form.city.data else None,
    )


def _city_choices() -> list[SelectChoice]:
    return [SelectChoice(0, "—")] + [SelectChoice(c.id, f"{c.name}（{c.code}）")
                                     for c in service.list_cities(db.session)]


# -- cities (市教委) -----------------------------------------------------------------------------------------
def _city_forms() -> tuple[CityForm, DistrictForm, AssignDistrictForm]:
    city_form, district_form, assign_form = CityForm(prefix="city"), DistrictForm(prefix="district"), \
        AssignDistrictForm(prefix="assign")
    district_form.city.choices = _city_choices()
    assign_form.city.choices = _city_choices()
    assign_form.district.choices = [SelectChoice(d.id, f"{d.name}（{d.code}）")
                                    for d in service.list_districts(db.session)]
    return city_form, district_form, assign_form


def _render_cities(city_form: CityForm, district_form: DistrictForm, assign_form: AssignDistrictForm) -> str:
    return render_template("admin/cities.html", cities=service.list_cities(db.session),
                           districts=service.list_districts(db.session), city_form=city_form,
                           district_form=district_form, assign_form=assign_form)


@bp.route("/cities")
@roles("admin")
def cities():
    return _render_cities(*_city_forms())


@bp.route("/cities/new", methods=["POST"])
@roles("admin")
def new_city():
    city_form, district_form, assign_form = _city_forms()
    if city_form.validate_on_submit():
        try:
            city = service.create_city(db.session, current_actor(), city_form.code.data, city_form.name.data)
        except service.AdminError as exc:
            _attach(city_form, exc)
        else:
            flash(_("City %(name)s created.", name=city.name), "success")
            return redirect(url_for("admin.cities"))
    return _render_cities(city_form, district_form, assign_form)


@bp.route("/cities/districts/new", methods=["POST"])
@roles("admin")
def new_district():
    city_form, district_form, assign_form = _city_forms()
    if district_form.validate_on_submit():
        city = db.session.get(City, district_form.city.data) if district_form.city.data else None
        try:
            district = service.create_district(db.session, current_actor(), district_form.code.data,
                                               district_form.name.data, city)
        except service.AdminError as exc:
            _attach(district_form, exc)
        else:
            flash(_("District %(name)s created.", name=district.name), "success")
            return redirect(url_for("admin.cities"))
    return _render_cities(city_form, district_form, assign_form)


@bp.route("/cities/assign", methods=["POST"])
@roles("admin")
def assign_district():
    city_form, district_form, assign_form = _city_forms()
    if assign_form.validate_on_submit():
        district = db.session.get(District, assign_form.district.data) if assign_form.district.data else None
        if district is None:
            abort(404)
        city = db.session.get(City, assign_form.city.data) if assign_form.city.data else None
        service.assign_district(db.session, current_actor(), district, city)
        flash(_("District %(name)s assigned.", name=district.name), "success")
        return redirect(url_for("admin.cities"))
    return _render_cities(city_form, district_form, assign_form)


def _say_pending(user: User) -> None:
    from . import grants

    pending = grants.pending_for_user(db.session, user)
    if pending:
        flash(_("%(n)s school or class access proposal(s) wait for a second person: a district officer or a "
                "counselor of the school approves them (see Access grants).", n=len(pending)), "info")


@bp.route("/users/new", methods=["GET", "POST"])
@roles("admin")
@recent_login_required
def new_user():
    form = NewUserForm()
    _scope_choices(form)
    if request.method == "GET":
        form.active.data = True
        form.full_time.data = True
    if form.validate_on_submit():
        try:
            user = service.create_user(
                db.session,
                current_actor(),
                username=form.username.data,
                password=form.password.data,
                access=_access_from(form),
                display_name=form.display_name.data,
                email=form.email.data,
                full_time=bool(form.full_time.data),
            )
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            flash(_("User %(name)s created.", name=user.username), "success")
            _say_pending(user)
            return redirect(url_for("admin.users"))
    return render_template("admin/user_new.html", form=form)


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@roles("admin")
def edit_user(user_id: int):
    user = _get(User, user_id)
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        changed = service.update_profile(
            db.session,
            current_actor(),
            user,
            display_name=form.display_name.data,
            email=form.email.data,
            full_time=bool(form.full_time.data),
        )
        flash(_("Saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_edit.html", form=form, user=user)


@bp.route("/users/<int:user_id>/access", methods=["GET", "POST"])
@roles("admin")
@recent_login_required
def user_access(user_id: int):
    user = _get(User, user_id)
    form = AccessForm()
    _scope_choices(form)
    if request.method == "GET":
        form.role.data = user.role
        form.schools.data = user.school_ids
        form.classes.data = user.class_ids
        form.active.data = user.active
        form.city.data = user.city_id or 0
    if form.validate_on_submit():
        try:
            actions = service.change_access(db.session, current_actor(), user, _access_from(form))
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            if actions:
                flash(
                    _("Access changed. %(name)s's open sessions have been signed out.", name=user.username), "success"
                )
            else:
                flash(_("Nothing changed."), "success")
            _say_pending(user)
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_access.html", form=form, user=user)


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@roles("admin")
@recent_login_required
def reset_password(user_id: int):
    user = _get(User, user_id)
    form = PasswordResetForm()
    if form.validate_on_submit():
        try:
            service.reset_password(db.session, current_actor(), user, form.password.data)
        except service.AdminError as exc:
            _attach(form, exc)
        else:
            flash(_("Password reset. %(name)s's open sessions have been signed out.", name=user.username), "success")
            return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_password.html", form=form, user=user)


@bp.route("/users/<int:user_id>/two-factor", methods=["GET", "POST"])
@roles("admin")
@recent_login_required
def reset_two_factor(user_id: int):
    user = _get(User, user_id)
    form = EmptyForm()
    if form.validate_on_submit():
        auth_service.reset_second_factor(db.session, current_actor(), user)
        flash(_("Two-factor sign-in reset. %(name)s's open sessions have been signed out; they set up their "
                "authenticator app again at their next sign-in.", name=user.username), "success")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_two_factor.html", form=form, user=user,
                           enrolled=two_factor.is_enrolled(user),
                           recovery_left=two_factor.unused_recovery_codes(db.session, user))


@bp.route("/scheduler")
@roles("admin")
def scheduler_status():
    """The scheduler: who holds the lease and until when, and each job's last success and last failure."""
    from app.scheduler.jobs import JOBS
    from app.scheduler.lease import LEASE_NAME
    from models import SchedulerJobRun, SchedulerLease
    from models.clock import database_now

    lease = db.session.get(SchedulerLease, LEASE_NAME)
    alive = lease is not None and lease.expires_at >= database_now(db.session)
    runs = {r.job_id: r for r in db.session.scalars(select(SchedulerJobRun))}
    jobs = [(job, runs.get(job.id)) for job in JOBS]
    return render_template("admin/scheduler.html", lease=lease, alive=alive, jobs=jobs)
