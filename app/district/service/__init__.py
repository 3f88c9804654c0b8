"""The district statistics: the ONLY way the district area reaches data (its views, exports, CLI and jobs).

Aggregate-only by construction: figures about children are counts per (school, grade, gender) over columns in
clear (school, grade, gender, level, positive, dates); the other statements read schools, campaigns, counselors
and the rollups. No statement reads a column the models mark IDENTITY, CLINICAL or KEY (sealed names and
numbers, blind indexes, public ids and record uids, answers, scores, notes: `models.base.sensitive_columns`).
`tests/integration/test_district_privacy.py` records every column every statement of the district pages, exports,
service, CLI and jobs reads and fails on any of those, and renders every page and export with marker bytes in
those columns and fails if a marker or a name reaches the output.

How figures are built, and where:
1. `context`: the selection (a term or one campaign), the district's schools and the grades its campaigns screen.
2. `cubes`: a handful of GROUP BY queries return *fine cubes*, counts per (school, grade, gender) for each
   measure (screening figures follow the screenings of the selected campaigns: warnings, cases, rechecks and
   referrals are those that came from them). Enrolment is the current roll when computed, and is kept in the
   rollup with the other counts (as fresh as the rollup).
3. `scopes`: every cell the district role can reach — the district, each school type, stage and type x stage
   (the filters), and inside each of those each school, type, stage, grade and gender (the groupings) — and
   the additive relations between them.
4. `figures`: the cubes summed into those cells and protected together (`app.district.suppression.protect`
   hides small cells and their complements over the whole family at once), so every page, filter and export
   shows the same protected figures; memoised per app (`FiguresCache`, `figures_cache()`).
5. `rollups`: the screening cubes of a selection kept in `district_rollups` and read back while fresh; the
   scheduler jobs (app/district/tasks.py) keep them fresh. `Context.as_of` tells when the figures were computed.
6. `staffing` (counselors per school: schools, their names and their staff are not children) and `trends`
   (district-level figures term by term).
7. `school`: one school's figures, trend and workload (the school leader's page and the school report): the same
   cubes with a school filter, protected as that school's own family.
Import from here (`from app.district import service`), not from the parts.
"""
from __future__ import annotations

from flask import Flask, current_app

from models.roster import SCHOOL_STAGES as STAGES
from models.roster import SCHOOL_TYPES

from .context import (
    DIMENSIONS,
    GENDERS,
    GRADES,
    TWO_TYPES,
    WARNING_LEVELS,
    Context,
    Filters,
    SchoolInfo,
    Selection,
    district_ids,
    district_name,
    list_campaigns,
    list_terms,
    load_context,
    resolve_selection,
)
from .cubes import Cube, eligible_enrolled, enrolled_by_school, query_cubes, roll_cubes, screening_cubes
from .figures import LINKED, Figures, FiguresCache, compute_figures, present_grades, protect_cubes
from .rollups import (
    OPEN_ROLLUP_MAX_AGE,
    ROLLUP_MAX_AGE,
    ROLLUP_VERSION,
    RollupSource,
    cached_cubes,
    coarsen,
    fresh_rollup,
    read_rollup,
    refresh_rollups,
    rollup_key,
    rollup_stamp,
    store_rollups,
)
from .school import (
    CASE_STATUSES,
    CLASS_BANDS,
    SchoolFigures,
    SchoolTrendPoint,
    WorkloadRow,
    district_school,
    school_figures,
    school_staffing,
    school_trends,
)
from .scopes import ScopeKey, Scopes, cell_level, cell_values, family_keys, make_scopes
from .staffing import StaffingRow, staffing
from .trends import TrendPoint, trends

CACHE_KEY = "xinmiao_district_figures"


def init_cache(app: Flask) -> None:
    """Give the app its memo of protected figures (the district area's setup)."""
    app.extensions.setdefault(CACHE_KEY, FiguresCache(int(app.config.get("DISTRICT_FIGURES_CACHE_SIZE", 32))))


def figures_cache(app: Flask | None = None) -> FiguresCache:
    return (app or current_app).extensions[CACHE_KEY]


__all__ = [
    "DIMENSIONS", "GENDERS", "GRADES", "LINKED", "OPEN_ROLLUP_MAX_AGE", "ROLLUP_MAX_AGE", "ROLLUP_VERSION",
    "Context",
    "Cube",
    "Figures",
    "FiguresCache",
    "Filters",
    "RollupSource",
    "SCHOOL_TYPES",
    "STAGES",
    "SchoolInfo",
    "ScopeKey",
    "Scopes",
    "Selection",
    "StaffingRow",
    "TWO_TYPES",
    "TrendPoint",
    "WARNING_LEVELS",
    "cached_cubes",
    "cell_level",
    "cell_values",
    "coarsen",
    "compute_figures",
    "district_ids",
    "district_name",
    "eligible_enrolled",
    "enrolled_by_school",
    "family_keys",
    "figures_cache",
    "fresh_rollup",
    "init_cache",
    "list_campaigns",
    "list_terms",
    "load_context",
    "make_scopes",
    "present_grades",
    "protect_cubes",
    "query_cubes",
    "read_rollup",
    "refresh_rollups",
    "resolve_selection",
    "roll_cubes",
    "rollup_key",
    "rollup_stamp",
    "screening_cubes",
    "staffing",
    "store_rollups", "trends",
    "CASE_STATUSES", "CLASS_BANDS", "SchoolFigures", "SchoolTrendPoint", "WorkloadRow", "district_school",
    "school_figures", "school_staffing", "school_trends",
]
