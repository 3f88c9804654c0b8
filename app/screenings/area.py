"""The screenings area: campaigns, sessions, paper entry, imports, interviews, the screening part of the file."""
from flask_babel import lazy_gettext as _l

from app.areas import Area, DemoStep, FileSection, NavItem

from .cli import screenings_cli
from .demo import close_past_campaign, demo_screenings
from .views import bp, file_section

AREA = Area(
    "screenings",
    blueprint=bp,
    nav=(
        NavItem("screenings.interviews", _l("Interviews"), ("counselor",), 15),
        NavItem("screenings.campaigns", _l("Campaigns"), ("counselor",), 25),
        NavItem("screenings.enter", _l("Enter results"), ("counselor",), 26),
    ),
    file_sections=(FileSection(20, file_section),),
    demo_steps=(DemoStep(20, demo_screenings, each_term=True), DemoStep(45, close_past_campaign, each_term=True)),
    cli=(screenings_cli,),
)
