"""The audit area: the admin's audit browser and chain verification."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, NavItem

from .views import bp

AREA = Area(
    "audit", blueprint=bp, url_prefix="/admin/audit", nav=(NavItem("audit.index", _l("Audit log"), ("admin",), 90),)
)
