"""Long POSTs are acted on once: an import's confirmation carries a one-time token, a second copy of the same
form is refused and writes nothing more; the page marks the form for the progress script (app/static/js/
long_forms.js), which is a static file (no inline script)."""
from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from models import Screening, Student
from tests.conftest import post
from tests.roster_import_corpus import students, xlsx_bytes
from tests.screenings_fixtures import build
from tests.web.test_roster_import import _counselor, _upload, upload_dir  # noqa: F401 - upload_dir is a fixture
from tests.web.test_screenings_pages import signed_in

ALREADY = "此表单已提交过，未再次执行。"


def _token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "the confirmation form carries a one-time token"
    return match.group(1)


def _screening_preview(client, setup):
    csv = (
        "学籍号,instrument,date,q1,q2,q3,q4,q5,q6,q7\n"
        + "\n".join(f"{n},gad7,2026-10-12,1,1,1,1,1,1,1" for n in setup.numbers)
        + "\n"
    )
    return post(client, "/screenings/import", {"file": (io.BytesIO(csv.encode()), "r.csv"), "campaign": ""},
                content_type="multipart/form-data").get_data(as_text=True)


def test_a_screenings_import_confirmed_twice_is_stored_once(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    html = _screening_preview(client, setup)
    assert "data-long=" in html and "js/long_forms.js" in html
    form = {"payload": html.split('name="payload" value="')[1].split('"')[0], "filename": "r.csv", "campaign": "",
            "partial": "", "form_token": _token(html)}
    assert post(client, "/screenings/import/confirm", form).status_code == 302
    # no campaign: nothing else would stop the same rows being stored again
    again = post(client, "/screenings/import/confirm", form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 3
    # a new preview (a new token) is a new decision
    html = _screening_preview(client, setup)
    form["form_token"] = _token(html)
    assert post(client, "/screenings/import/confirm", form).status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 6


def test_a_refused_import_does_not_spend_its_token(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    html = _screening_preview(client, setup)
    token = _token(html)
    bad = "学籍号,instrument,date,q1,q2,q3,q4,q5,q6,q7\nX1,gad7,2026-10-12,9,1,1,1,1,1,1\n"
    import base64

    r = post(client, "/screenings/import/confirm", {"payload": base64.b64encode(bad.encode()).decode(),
                                                    "filename": "r.csv", "form_token": token})
    assert r.status_code == 400  # rolled back, token included
    form = {"payload": html.split('name="payload" value="')[1].split('"')[0], "filename": "r.csv", "campaign": "",
            "partial": "", "form_token": token}
    assert post(client, "/screenings/import/confirm", form).status_code == 302
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 3


def test_a_roster_import_confirmed_twice_is_refused_the_second_time(client, factory, db_session, upload_dir):  # noqa: F811
    school = factory.school()
    _counselor(client, factory, school)
    html = _upload(client, school, xlsx_bytes(students(5)), "名册.xlsx").get_data(as_text=True)
    assert "data-long=" in html
    token = _token(html)
    assert post(client, "/roster/import/confirm", {"form_token": token}).status_code == 302
    again = post(client, "/roster/import/confirm", {"form_token": token}, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 5
