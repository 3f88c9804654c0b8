"""The demo district: `flask demo seed`, and its first step (schools, classes, users, students)."""
from app.areas import Area, DemoStep

from .cli import demo_cli
from .roster import roster_term, seed_roster

AREA = Area("demo", demo_steps=(DemoStep(10, seed_roster), DemoStep(15, roster_term, each_term=True)), cli=(demo_cli,))
