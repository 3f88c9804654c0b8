"""The rechecks area: planned rechecks, their lists, their sweep (tasks.py)."""
from flask_babel import lazy_gettext as _l

from app import signals
from app.areas import Area, DemoStep, FileSection, NavItem

from .cli import rechecks_cli
from .demo import seed_rechecks
from .views import bp, check_policy, on_case_closed, on_level_confirmed, on_screening_recorded, recheck_file_section

AREA = Area(
    "rechecks",
    blueprint=bp,
    url_prefix="/rechecks",
    nav=(NavItem("rechecks.index", _l("Rechecks"), ("counselor",), 40),),
    file_sections=(FileSection(50, recheck_file_section),),
    demo_steps=(DemoStep(40, seed_rechecks, each_term=True),),
    receivers=(
        (signals.level_confirmed, on_level_confirmed),
        (signals.screening_recorded, on_screening_recorded),
        (signals.case_closed, on_case_closed),
    ),
    cli=(rechecks_cli,),
    setup=check_policy,
)
