"""The admin area: schools, classes, users and their scope (no clinical content), and the admin CLI."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, NavItem

from . import grant_views  # noqa: F401  (its routes join the admin blueprint when imported)
from .cli import city_cli, district_cli, schools_cli, users_cli
from .views import bp, init_templates

AREA = Area(
    "admin",
    blueprint=bp,
    url_prefix="/admin",
    home={"admin": "admin.home"},
    nav=(
        NavItem("admin.home", _l("Administration"), ("admin",), 10),
        NavItem("admin.schools", _l("Schools and classes"), ("admin",), 20),
        NavItem("admin.users", _l("Users"), ("admin",), 30),
        NavItem("admin.cities", _l("Cities"), ("admin",), 32),
        NavItem("admin.access_grants", _l("Access grants"), ("admin", "district", "counselor"), 35),
        NavItem("admin.scheduler_status", _l("Scheduler"), ("admin",), 40),
    ),
    cli=(district_cli, schools_cli, users_cli, city_cli),
    setup=init_templates,
)
