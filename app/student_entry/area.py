"""The student entrance (/s): a student fills in the questionnaires of an open session, or asks to talk (/s/help)."""
from flask import Flask

from app.areas import Area

from . import help as _help
from .views import bp, init_limiters


def _setup(app: Flask) -> None:
    init_limiters(app)
    _help.init_help_limiters(app)


AREA = Area("student_entry", blueprint=bp, url_prefix="/s", setup=_setup)
