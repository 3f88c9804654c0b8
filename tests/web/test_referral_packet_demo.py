"""The referral packet of the demo's emergency referral (the demo district, seeded as `make run` does): consent
recorded, every section ticked, page 1 as a picture. XINMIAO_ARTEFACTS_DIR keeps a copy of the picture
(docs/reports/referral-packet-p1.png)."""
from __future__ import annotations

import os
import shutil
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.demo.cli import run_demo
from models import CaseEntry, User
from tests.conftest import login, post
from tests.pdf_tools import first_page_png, pdf_text, squeeze

TODAY = date(2026, 11, 29)  # the demo's day (tests/integration/test_demo_seed.py)


def test_the_demo_emergency_referral_packet(app, client, db_session, keyring, moved_clock, tmp_path):
    moved_clock(datetime.combine(TODAY, time(18, 0), tzinfo=ZoneInfo("Asia/Shanghai")))
    with app.app_context():
        run_demo(db_session, keyring, "pw-demo", seed=7, today=TODAY)
    db_session.flush()
    entry = db_session.scalars(select(CaseEntry).where(CaseEntry.kind == "referral", CaseEntry.emergency.is_(True))
                               .order_by(CaseEntry.id)).first()
    assert entry is not None and entry.author_id is not None
    counselor = db_session.get(User, entry.author_id)
    login(client, counselor.username, password="pw-demo")
    assert post(client, f"/care/referrals/{entry.uid}/consent",
                {"how": "phone", "by": "监护人（母亲）", "on": TODAY.isoformat()}).status_code == 302
    response = client.get(f"/care/referrals/{entry.uid}/packet.pdf",
                          query_string=[("section", s) for s in ("reason", "screenings", "risk", "safety_plan",
                                                                 "contacts")])
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = squeeze(pdf_text(response.data))
    assert "转介材料" in text and "市精神卫生中心急诊" in text and "紧急转介" in text
    png = first_page_png(response.data, tmp_path / "referral-packet-p1.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert abs(width - 496) <= 1 and abs(height - 702) <= 1  # A4 at 60 dpi
    keep = os.environ.get("XINMIAO_ARTEFACTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
