"""The other long or non-idempotent counselor POSTs are acted on once too (issue 22, app/form_tokens.py): the class
grid of paper forms, the one-student paper entry, a new campaign, opening a class session. Each page carries a
one-time token and marks its form for the progress script (data-long); a second copy of the same form is refused
and writes nothing more; a new page (a new token) is a new decision."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from app.screenings.grid import cell_name
from models import Campaign, ClassSession, Screening, clock
from tests.conftest import post
from tests.screenings_fixtures import build
from tests.web.test_screenings_pages import signed_in

ALREADY = "此表单已提交过，未再次执行。"
CALM = [0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0]  # PHQ-A, no critical answer


def _token(html: str, form_marker: str = "") -> str:
    """The one-time token of the form (the first after `form_marker` in the page, when given)."""
    start = html.index(form_marker) if form_marker else 0
    match = re.search(r'name="form_token" value="([^"]+)"', html[start:])
    assert match, "the form carries a one-time token"
    return match.group(1)


def _count(db_session, model, *where) -> int:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_class_grid_recorded_twice_is_stored_once(client, factory, db_session):
    setup = build(factory, db_session, n=4)
    signed_in(client, setup.counselor)
    url = f"/screenings/grid/{setup.klass.id}/phqa"
    html = client.get(url).get_data(as_text=True)
    assert 'data-long="' in html and "js/long_forms.js" in html
    form = {"action": "save", "administered_on": clock.today().isoformat(), "campaign": "",
            "form_token": _token(html)}
    for student in setup.students:
        form.update({cell_name(student, n): str(v) for n, v in enumerate(CALM, start=1)})
    assert post(client, url, form).status_code == 302
    assert _count(db_session, Screening) == 4
    # no campaign: nothing but the token stops the same forms being recorded again
    again = post(client, url, form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    assert _count(db_session, Screening) == 4
    form["form_token"] = _token(client.get(url).get_data(as_text=True))
    assert post(client, url, form).status_code == 302
    assert _count(db_session, Screening) == 8


def test_a_refused_grid_keeps_nothing_and_its_new_page_can_be_sent(client, factory, db_session):
    setup = build(factory, db_session, n=2)
    signed_in(client, setup.counselor)
    url = f"/screenings/grid/{setup.klass.id}/phqa"
    token = _token(client.get(url).get_data(as_text=True))
    form = {"action": "save", "administered_on": clock.today().isoformat(), "campaign": "", "form_token": token}
    form.update({cell_name(setup.students[0], n): str(v) for n, v in enumerate(CALM, start=1)})
    form[cell_name(setup.students[0], 10)] = "3"  # item 10 is yes/no
    r = post(client, url, form)
    assert r.status_code == 200 and _count(db_session, Screening) == 0
    form[cell_name(setup.students[0], 10)] = "0"
    form["form_token"] = _token(r.get_data(as_text=True))
    assert post(client, url, form).status_code == 302
    assert _count(db_session, Screening) == 1


def test_a_paper_form_entered_twice_is_stored_once(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    url = f"/screenings/enter/{setup.students[0].public_id}"
    html = client.get(url, query_string={"instrument": "phqa"}).get_data(as_text=True)
    assert 'data-long="' in html
    form = {"instrument": "phqa", "administered_on": clock.today().isoformat(), "campaign": "",
            "form_token": _token(html, 'class="paper-entry"')}
    form.update({f"q{n}": str(v) for n, v in enumerate(CALM, start=1)})
    assert post(client, url, form).status_code == 302
    again = post(client, url, form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    assert _count(db_session, Screening) == 1


def _campaign_form(school_id: int, token: str) -> dict[str, str]:
    return {
        "name": "一次提交的筛查", "term": "2026-2027-1", "starts_on": "2026-10-08", "ends_on": "2026-10-30",
        "schools": str(school_id), "guardian_notice": "letter", "guardian_notice_on": "2026-09-30",
        "rule1_instrument": "phqa", "rule1_from": "7", "rule1_to": "9",
        **{f"rule{i}_{k}": v for i in (2, 3, 4) for k, v in (("instrument", ""), ("from", "1"), ("to", "1"))},
        "form_token": token,
    }


def test_a_new_campaign_sent_twice_is_created_once(client, factory, db_session):
    school = factory.school()
    counselor = factory.counselor(school)
    signed_in(client, counselor)
    html = client.get("/campaigns/new").get_data(as_text=True)
    assert 'data-long="' in html
    form = _campaign_form(school.id, _token(html))
    assert post(client, "/campaigns/new", form).status_code == 302
    again = post(client, "/campaigns/new", form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    assert _count(db_session, Campaign, Campaign.name == "一次提交的筛查") == 1


def test_opening_a_session_twice_opens_one(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    assert post(client, f"/sessions/{setup.session.id}/close").status_code == 302
    page = client.get(f"/campaigns/{setup.campaign.id}").get_data(as_text=True)
    marker = f'data-testid="open-session-{setup.klass.id}"'
    form_start = page.rindex("<form", 0, page.index(marker))
    assert 'data-long="' in page[form_start:page.index(marker)]
    url = f"/campaigns/{setup.campaign.id}/classes/{setup.klass.id}/sessions"
    form = {"minutes": "60", "form_token": _token(page[form_start:])}
    before = _count(db_session, ClassSession)
    assert post(client, url, form).status_code == 302
    again = post(client, url, form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    assert _count(db_session, ClassSession) == before + 1
