"""Admin pages: the installation's schools, classes and users. Admins never see clinical content."""
from __future__ import annotations

from flask import Blueprint, Flask, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.db import db
from app.security import roles
from models import School, SchoolClass, Student, User

bp = Blueprint("admin", __name__)


def init_area(app: Flask) -> None:
    from app.demo.cli import demo_cli
    from app.main.views import HOME_ENDPOINTS
    from app.ui import register_nav

    HOME_ENDPOINTS["admin"] = "admin.home"
    register_nav("admin.home", _l("Administration"), ("admin",), order=10)
    app.cli.add_command(demo_cli)


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
