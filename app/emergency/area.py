"""The emergency-access area (break the glass): the requester's pages, the review list, the crisis-team flag."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, FileSection, NavItem

from .views import bp, file_section

AREA = Area(
    "emergency",
    blueprint=bp,
    url_prefix="/emergency",
    nav=(
        NavItem("emergency.index", _l("Emergency access"), ("counselor",), 90),
        NavItem("emergency.review", _l("Emergency access review"), ("admin", "district"), 95),
    ),
    file_sections=(FileSection(5, file_section),),
)
