"""The city area (市教委): the city's districts compared, aggregate figures only."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, DemoStep, NavItem

from .demo import seed_city
from .views import bp

AREA = Area(
    "city",
    blueprint=bp,
    url_prefix="/city",
    home={"city": "city.dashboard"},
    nav=(NavItem("city.dashboard", _l("City dashboard"), ("city",), 10),),
    demo_steps=(DemoStep(65, seed_city),),
)
