"""The roster area: student files of the counselor's schools and the head teacher's class."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, NavItem

from .views import bp, init_templates

AREA = Area(
    "roster",
    blueprint=bp,
    nav=(
        NavItem("roster.students", _l("Student files"), ("counselor",), 20),
        NavItem("roster.my_class", _l("My class"), ("head_teacher",), 20),
    ),
    setup=init_templates,
)
