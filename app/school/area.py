"""The school area: one school's figures for its school leader and counselors (counts only, never a name)."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, DemoStep, NavItem

from .demo import seed_school_leader
from .views import bp

AREA = Area(
    "school",
    blueprint=bp,
    url_prefix="/school",
    home={"school_leader": "school.home"},
    nav=(NavItem("school.home", _l("School figures"), ("school_leader", "counselor"), 50),),
    demo_steps=(DemoStep(60, seed_school_leader),),
)
