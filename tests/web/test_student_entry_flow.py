"""The student entrance /s: session code, student number and personal entry code, one instrument per page,
autosave and resume, thank-you, refusals, limits per student and per session (never per client address)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from models import AuditEvent, ResponseDraft, Screening, Warning, utcnow
from tests.conftest import post
from tests.leaks import score_places
from tests.screenings_fixtures import GAD7_CALM, PHQA_CALM, PHQA_CRISIS, answers_form, build


def enter(client, setup, i=0, code=None, number=None, entry=None, session=None):
    cs = session or setup.session
    return post(client, "/s", {"code": code or cs.code, "student_number": number or setup.numbers[i],
                               "entry_code": entry or setup.code(i, cs)})


def test_a_student_enters_the_code_answers_each_instrument_and_sees_a_thank_you_without_a_score(
    client, factory, db_session
):
    setup = build(factory, db_session)
    r = enter(client, setup)
    assert r.status_code == 302 and r.headers["Location"].endswith("/s/q")
    page = client.get("/s/q").get_data(as_text=True)
    assert "最近的心情" in page and "PHQ-A" not in page and 'role="progressbar"' in page
    assert 'name="instrument" value="phqa"' in page
    r = post(client, "/s/q", answers_form(PHQA_CALM, "phqa"))
    assert r.status_code == 302
    page = client.get("/s/q").get_data(as_text=True)
    assert 'name="instrument" value="gad7"' in page
    r = post(client, "/s/q", answers_form(GAD7_CALM, "gad7"))
    r = client.get("/s/q", follow_redirects=True)
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="thanks"' in text
    assert "总分" not in text and "score" not in text.lower()
    rows = db_session.scalars(select(Screening).where(Screening.student_id == setup.students[0].id)).all()
    assert sorted(s.instrument_id for s in rows) == ["gad7", "phqa"]
    assert all(s.mode == "self" and s.session_id == setup.session.id for s in rows)
    for s in rows:  # the scores themselves, where a score would stand (not any digit: the page may show a date)
        assert score_places(text, s.total) == [], s.instrument_id
    actions = set(db_session.scalars(select(AuditEvent.action).where(AuditEvent.actor == "student-entrance")))
    assert {"student.self_identified", "screening.recorded"} <= actions


def test_a_parent_report_is_never_offered_to_students(client, factory, db_session):
    setup = build(factory, db_session)
    enter(client, setup)
    post(client, "/s/q", answers_form(PHQA_CALM, "phqa"))
    post(client, "/s/q", answers_form(GAD7_CALM, "gad7"))
    assert client.get("/s/q").status_code == 302  # finished: PSC-17 (parent report) is not asked
    assert db_session.scalar(select(func.count()).select_from(Screening).where(Screening.instrument_id == "psc17")) == 0


def test_an_expired_code_is_refused(client, factory, db_session):
    setup = build(factory, db_session)
    setup.session.expires_at = utcnow() - timedelta(minutes=1)
    db_session.flush()
    r = enter(client, setup)
    assert r.status_code == 200 and 'data-testid="code-error"' in r.get_data(as_text=True)
    assert client.get("/s/q").status_code == 302


def test_a_closed_session_code_is_refused(client, factory, db_session):
    setup = build(factory, db_session)
    setup.session.closed_at = utcnow()
    db_session.flush()
    assert 'data-testid="code-error"' in enter(client, setup).get_data(as_text=True)


def _message(html):
    start = html.index('data-testid="identity-error">')
    return html[start:html.index("</div>", start)]


def test_a_wrong_student_number_gets_the_same_answer_as_a_wrong_entry_code(client, factory, db_session):
    setup = build(factory, db_session)
    wrong_number = enter(client, setup, number="NOPE000000").get_data(as_text=True)
    wrong_code = enter(client, setup, entry="ZZZZZZ" if setup.code(0) != "ZZZZZZ" else "YYYYYY").get_data(as_text=True)
    other_class = factory.student(school=setup.school, number="OTHERCLASS1", birth_ym="2013-01")
    outside = enter(client, setup, number="OTHERCLASS1", entry=setup.code(0)).get_data(as_text=True)
    assert other_class.class_id != setup.klass.id
    assert _message(wrong_number) == _message(wrong_code) == _message(outside)
    assert "学籍号或入场码不正确" in _message(wrong_code)
    assert client.get("/s/q").status_code == 302  # not identified


def test_a_classmate_with_the_number_and_the_session_code_but_not_the_entry_code_cannot_enter(
    client, factory, db_session
):
    setup = build(factory, db_session)
    victim = setup.students[0]
    # what a classmate knows: the session code on the board, the victim's number, its birth month (in the number),
    # and their own entry code
    for guess in (victim.birth_ym, victim.birth_ym.replace("-", ""), setup.code(1), setup.code(2)):
        r = enter(client, setup, 0, entry=guess)
        assert r.status_code == 200 and 'data-testid="identity-error"' in r.get_data(as_text=True), guess
        assert client.get("/s/q").status_code == 302
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "student.self_identified")) == 0
    assert enter(client, setup, 0).status_code == 302  # the victim's own code (the 5th attempt) still works


def test_the_entry_code_of_session_a_is_refused_in_session_b(client, factory, db_session, app):
    from app.screenings.sessions import open_session
    from models import Actor

    setup = build(factory, db_session)
    code_a = setup.code(0)
    setup.session.closed_at = utcnow()
    second = open_session(db_session, Actor.system("t"), setup.campaign, setup.klass, keyring=setup.keyring)
    db_session.flush()
    code_b = setup.code(0, second)
    assert code_a != code_b  # fresh codes per session (31^6 codes: equal by chance once in 887 million)
    r = enter(client, setup, session=second, entry=code_a)
    assert 'data-testid="identity-error"' in r.get_data(as_text=True)
    assert enter(client, setup, session=second, entry=code_b).status_code == 302


def test_entry_codes_are_six_unambiguous_characters_typed_loosely_and_never_stored_in_clear(
    client, factory, db_session
):
    from models import EntryCode

    setup = build(factory, db_session)
    codes = [setup.code(i) for i in range(3)]
    assert all(len(c) == 6 and not set(c) & set("01OIL") for c in codes)
    rows = db_session.scalars(select(EntryCode).where(EntryCode.session_id == setup.session.id)).all()
    assert len(rows) == 3
    for row, code in zip(sorted(rows, key=lambda r: r.student_id), codes, strict=True):
        assert code.encode() not in bytes(row.code_enc)
    typed = codes[0][:3].lower() + " " + codes[0][3:].lower()  # lower case, with a space
    assert enter(client, setup, entry=typed).status_code == 302


def test_five_wrong_codes_lock_that_student_for_the_session_but_not_classmates_on_the_same_address(
    client, factory, db_session, app
):
    setup = build(factory, db_session)
    wrong = "ZZZZZZ" if setup.code(0) != "ZZZZZZ" else "YYYYYY"
    for _ in range(5):
        assert enter(client, setup, 0, entry=wrong).status_code == 200
    locked = enter(client, setup, 0)  # even the right code, now
    assert locked.status_code == 200 and "输错入场码的次数过多" in _message(locked.get_data(as_text=True))
    assert client.get("/s/q").status_code == 302
    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "student.entry_locked")).all()
    assert [e.student_public_id for e in events] == [setup.students[0].public_id]
    # classmates behind the same school address (the test client's) still enter
    for i in (1, 2):
        other = app.test_client()
        assert enter(other, setup, i).status_code == 302
    # the counselor unlocks from the session console: the student enters at once
    from tests.conftest import login

    counselor_client = app.test_client()
    login(counselor_client, setup.counselor.username, factory.PASSWORD)
    page = counselor_client.get(f"/sessions/{setup.session.id}").get_data(as_text=True)
    assert 'data-testid="entry-locked"' in page
    r = post(counselor_client, f"/sessions/{setup.session.id}/students/{setup.students[0].public_id}/unlock")
    assert r.status_code == 302
    assert enter(client, setup, 0).status_code == 302
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "session.entry_unlocked")) == 1


def test_the_lock_ends_by_itself_after_the_lock_time(client, factory, db_session, app, moved_clock):
    from models import EntryCode

    setup = build(factory, db_session)
    wrong = "ZZZZZZ" if setup.code(0) != "ZZZZZZ" else "YYYYYY"
    for _ in range(5):
        enter(client, setup, 0, entry=wrong)
    row = db_session.scalars(select(EntryCode).where(EntryCode.student_id == setup.students[0].id)).one()
    db_session.refresh(row)
    assert row.locked_until is not None
    row.locked_until = utcnow() - timedelta(seconds=1)  # the lock time has passed
    db_session.flush()
    assert enter(client, setup, 0).status_code == 302


def test_the_session_caps_wrong_identities_whatever_the_address_and_the_counselor_reopens_it(
    client, factory, db_session, app
):
    from app.auth.throttle import MemoryThrottle

    app.extensions["xinmiao_student_session_failures"] = MemoryThrottle(3, 600)
    setup = build(factory, db_session)
    for n in range(3):  # different students, different addresses: the cap is the session's
        other = app.test_client()
        r = post(other, "/s", {"code": setup.session.code, "student_number": f"NOPE{n}", "entry_code": "ZZZZZZ"},
                 environ_base={"REMOTE_ADDR": f"10.9.0.{n}"})
        assert r.status_code == 200
    assert enter(client, setup, 0).status_code == 429
    from tests.conftest import login

    counselor_client = app.test_client()
    login(counselor_client, setup.counselor.username, factory.PASSWORD)
    page = counselor_client.get(f"/sessions/{setup.session.id}").get_data(as_text=True)
    assert 'data-testid="entrance-capped"' in page
    assert post(counselor_client, f"/sessions/{setup.session.id}/reopen-entrance").status_code == 302
    assert enter(client, setup, 0).status_code == 302


def test_the_counselor_gives_a_new_code_and_the_old_one_stops_working(client, factory, db_session, app):
    from tests.conftest import login

    setup = build(factory, db_session)
    old = setup.code(0)
    counselor_client = app.test_client()
    login(counselor_client, setup.counselor.username, factory.PASSWORD)
    url = f"/sessions/{setup.session.id}/students/{setup.students[0].public_id}/entry-code"
    assert post(counselor_client, url).status_code == 302
    new = setup.code(0)
    assert new != old
    assert 'data-testid="identity-error"' in enter(client, setup, entry=old).get_data(as_text=True)
    assert enter(client, setup, entry=new).status_code == 302
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "session.entry_code_renewed")).one()
    assert event.student_public_id == setup.students[0].public_id


def test_the_console_shows_each_students_code_and_the_slips_print_one_per_student(client, factory, db_session, app):
    from tests.conftest import login

    setup = build(factory, db_session)
    counselor_client = app.test_client()
    login(counselor_client, setup.counselor.username, factory.PASSWORD)
    page = counselor_client.get(f"/sessions/{setup.session.id}").get_data(as_text=True)
    for i in range(3):
        assert f'<code data-testid="entry-code">{setup.code(i)}</code>' in page
    assert f"/sessions/{setup.session.id}/slips" in page
    r = counselor_client.get(f"/sessions/{setup.session.id}/slips")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert html.count('data-testid="slip"') == 3
    names = factory.vault.reveal_many(setup.students, "test")
    for i, student in enumerate(setup.students):
        assert names[student.id].name in html
        assert f'<p class="slip-code" data-testid="slip-code">{setup.code(i)}</p>' in html
    assert setup.klass.name in html and "slips-page" in html and "入场码纸条" in html
    slips_read = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "session.slips")).all()
    assert len(slips_read) == 1 and f'"session": {setup.session.id}' in slips_read[0].detail  # the names are audited
    # another school's counselor: neither console nor slips
    stranger = factory.counselor(factory.school())
    other = app.test_client()
    login(other, stranger.username, factory.PASSWORD)
    assert other.get(f"/sessions/{setup.session.id}/slips").status_code == 404


def test_an_opted_out_student_cannot_start(client, factory, db_session):
    from app.screenings.campaigns import set_opt_outs
    from models import Actor

    setup = build(factory, db_session)
    set_opt_outs(db_session, Actor.system("t"), setup.campaign, setup.klass, [setup.students[0].id])
    r = enter(client, setup)
    assert r.status_code == 200 and "/s/q" not in r.headers.get("Location", "")
    assert client.get("/s/q").status_code == 302


def test_a_missing_answer_keeps_the_page_and_saves_a_draft_that_resumes(client, factory, db_session, app, keyring):
    setup = build(factory, db_session)
    enter(client, setup)
    partial = answers_form(PHQA_CALM[:5] + [None] * 8, "phqa")
    r = post(client, "/s/q", partial)
    assert r.status_code == 200 and 'data-testid="missing"' in r.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0
    draft = db_session.scalars(select(ResponseDraft).where(ResponseDraft.student_id == setup.students[0].id)).one()
    assert draft.answers_enc is not None and b'"1": 0' not in draft.answers_enc
    # a dropped connection: a fresh browser enters again and finds its answers
    other = app.test_client()
    enter(other, setup)
    page = other.get("/s/q").get_data(as_text=True)
    assert page.count("checked") == 5


def test_autosave_stores_the_answers_of_the_current_page(client, factory, db_session):
    setup = build(factory, db_session)
    enter(client, setup)
    r = post(client, "/s/save", {"instrument": "phqa", "q1": "2", "q2": "1"})
    assert r.status_code == 200 and r.get_json()["answered"] == 2
    assert db_session.scalar(select(func.count()).select_from(ResponseDraft)) == 1


def test_a_double_submission_is_refused(client, factory, db_session, app):
    setup = build(factory, db_session)
    enter(client, setup)
    page = client.get("/s/q")
    assert page.status_code == 200
    # a second browser of the same student submits the same page: first one wins, the second is refused kindly
    other = app.test_client()
    enter(other, setup)
    assert post(client, "/s/q", answers_form(PHQA_CALM, "phqa")).status_code == 302
    second = post(other, "/s/q", answers_form(PHQA_CALM, "phqa"))
    assert second.status_code in (302, 409)
    assert db_session.scalar(select(func.count()).select_from(Screening).where(
        Screening.student_id == setup.students[0].id, Screening.instrument_id == "phqa")) == 1


def test_the_database_refuses_a_duplicate_even_when_the_check_is_raced(client, factory, db_session, monkeypatch):
    from app.screenings import recording
    from models import Actor
    from models.vault import Vault

    setup = build(factory, db_session)
    vault = Vault(db_session, factory.keyring, Actor.system("t"))
    recording.record_screening(db_session, Actor.system("t"), vault, setup.students[0], "phqa", PHQA_CALM, mode="self",
                             administered_on=utcnow().date(), campaign=setup.campaign, session=setup.session)
    db_session.flush()
    enter(client, setup)
    # the page still offers PHQ-A if the done-check is bypassed (a race): the unique constraint answers
    monkeypatch.setattr(recording, "done_instruments", lambda db, c, s: set())
    r = post(client, "/s/q", answers_form(PHQA_CALM, "phqa"))
    assert r.status_code == 409 and 'data-testid="already"' in r.get_data(as_text=True)


def test_tampered_hidden_fields_do_not_change_the_student_or_the_instrument(client, factory, db_session):
    setup = build(factory, db_session)
    enter(client, setup)
    # another instrument than the current one: ignored, nothing stored
    r = post(client, "/s/q", answers_form(GAD7_CALM, "gad7"))
    assert r.status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0
    # another student's id in the form: the signed session decides who answers
    data = answers_form(PHQA_CALM, "phqa")
    data["student_id"] = str(setup.students[1].id)
    data["student"] = setup.students[1].public_id
    post(client, "/s/q", data)
    rows = db_session.scalars(select(Screening)).all()
    assert [(s.student_id, s.instrument_id) for s in rows] == [(setup.students[0].id, "phqa")]


def test_an_out_of_range_answer_is_not_accepted(client, factory, db_session):
    setup = build(factory, db_session)
    enter(client, setup)
    data = answers_form(PHQA_CALM, "phqa")
    data["q3"] = "9"
    r = post(client, "/s/q", data)
    assert r.status_code == 200 and 'id="item-3"' in r.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_a_crisis_answer_creates_a_level_1_warning_but_the_student_sees_only_thanks(client, factory, db_session):
    setup = build(factory, db_session)
    enter(client, setup)
    post(client, "/s/q", answers_form(PHQA_CRISIS, "phqa"))
    post(client, "/s/q", answers_form(GAD7_CALM, "gad7"))
    text = client.get("/s/done").get_data(as_text=True)
    assert "预警" not in text and "warning" not in text.lower()
    w = db_session.scalars(select(Warning).where(Warning.student_id == setup.students[0].id)).one()
    assert w.suggested_level == "L1"


def test_a_post_without_csrf_is_refused(client, factory, db_session):
    setup = build(factory, db_session)
    r = client.post("/s", data={"code": setup.session.code, "student_number": setup.numbers[0],
                                "entry_code": setup.code(0)})
    assert r.status_code == 400
    assert client.post("/s/q", data={"instrument": "phqa"}).status_code == 400
    assert client.post("/s/save", data={"instrument": "phqa"}).status_code == 400


def test_a_whole_classroom_behind_one_address_enters_with_some_typos(client, factory, db_session, app):
    setup = build(factory, db_session, n=9)  # the fixture gives birth months 2013-01..09
    # 9 students, all behind the school's one address, each mistyping the session code once and their own entry
    # code 4 times: 45 failures from one address (the old limit of 40 per address locked the class out)
    for i in range(9):
        c = app.test_client()
        assert 'data-testid="code-error"' in enter(c, setup, i, code="XXXXXX").get_data(as_text=True)
        wrong = "ZZZZZZ" if setup.code(i) != "ZZZZZZ" else "YYYYYY"
        for _ in range(4):
            assert 'data-testid="identity-error"' in enter(c, setup, i, entry=wrong).get_data(as_text=True)
    for i in range(9):
        assert enter(app.test_client(), setup, i).status_code == 302, i


def test_a_generic_limiter_counts_hits_per_key_and_refuses_past_the_limit():
    from app.auth.throttle import MemoryThrottle

    now = [0.0]
    limiter = MemoryThrottle(3, 60, clock=lambda: now[0])
    assert [limiter.hit("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit("10.0.0.2")  # another address is not affected
    now[0] = 61.0
    assert limiter.hit("10.0.0.1")  # the window has passed


def test_a_new_session_of_the_same_campaign_resumes_the_draft_of_an_expired_one(client, factory, db_session, app):
    from app.screenings.sessions import open_session
    from models import Actor

    setup = build(factory, db_session)
    enter(client, setup)
    post(client, "/s/save", {"instrument": "phqa", "q1": "2", "q2": "1", "q3": "0"})
    setup.session.closed_at = utcnow()
    second = open_session(db_session, Actor.system("t"), setup.campaign, setup.klass, keyring=setup.keyring)
    db_session.flush()
    other = app.test_client()
    assert enter(other, setup, session=second).status_code == 302
    assert other.get("/s/q").get_data(as_text=True).count("checked") == 3
    post(other, "/s/q", answers_form(PHQA_CALM, "phqa"))
    assert db_session.scalar(select(func.count()).select_from(ResponseDraft)) == 0  # every draft of it forgotten
