"""The district area: aggregate statistics only (dashboard, trends, staffing, exports) and their rollup jobs."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, NavItem

from . import report  # noqa: F401 - the supervision report's route, on the district blueprint
from .service import init_cache
from .views import bp, district_cli

AREA = Area(
    "district",
    blueprint=bp,
    url_prefix="/district",
    home={"district": "district.dashboard"},
    nav=(
        NavItem("district.dashboard", _l("Dashboard"), ("district",), 10),
        NavItem("district.trends", _l("Trends"), ("district",), 20),
        NavItem("district.staffing", _l("Staffing"), ("district",), 30),
    ),
    cli=(district_cli,),
    setup=init_cache,  # the app's memo of protected figures
)
