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


# -- the care forms: a timeline entry, a head teacher's observation and request, a student's request to talk ------
def test_a_case_entry_sent_twice_is_added_once(client, factory, db_session, keyring):
    from models import CaseEntry
    from tests.web.test_care_case import _case

    case, _student, counselor, _klass = _case(factory, db_session, keyring)
    signed_in(client, counselor)
    page = client.get(f"/cases/{case.uid}").get_data(as_text=True)
    marker = f'action="/cases/{case.uid}/entries"'
    assert 'data-long="' in page[page.index(marker):page.index(marker) + 300]
    form = {"kind": "parent_contact", "occurred_on": "2026-11-20", "note": "电话联系了家长", "visibility": "shared",
            "form_token": _token(page, marker)}
    before = _count(db_session, CaseEntry)
    assert post(client, f"/cases/{case.uid}/entries", form).status_code == 302
    again = post(client, f"/cases/{case.uid}/entries", form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)
    assert _count(db_session, CaseEntry) == before + 1


def test_a_head_teachers_observation_and_request_sent_twice_arrive_once(client, factory, db_session, keyring):
    from models import CaseEntry, HelpRequest
    from tests.conftest import login
    from tests.web.test_care_class_list import _class

    _, klass, _counselor, crisis, _case = _class(factory, db_session, keyring)
    login(client, factory.head_teacher(klass).username)
    page = client.get("/care/class").get_data(as_text=True)
    observation = {"student": crisis.public_id, "kind": "observation", "occurred_on": "2026-11-25",
                   "note": "今天午饭没吃", "form_token": _token(page, 'action="/care/class/observations"')}
    before = _count(db_session, CaseEntry)
    assert post(client, "/care/class/observations", observation).status_code == 302
    assert ALREADY in post(client, "/care/class/observations", observation, follow_redirects=True).get_data(
        as_text=True)
    assert _count(db_session, CaseEntry) == before + 1
    request_form = {"student": crisis.public_id, "urgency": "soon", "message": "",
                    "form_token": _token(page, 'action="/care/class/help-requests"')}
    assert post(client, "/care/class/help-requests", request_form).status_code == 302
    assert ALREADY in post(client, "/care/class/help-requests", request_form,
                           follow_redirects=True).get_data(as_text=True)
    assert _count(db_session, HelpRequest) == 1


def test_a_students_request_to_talk_sent_twice_is_one_request_with_the_same_confirmation(app, factory, db_session):
    from models import HelpRequest

    setup = build(factory, db_session)
    c = app.test_client()
    page = c.get("/s/help").get_data(as_text=True)
    assert 'data-long="' in page
    form = {"school": setup.school.code, "student_number": setup.numbers[0], "birth_month": "2013-01",
            "urgency": "soon", "message": "", "form_token": _token(page)}
    first = post(c, "/s/help", form)
    second = post(c, "/s/help", form)
    assert first.headers["Location"].endswith("/s/help/sent") and second.headers["Location"] == first.headers[
        "Location"]
    assert _count(db_session, HelpRequest) == 1
    # the page reused by another student (the token spent for someone else): their request is not lost
    form.update(student_number=setup.numbers[1], birth_month="2013-02")
    assert post(c, "/s/help", form).headers["Location"].endswith("/s/help/sent")
    assert _count(db_session, HelpRequest) == 2


def test_a_new_student_sent_twice_is_added_once(client, factory, db_session):
    from models import Student
    from tests.web.test_roster_student_form import _form, _setup

    school, klass = _setup(client, factory)
    html = client.get("/students/new").get_data(as_text=True)
    assert 'data-long="' in html
    form = {**_form(school, klass), "form_token": _token(html)}
    assert post(client, "/students/new", form).status_code == 302
    again = post(client, "/students/new", form, follow_redirects=True)
    assert ALREADY in again.get_data(as_text=True)  # not "this number is taken": the same form, not a new student
    assert _count(db_session, Student, Student.school_id == school.id) == 1
