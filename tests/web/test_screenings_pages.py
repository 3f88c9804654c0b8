"""Counselor pages: campaigns, progress, opt-outs, sessions, paper entry, import upload, interviews, acknowledgement."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from app.screenings.recording import record_screening
from models import Actor, AuditEvent, Campaign, CampaignOptOut, ClassSession, Notification, Screening, Warning, clock
from models.vault import Vault
from tests.conftest import login, post
from tests.screenings_fixtures import GAD7_CALM, PHQA_CALM, PHQA_CRISIS, build


def signed_in(client, user):
    login(client, user.username)
    return client


def test_a_counselor_creates_a_campaign_for_their_school(client, factory, db_session):
    school = factory.school()
    counselor = factory.counselor(school)
    signed_in(client, counselor)
    assert client.get("/campaigns/new").status_code == 200
    r = post(
        client,
        "/campaigns/new",
        {
            "name": "秋季筛查",
            "term": "2026-2027-1",
            "starts_on": "2026-10-08",
            "ends_on": "2026-10-30",
            "schools": str(school.id),
            "guardian_notice": "letter",
            "guardian_notice_on": "2026-09-30",
            "rule1_instrument": "phqa",
            "rule1_from": "7",
            "rule1_to": "9",
            "rule2_instrument": "psc17",
            "rule2_from": "4",
            "rule2_to": "6",
            "rule3_instrument": "",
            "rule3_from": "1",
            "rule3_to": "1",
            "rule4_instrument": "",
            "rule4_from": "1",
            "rule4_to": "1",
            # grades 4-6 answer only a parent report (no suicide item): the form warns; created anyway here
            "no_suicide_item_ok": "y",
        },
    )
    assert r.status_code == 302, r.get_data(as_text=True)[:2000]
    c = db_session.scalars(select(Campaign).where(Campaign.name == "秋季筛查")).one()
    assert [s.id for s in c.schools] == [school.id]
    assert sorted((ci.instrument_id, ci.grade_from, ci.grade_to) for ci in c.instruments) == [
        ("phqa", 7, 9),
        ("psc17", 4, 6),
    ]
    assert c.guardian_notice == "letter"


def test_a_campaign_is_named_mingcheng_not_xingming(client, factory, db_session):
    """The campaign's name is 名称; 姓名 is a person's name (the shared msgid "Name" has a context here)."""
    import re

    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    form = client.get("/campaigns/new").get_data(as_text=True)
    label = re.search(r'<label[^>]*for="name"[^>]*>(.*?)</label>', form, re.S)
    assert label and label.group(1).strip().startswith("名称"), label
    listing = client.get("/campaigns").get_data(as_text=True)
    headers = re.findall(r"<th[^>]*>(.*?)</th>", listing.split("<thead>", 1)[1].split("</thead>", 1)[0], re.S)
    assert headers[0].strip() == "名称" and "姓名" not in headers


def test_a_campaign_with_a_window_ending_before_it_starts_is_refused(client, factory, db_session):
    school = factory.school()
    signed_in(client, factory.counselor(school))
    r = post(
        client,
        "/campaigns/new",
        {
            "name": "x",
            "term": "2026-2027-1",
            "starts_on": "2026-10-08",
            "ends_on": "2026-10-01",
            "schools": str(school.id),
            "rule1_instrument": "phqa",
            "rule1_from": "7",
            "rule1_to": "9",
        },
    )
    assert r.status_code == 200 and "has-error" in r.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_campaign_page_counts_progress_per_class(client, factory, db_session, keyring):
    setup = build(factory, db_session, n=4)
    vault = Vault(db_session, keyring, Actor.system("t"))
    actor = Actor.system("t")
    for inst, answers in (("phqa", PHQA_CALM), ("gad7", GAD7_CALM), ("psc17", [0] * 17)):
        record_screening(
            db_session,
            actor,
            vault,
            setup.students[0],
            inst,
            answers,
            mode="self",
            administered_on=clock.today(),
            campaign=setup.campaign,
            session=setup.session,
        )
    record_screening(
        db_session,
        actor,
        vault,
        setup.students[1],
        "phqa",
        PHQA_CALM,
        mode="self",
        administered_on=clock.today(),
        campaign=setup.campaign,
        session=setup.session,
    )
    db_session.add(CampaignOptOut(campaign_id=setup.campaign.id, student_id=setup.students[3].id))
    db_session.flush()
    signed_in(client, setup.counselor)
    html = client.get(f"/campaigns/{setup.campaign.id}").get_data(as_text=True)
    row = html[html.index(f'data-class="{setup.klass.id}"') :]
    row = row[: row.index("</tr>")]
    cells = [c.split("<")[0].strip() for c in row.split('class="num">')[1:]]
    assert cells[:2] == ["3", "1"] and cells[2:5] == [
        "1",
        "1",
        "1",
    ]  # assigned, finished, in progress, not started, opted out


def test_opt_outs_are_saved_and_audited(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    url = f"/campaigns/{setup.campaign.id}/classes/{setup.klass.id}/opt-outs"
    assert client.get(url).status_code == 200
    r = post(client, url, {"opted_out": [setup.students[1].public_id, "not-a-student"]})
    assert r.status_code == 302
    assert db_session.scalars(select(CampaignOptOut.student_id)).all() == [setup.students[1].id]
    assert (
        db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "campaign.opt_outs"))
        == 1
    )


def test_closing_a_campaign_closes_its_sessions(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    r = post(client, f"/campaigns/{setup.campaign.id}/close")
    assert r.status_code == 302
    db_session.refresh(setup.campaign)
    db_session.refresh(setup.session)
    assert setup.campaign.status == "closed" and setup.session.closed_at is not None


def test_opening_a_session_gives_a_short_code_and_a_qr_code(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    r = post(client, f"/campaigns/{setup.campaign.id}/classes/{setup.klass.id}/sessions", {"minutes": "45"})
    assert r.status_code == 302
    cs = db_session.scalars(select(ClassSession).order_by(ClassSession.id.desc())).first()
    assert len(cs.code) == 6 and not set(cs.code) & set("0O1I")
    assert 44 <= (cs.expires_at - cs.opened_at).total_seconds() / 60 <= 46
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert cs.code in html and "<svg" in html and f"/s?code={cs.code}" in html
    assert 'http-equiv="refresh"' in html  # without JavaScript the page still refreshes
    campaign_page = client.get(f"/campaigns/{setup.campaign.id}").get_data(as_text=True)
    assert f"/sessions/{cs.id}" in campaign_page and "场次进行中" in campaign_page


def test_the_session_status_json_lists_statuses_and_crises_without_names(client, factory, db_session, keyring):
    setup = build(factory, db_session)
    vault = Vault(db_session, keyring, Actor.system("t"))
    record_screening(
        db_session,
        Actor.system("t"),
        vault,
        setup.students[0],
        "phqa",
        PHQA_CRISIS,
        mode="self",
        administered_on=clock.today(),
        campaign=setup.campaign,
        session=setup.session,
    )
    db_session.flush()
    signed_in(client, setup.counselor)
    data = client.get(f"/sessions/{setup.session.id}/status.json").get_json()
    assert data["students"][setup.students[0].public_id] == "in_progress"
    assert data["students"][setup.students[1].public_id] == "not_started"
    assert len(data["crises"]) == 1 and data["crises"][0]["student"] == setup.students[0].public_id
    assert "学生" not in str(data)  # names never travel in the poll


def test_closing_a_session_stops_the_code(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    assert post(client, f"/sessions/{setup.session.id}/close").status_code == 302
    db_session.refresh(setup.session)
    assert setup.session.closed_at is not None


def test_paper_entry_scores_and_shows_the_result_with_the_suggested_level(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    response = post(client, "/screenings/enter", {"q": setup.numbers[2]})
    assert response.status_code == 302 and setup.numbers[2] not in response.headers["Location"]
    found = client.get(response.headers["Location"]).get_data(as_text=True)
    assert setup.students[2].public_id in found
    url = f"/screenings/enter/{setup.students[2].public_id}"
    assert "q13" in client.get(url, query_string={"instrument": "phqa"}).get_data(as_text=True)
    data = {"instrument": "phqa", "administered_on": "2026-10-12", "campaign": str(setup.campaign.id)}
    data.update({f"q{i}": str(a) for i, a in enumerate([2, 2, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0, 0], start=1)})
    r = post(client, url, data)
    assert r.status_code == 302 and "/screenings/" in r.headers["Location"]
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="total">13<' in html
    assert "level-l3" in html and "中度" in html
    assert "逐题作答" in html and "一半以上的天数" in html  # the answers, opened under the page's one audit event
    s = db_session.scalars(select(Screening)).one()
    assert s.mode == "paper" and s.recorded_by_id == setup.counselor.id and s.campaign_id == setup.campaign.id


def test_paper_entry_refuses_an_out_of_range_answer_naming_the_item(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    data = {"instrument": "gad7", "administered_on": "2026-10-12"}
    data.update({f"q{i}": "1" for i in range(1, 8)})
    data["q4"] = "5"
    r = post(client, f"/screenings/enter/{setup.students[0].public_id}", data)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "第4题" in html
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_the_import_upload_previews_then_writes_on_confirm(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    csv = (
        "学籍号,instrument,date,q1,q2,q3,q4,q5,q6,q7\n"
        + "\n".join(f"{n},gad7,2026-10-12,1,1,1,1,1,1,1" for n in setup.numbers)
        + "\n"
    )
    r = post(
        client,
        "/screenings/import",
        {"file": (io.BytesIO(csv.encode("gbk")), "r.csv"), "campaign": ""},
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="bad-rows">0<' in html
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0
    payload = html.split('name="payload" value="')[1].split('"')[0]
    r = post(
        client, "/screenings/import/confirm", {"payload": payload, "filename": "r.csv", "campaign": "", "partial": ""}
    )
    assert r.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 3


def test_an_empty_import_template_is_offered_per_instrument(client, factory, db_session):
    signed_in(client, factory.counselor(factory.school()))
    r = client.get("/screenings/import/template.csv", query_string={"instrument": "gad7"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.get_data(as_text=True).lstrip("\ufeff").strip() == "学籍号,instrument,date,q1,q2,q3,q4,q5,q6,q7"
    assert client.get("/screenings/import/template.csv", query_string={"instrument": "nosuch"}).status_code == 404


def test_an_import_upload_with_a_bad_row_names_it_and_offers_no_confirmation(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    csv = (
        "student_number,instrument,date,q1,q2,q3,q4,q5,q6,q7\n"
        f"{setup.numbers[0]},gad7,2026-10-12,1,1,1,1,1,1,1\n{setup.numbers[1]},gad7,2026-10-12,1,1,1,9,1,1,1\n"
    )
    html = post(
        client, "/screenings/import", {"file": (io.BytesIO(csv.encode()), "r.csv")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert 'data-testid="bad-rows">1<' in html and "q4" in html and "import/confirm" not in html
    # forcing the confirmation anyway writes nothing
    import base64

    r = post(
        client, "/screenings/import/confirm", {"payload": base64.b64encode(csv.encode()).decode(), "filename": "r.csv"}
    )
    assert r.status_code == 400
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_the_interview_queue_lists_crises_first_then_by_level(client, factory, db_session, keyring):
    setup = build(factory, db_session)
    vault = Vault(db_session, keyring, Actor.system("t"))
    actor = Actor.system("t")
    record_screening(
        db_session,
        actor,
        vault,
        setup.students[0],
        "phqa",
        [2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        mode="paper",
        administered_on=clock.today(),
    )
    record_screening(
        db_session, actor, vault, setup.students[1], "phqa", PHQA_CRISIS, mode="paper", administered_on=clock.today()
    )
    other_school_student = factory.student()
    record_screening(
        db_session, actor, vault, other_school_student, "phqa", PHQA_CRISIS, mode="paper", administered_on=clock.today()
    )
    db_session.flush()
    signed_in(client, setup.counselor)
    html = client.get("/interviews").get_data(as_text=True)
    levels = [chunk.split('"')[0] for chunk in html.split('data-level="')[1:]]
    assert levels == ["L1", "L3"]
    assert other_school_student.public_id not in html


def test_acknowledging_a_crisis_is_audited_and_marks_its_notifications_read(client, factory, db_session, keyring):
    setup = build(factory, db_session)
    vault = Vault(db_session, keyring, Actor.system("t"))
    s = record_screening(
        db_session,
        Actor.system("t"),
        vault,
        setup.students[0],
        "phqa",
        PHQA_CRISIS,
        mode="paper",
        administered_on=clock.today(),
    )
    db_session.flush()
    warning = db_session.scalars(select(Warning).where(Warning.screening_id == s.id)).one()
    signed_in(client, setup.counselor)
    r = post(client, f"/interviews/{warning.uid}/acknowledge")
    assert r.status_code == 302
    db_session.refresh(warning)
    assert warning.acknowledged_by_id == setup.counselor.id
    assert (
        db_session.scalars(select(Notification.read_at).where(Notification.warning_id == warning.id)).all()[0]
        is not None
    )
    assert (
        db_session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "warning.acknowledged")
        )
        == 1
    )


def test_other_roles_are_refused_and_other_schools_records_are_not_found(client, factory, db_session, keyring):
    setup = build(factory, db_session)
    vault = Vault(db_session, keyring, Actor.system("t"))
    s = record_screening(
        db_session,
        Actor.system("t"),
        vault,
        setup.students[0],
        "phqa",
        PHQA_CRISIS,
        mode="paper",
        administered_on=clock.today(),
    )
    db_session.flush()
    warning = db_session.scalars(select(Warning).where(Warning.screening_id == s.id)).one()
    teacher = factory.head_teacher(setup.klass)
    signed_in(client, teacher)
    for url in (
        "/campaigns",
        "/campaigns/new",
        f"/campaigns/{setup.campaign.id}",
        f"/sessions/{setup.session.id}",
        f"/sessions/{setup.session.id}/status.json",
        "/screenings/enter",
        "/screenings/import",
        "/interviews",
        "/screenings/import/template.csv",
        f"/screenings/{s.uid}",
    ):
        assert client.get(url).status_code == 403, url
    assert post(client, f"/interviews/{warning.uid}/acknowledge").status_code == 403
    stranger = factory.counselor(factory.school())
    c2 = client.application.test_client()
    signed_in(c2, stranger)
    for url in (
        f"/campaigns/{setup.campaign.id}",
        f"/sessions/{setup.session.id}",
        f"/sessions/{setup.session.id}/status.json",
        f"/campaigns/{setup.campaign.id}/classes/{setup.klass.id}/opt-outs",
        f"/screenings/{s.uid}",
        f"/screenings/enter/{setup.students[0].public_id}",
    ):
        assert c2.get(url).status_code == 404, url
    assert post(c2, f"/interviews/{warning.uid}/acknowledge").status_code == 404
    assert post(c2, f"/sessions/{setup.session.id}/close").status_code == 404
    assert post(c2, f"/campaigns/{setup.campaign.id}/close").status_code == 404


def test_state_changes_without_csrf_are_refused(client, factory, db_session):
    setup = build(factory, db_session)
    signed_in(client, setup.counselor)
    for url in (
        f"/campaigns/{setup.campaign.id}/close",
        f"/sessions/{setup.session.id}/close",
        f"/campaigns/{setup.campaign.id}/classes/{setup.klass.id}/sessions",
        "/campaigns/new",
        f"/campaigns/{setup.campaign.id}/classes/{setup.klass.id}/opt-outs",
        "/screenings/import/confirm",
        "/interviews/x/acknowledge",
        f"/screenings/enter/{setup.students[0].public_id}",
    ):
        assert client.post(url, data={}).status_code == 400, url
