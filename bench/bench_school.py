"""School page benchmark: one school's figures (the school leader's page and the school report) from the district's
rollups, against the district dashboard's figures of the same term over the same rollups.

    .venv/bin/python -m bench.bench_school [tiny|small|district]

Data: `dashboard` (bench/bench_dashboard.py: at district scale 100 schools, 60,000 students, ten terms). Measured
on a copy, after the rollups of every term were written (as the scheduler keeps them). The school is the one
with the most students. Figures, median of several runs:
- `school_page_ms`: what the page computes: `school_figures` for the latest term (the school's family protected,
  the counselor workload, coverage by class size), `school_trends` over every term, the school's staffing row;
  against (1) `compute_figures` of the district dashboard for the same term (the rollup read, the district's
  family protected) and (2) reading and decoding every term's full rollup alone, which the school's figures and
  trend start from.
- `school_pdf_s`: the school leader's GET of `/school/<id>/report.pdf` through the Flask test client (figures,
  HTML, WeasyPrint layout, the audit event), against the page's figures above (what is not layout).
"""
from __future__ import annotations

from typing import Any

from bench.bench_dashboard import SCALES, TODAY, _terms, rollup_floor
from bench.core import Floor, interleaved, result, runs_for

DATA = "dashboard"
PASSWORD = "bench school leader 1"


def _add_leader(url: str, district_id: int, school_id: int) -> str:
    """A school leader of the school (the data set has counselors only)."""
    from sqlalchemy.orm import Session

    from app.auth.service import hash_password
    from models import School, User
    from models.db import make_engine

    engine = make_engine(url)
    try:
        with Session(bind=engine) as s:
            user = User(username="bench-leader", display_name="校领导", password_hash=hash_password(PASSWORD),
                        role="school_leader", district_id=district_id, active=True)
            user.schools = [s.get_one(School, school_id)]
            s.add(user)
            s.commit()
    finally:
        engine.dispose()
    return "bench-leader"


def run(scale: str, data: Any) -> list[dict]:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from app.district import service
    from app.district.service import Selection
    from models import Student
    from models.db import make_engine

    runs = runs_for(scale)
    with data.copy() as db:
        engine = make_engine(db.url)
        try:
            district_id = db.info["district_id"]
            latest = db.info["latest_term"]
            terms = [t for t, _ in _terms(SCALES.get(scale, SCALES["small"])["terms"])]
            cache = service.FiguresCache()
            with Session(bind=engine) as s:
                school_id = s.execute(select(Student.school_id).group_by(Student.school_id)
                                      .order_by(func.count(Student.id).desc()).limit(1)).scalar_one()
                service.refresh_rollups(s, district_id, TODAY, running=True)
                s.commit()

            def school_page() -> None:
                with Session(bind=engine) as s:
                    service.school_figures(s, district_id, school_id, Selection(latest, None), 5, TODAY,
                                           cache=cache)
                    service.school_trends(s, district_id, school_id, 5, TODAY, cache=cache)
                    service.school_staffing(s, district_id, school_id, 5)
                    s.commit()

            def dashboard() -> None:
                with Session(bind=engine) as s:
                    service.compute_figures(s, district_id, Selection(latest, None), 5, TODAY, cache=cache)
                    s.commit()

            full = [service.rollup_key(district_id, Selection(t, None), "full") for t in terms]
            samples = interleaved([school_page, dashboard, rollup_floor(engine, full)], runs, unit="ms")
            pdf_s = _pdf(db.url, district_id, school_id, latest, runs_for(scale, heavy=True))
            return [result(
                "school.school_page_ms",
                f"one school's page (figures of {latest}, workload, class sizes, trend over {len(terms)} terms, "
                "staffing) from the rollups",
                samples[0], "ms",
                [Floor("district_dashboard", "the district dashboard's figures of the same term (compute_figures)",
                       samples[1]),
                 Floor("rollup_read", "reading and decoding every term's full rollup alone (DB-API, json.loads)",
                       samples[2])]),
                result("school.school_pdf_s", f"the school screening report PDF, GET /school/<id>/report.pdf "
                       f"({latest})", pdf_s, "s", [Floor("figures", "the page's figures alone (school_page_ms)",
                                                         samples[0].scaled(0.001))])]
        finally:
            engine.dispose()


def _pdf(url: str, district_id: int, school_id: int, term: str, runs: int) -> Any:
    from app import create_app
    from app.auth.throttle import MemoryThrottle
    from config import TestingConfig
    from models.crypto import KeyRing

    username = _add_leader(url, district_id, school_id)
    app = create_app(TestingConfig(), {"DATABASE_URL": url, "KEYRING": KeyRing.generate(),
                                       "WTF_CSRF_ENABLED": False, "THROTTLE": MemoryThrottle(100, 60)})
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.status_code

    def report() -> None:
        response = client.get(f"/school/{school_id}/report.pdf?term={term}")
        assert response.status_code == 200 and response.data.startswith(b"%PDF-"), response.status_code

    try:
        return interleaved([report], runs)[0]
    finally:
        app.extensions["xinmiao_engine"].dispose()


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_school")
