"""The roster import area: XLSX/CSV from the national student-records system, and the roster export."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, NavItem

from .cli import roster_cli
from .views import bp

AREA = Area(
    "roster_import",
    blueprint=bp,
    nav=(NavItem("roster_import.upload", _l("Roster import"), ("counselor", "admin"), 25),),
    cli=(roster_cli,),
)
