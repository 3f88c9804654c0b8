"""District supervision report benchmark: `GET /district/report.pdf` end to end, against its own parts.

    .venv/bin/python -m bench.bench_report [tiny|small|district]

Data: `dashboard` (bench/bench_dashboard.py: at district scale 100 schools, 60,000 students, ten terms of two
instruments = 1.2 million screenings; small: 10 schools, 3,000 students, four terms), on a copy with one district
officer added. The report is of the latest term (its campaign open: figures from the running-term rollup the
scheduler keeps fresh, as the dashboard's); the trends part reads every term's rollup. The rollups are refreshed
once before measuring (for the clock's today, the day the app computes for), as the scheduler leaves them.

Figures, median of several runs, each beside its floors:
- `district_pdf_s`: the Flask test client's GET of the report (figures, HTML, WeasyPrint layout and PDF, the
  audit event), target < 5 s at district scale, against
  (1) `weasyprint`: WeasyPrint alone laying out and writing the same report HTML (rendered once beforehand, the
      garbage collector paused as render_pdf pauses it): what any report of this content costs, whatever computed
      its figures;
  (2) `figures`: the report's context alone (the same service calls and table, chart and staffing builders, in a
      request context, no template, no layout): what the same figures cost as a page.
"""
from __future__ import annotations

from typing import Any

from bench.core import Floor, interleaved, result, runs_for

DATA = "dashboard"
TARGET_S = 5.0
PASSWORD = "bench report officer 1"


def _add_officer(url: str, district_id: int) -> str:
    """A district officer of the data set's district (the data set has counselors only)."""
    from sqlalchemy.orm import Session

    from app.auth.service import hash_password
    from models import User
    from models.db import make_engine

    engine = make_engine(url)
    try:
        with Session(bind=engine) as s:
            s.add(User(username="bench-district", display_name="区教育局", password_hash=hash_password(PASSWORD),
                       role="district", district_id=district_id, active=True))
            s.commit()
    finally:
        engine.dispose()
    return "bench-district"


def run(scale: str, data: Any) -> list[dict]:
    from flask_login import login_user
    from sqlalchemy import select
    from weasyprint import HTML

    from app import create_app
    from app.auth.throttle import MemoryThrottle
    from app.db import db as app_db
    from app.district import report as district_report
    from app.district import service
    from app.reports import REPORT_ORIGIN, StaticOnlyFetcher, collector_paused, render_html
    from config import TestingConfig
    from models import User, clock
    from models.crypto import KeyRing
    from models.db import make_engine

    runs = runs_for(scale, heavy=True)
    with data.copy() as db:
        info = db.info
        district_id = info["district_id"]
        term = info["latest_term"]
        username = _add_officer(db.url, district_id)
        engine = make_engine(db.url)
        try:
            from sqlalchemy.orm import Session

            with Session(bind=engine) as s:  # the rollups as the scheduler leaves them
                service.refresh_rollups(s, district_id, clock.today("Asia/Shanghai"), running=True)
                s.commit()
        finally:
            engine.dispose()
        app = create_app(TestingConfig(), {"DATABASE_URL": db.url, "KEYRING": KeyRing.generate(),
                                           "WTF_CSRF_ENABLED": False, "THROTTLE": MemoryThrottle(100, 60)})
        client = app.test_client()
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        url = f"/district/report.pdf?term={term}"

        def report() -> None:
            response = client.get(url)
            assert response.status_code == 200 and response.data.startswith(b"%PDF-"), response.status_code

        with app.test_request_context("/district/report.pdf"):
            officer = app_db.session.scalars(select(User).where(User.username == username)).one()
            officer_id = officer.id
            login_user(officer)
            html = render_html(district_report.TEMPLATE, title=district_report.report_title(),
                               **district_report.report_context(term))
            app_db.session.rollback()
        fetcher = StaticOnlyFetcher(app.static_folder or "", "/static/")

        def weasyprint_only() -> None:
            with collector_paused():  # as render_pdf does (app/reports/pdf.py)
                HTML(string=html, base_url=REPORT_ORIGIN + "/", url_fetcher=fetcher).write_pdf()

        def figures_only() -> None:
            with app.test_request_context("/district/report.pdf"):
                login_user(app_db.session.get(User, officer_id))
                district_report.report_context(term)
                app_db.session.rollback()

        report_s, weasy_s, figures_s = interleaved([report, weasyprint_only, figures_only], runs)
        app.extensions["xinmiao_engine"].dispose()

    where = f"{info['rows'].get('schools', '?')} schools, latest term {term}, {db.kind}"
    return [
        result("report.district_pdf_s", f"district supervision report PDF, GET /district/report.pdf ({where}; "
               f"{len(html) // 1024} KB of HTML)", report_s, "s",
               [Floor("weasyprint", "WeasyPrint alone: the same report HTML laid out and written to PDF", weasy_s),
                Floor("figures", "the report's figures alone: the same service calls and builders, no layout",
                      figures_s)],
               target=f"< {TARGET_S:g} s (district scale)"),
    ]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_report")
