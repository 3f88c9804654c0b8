"""What every page of the screenings area shares: the blueprint, the current counselor, bilingual texts of the
engine, instrument names and progress labels. The pages: campaign_views.py (campaigns, class sessions) and
views.py (paper entry, results, import, the interview queue, the student file's section)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.texts import pick
from app.ui import instrument_name  # noqa: F401  (re-exported: the pages of this area import it from here)
from models import School

bp = Blueprint("screenings", __name__)

STATUS_LABELS = {
    "completed": _l("Finished"),
    "in_progress": _l("In progress"),
    "not_started": _l("Not started"),
    "opted_out": _l("Opted out"),
}


def loc(text: Any) -> str:
    """Pick the zh or en side of a {"zh": ..., "en": ...} text from the engine or the policy."""
    return pick(text)


def user():
    return current_user._get_current_object()


def my_schools() -> list[School]:
    return list(user().schools)
