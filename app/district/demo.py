"""Demo step 90 (once, after the history): the district rollups of the closed terms, built at the end of the
seed, so that the dashboard and the trends read them at once (the scheduler keeps them fresh afterwards)."""
from __future__ import annotations

from typing import Any

from models import clock

from . import service


def seed_rollups(ctx: Any) -> str:
    tz = clock.school_timezone().key
    terms: list[str] = []
    for district_id in service.district_ids(ctx.session):
        terms += service.refresh_rollups(ctx.session, district_id, ctx.today, tz)
    return f"district rollups: {len(terms)} closed terms ({', '.join(terms) or 'none'})"
