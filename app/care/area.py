"""The care area: confirmed levels, cases, care groups, the counselor's worklist, the class care list."""
from flask_babel import lazy_gettext as _l

from app import signals
from app.areas import Area, DemoStep, FileSection, NavItem

from . import (
    demo,
    help_views,  # noqa: F401  (its routes join the care blueprint when imported)
    sections,
    transfers,  # noqa: F401  (its routes join the care blueprint when imported; transfer requests too)
    warning_lifecycle,
)
from .views import bp, init_templates

AREA = Area(
    "care",
    blueprint=bp,
    home={"counselor": "care.worklist", "head_teacher": "care.class_list"},
    nav=(
        NavItem("care.worklist", _l("To do"), ("counselor",), 5),
        NavItem("care.class_list", _l("Class care list"), ("head_teacher",), 5),
        NavItem("care.groups", _l("Care-group roster"), ("counselor", "head_teacher"), 40),
        NavItem("care.transfers", _l("Transfer requests"), ("counselor", "district", "admin"), 45),
    ),
    file_sections=(
        FileSection(30, sections.warnings_section),
        FileSection(35, help_views.help_section),
        FileSection(40, sections.case_section),
        FileSection(60, sections.checkins_section),
    ),
    demo_steps=(DemoStep(30, demo.seed_care, each_term=True),),
    receivers=((signals.screening_scored, warning_lifecycle.open_warning_for),),  # opens the warning
    setup=init_templates,
)
