"""The scheduler area: no pages; the `scheduler` and `serve` commands. Its jobs are the other areas' (jobs.py)."""
from app.areas import Area

from .cli import scheduler_cli, serve_command

AREA = Area("scheduler", cli=(scheduler_cli, serve_command))
