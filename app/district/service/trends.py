"""District-level figures term by term (the trend charts)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from .context import Selection, district_schools, list_terms
from .cubes import Cube, enrolled_by_school
from .figures import Figures, FiguresCache, compute_figures
from .rollups import OPEN_ROLLUP_MAX_AGE, ROLLUP_MAX_AGE
from .scopes import Scopes


@dataclass
class TrendPoint:
    term: str
    figures: Figures
    scopes: Scopes
    as_of: datetime | None = None  # when this term's figures were computed


def trends(db: Session, district_id: int | None, k: int, today: date, tz_name: str = "Asia/Shanghai",
           limit: int = 10, rollup_max_age: timedelta | None = ROLLUP_MAX_AGE,
           open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE, cache: FiguresCache | None = None) -> list[TrendPoint]:
    """District-level figures (district, each type / stage) for each term.

    Each term's figures are the dashboard's own: the whole family protected at once (full detail), not levels 0-1
    alone. Protecting only the coarse cells gives the same result until a fine cell needs a complement that only a
    coarse cell can give (an escalation: a tiny school beside a type that is one school); then the dashboard hides
    a district figure the coarse-only trend showed, and together the two pages disclose what each protects
    (tests/web/test_figure_agreement.py, the tiny-school case). The full figures are memoised in `cache`, so the
    dashboard and the trends of one term protect once.
    """
    out = []
    memo: list[Cube] = []

    def enrolled() -> Cube:  # read once, and only if a term is computed live (a rollup holds its enrolment)
        if not memo:
            memo.append(enrolled_by_school(db, district_schools(db, district_id)))
        return memo[0]

    for term in list_terms(db, district_id)[-limit:]:
        ctx, figures = compute_figures(db, district_id, Selection(term, None), k, today, tz_name,
                                       enrolled=enrolled, rollup_max_age=rollup_max_age, open_max_age=open_max_age,
                                       cache=cache)
        out.append(TrendPoint(term, figures, figures.scopes, ctx.as_of))
    return out
