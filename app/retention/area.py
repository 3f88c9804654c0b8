"""The retention area: the review list of files due for erasure, and the per-student PIPL export."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, NavItem

from .cli import retention_cli
from .views import bp

AREA = Area(
    "retention",
    blueprint=bp,
    nav=(NavItem("retention.review", _l("Retention review"), ("counselor", "district"), 85),),
    cli=(retention_cli,),
)
