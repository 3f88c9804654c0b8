"""ASQ without JavaScript, and instruments kept to the grades they are validated for (issue 14): the campaign
form, the screenings import (upload and CLI) and paper entry refuse an instrument outside them, naming it and
the grade; the campaign form warns before leaving a grade without any suicide item."""
from __future__ import annotations

import io

from sqlalchemy import func, select

from app.screenings.campaigns import InstrumentRule
from models import Campaign, Screening, Warning
from tests.conftest import login, post
from tests.screenings_fixtures import answers_form, build

ASQ_RULES = [InstrumentRule("asq", 4, 9)]


def enter(client, setup, i=0):
    return post(client, "/s", {"code": setup.session.code, "student_number": setup.numbers[i],
                               "entry_code": setup.code(i)})


def _screening(db_session, student):
    return db_session.scalars(select(Screening).where(Screening.student_id == student.id)).one()


def test_without_javascript_question_5_shows_with_its_note_and_is_not_required(client, factory, db_session):
    setup = build(factory, db_session, grade=5, rules=ASQ_RULES)
    enter(client, setup)
    html = client.get("/s/q").get_data(as_text=True)
    assert 'name="instrument" value="asq"' in html
    box = html[html.index('id="item-5"'):]
    box = box[:box.index("</fieldset>")]
    assert 'data-testid="ask-note-5"' in box and "才需要回答这一题" in box
    assert "required" not in box  # questions 1-4 are required, question 5 only when asked
    # all "no", question 5 left blank: accepted, negative, question 5 "not asked"
    r = post(client, "/s/q", answers_form([0, 0, 0, 0, None], "asq"))
    assert r.status_code == 302
    s = _screening(db_session, setup.students[0])
    assert s.positive is False and s.suggested_level == "none"


def test_a_yes_above_makes_question_5_required_and_the_screen_level_1(client, factory, db_session):
    setup = build(factory, db_session, grade=5, rules=ASQ_RULES)
    enter(client, setup, 1)
    r = post(client, "/s/q", answers_form([0, 1, 0, 0, None], "asq"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-testid="missing"' in html and "5" in html
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0
    r = post(client, "/s/q", answers_form([0, 1, 0, 0, 0], "asq"))
    assert r.status_code == 302
    s = _screening(db_session, setup.students[1])
    assert s.positive is True and s.critical is True and s.suggested_level == "L1"
    assert "acute" not in s.flags
    w = db_session.scalars(select(Warning).where(Warning.screening_id == s.id)).one()
    assert w.suggested_level == "L1"


def test_a_yes_to_question_5_after_all_no_is_ignored_by_the_engine(client, factory, db_session):
    setup = build(factory, db_session, grade=5, rules=ASQ_RULES)
    enter(client, setup, 2)
    assert post(client, "/s/q", answers_form([0, 0, 0, 0, 1], "asq")).status_code == 302
    s = _screening(db_session, setup.students[2])
    assert s.positive is False and s.suggested_level == "none" and "acute" not in s.flags


def _campaign_form(school, **rules):
    data = {"name": "测评", "term": "2026-2027-1", "starts_on": "2026-10-08", "ends_on": "2026-10-30",
            "schools": str(school.id)}
    for i in range(1, 5):
        data[f"rule{i}_instrument"], data[f"rule{i}_from"], data[f"rule{i}_to"] = "", "1", "1"
    for i, (inst, lo, hi) in enumerate(rules.get("rules", []), start=1):
        data[f"rule{i}_instrument"], data[f"rule{i}_from"], data[f"rule{i}_to"] = inst, str(lo), str(hi)
    data.update(rules.get("extra", {}))
    return data


def test_the_campaign_form_refuses_phq9_for_grade_1_naming_the_instrument_and_grade(client, factory, db_session):
    school = factory.school()
    login(client, factory.counselor(school).username)
    r = post(client, "/campaigns/new", _campaign_form(school, rules=[("phq9", 1, 9)]))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "PHQ-9 只适用于7–9年级（验证年龄 13+ 岁），不能用于1年级。" in html
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_the_campaign_form_warns_of_a_grade_without_a_suicide_item_until_confirmed(client, factory, db_session):
    school = factory.school()
    login(client, factory.counselor(school).username)
    form = _campaign_form(school, rules=[("cesdc", 4, 6), ("phqa", 7, 9)])
    html = post(client, "/campaigns/new", form).get_data(as_text=True)
    assert 'data-testid="no-suicide-item"' in html and "4、5、6年级没有任何询问自杀风险的量表" in html
    assert "ASQ" in html  # what those grades may take
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 0
    # with ASQ beside CES-DC: created without a warning
    ok = _campaign_form(school, rules=[("cesdc", 4, 6), ("phqa", 7, 9), ("asq", 4, 9)])
    assert post(client, "/campaigns/new", ok).status_code == 302
    # or confirmed on purpose
    forced = _campaign_form(school, rules=[("cesdc", 4, 6)], extra={"no_suicide_item_ok": "y"})
    assert post(client, "/campaigns/new", forced).status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Campaign)) == 2


def test_a_new_campaign_offers_asq_from_grade_4_by_default(client, factory, db_session):
    school = factory.school()
    login(client, factory.counselor(school).username)
    html = client.get("/campaigns/new").get_data(as_text=True)
    row = html[html.index('name="rule4_instrument"'):]
    assert '<option selected value="asq">' in row[:row.index("</select>")]


def _grade1_student_csv(factory):
    school = factory.school()
    klass = factory.klass(school, grade=1)
    factory.student(school=school, klass=klass, number="G1PHQ0001", grade=1, birth_ym="2020-03")
    header = "学籍号,instrument,date," + ",".join(f"q{i}" for i in range(1, 10))
    return school, header + "\nG1PHQ0001,phq9,2026-10-12,0,0,0,0,0,0,0,0,0\n"


def test_the_import_upload_refuses_an_instrument_outside_its_grades_naming_row_and_field(client, factory,
                                                                                           db_session):
    school, csv = _grade1_student_csv(factory)
    login(client, factory.counselor(school).username)
    html = post(client, "/screenings/import", {"file": (io.BytesIO(csv.encode()), "r.csv")},
                content_type="multipart/form-data").get_data(as_text=True)
    assert 'data-testid="bad-rows">1<' in html and "import/confirm" not in html
    assert "PHQ-9 只适用于7–9年级" in html and "不能用于1年级" in html
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_the_import_cli_refuses_an_instrument_outside_its_grades_naming_row_and_field(app, factory, db_session,
                                                                                        tmp_path):
    school, csv = _grade1_student_csv(factory)
    path = tmp_path / "g1.csv"
    path.write_text(csv, encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["screenings", "import", str(path), "--school", school.code])
    assert result.exit_code == 1
    assert "2" in result.output and "instrument" in result.output and "PHQ-9" in result.output
    assert "不能用于1年级" in result.output
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_paper_entry_refuses_an_instrument_outside_its_grades(client, factory, db_session):
    school = factory.school()
    klass = factory.klass(school, grade=1)
    student = factory.student(school=school, klass=klass, grade=1, birth_ym="2020-03")
    login(client, factory.counselor(school).username)
    data = {"instrument": "phq9", "administered_on": "2026-10-12", "campaign": ""}
    data.update({f"q{i}": "0" for i in range(1, 10)})
    html = post(client, f"/screenings/enter/{student.public_id}", data).get_data(as_text=True)
    assert "PHQ-9 只适用于7–9年级" in html
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_paper_entry_shows_the_note_of_a_conditional_question(client, factory, db_session):
    school = factory.school()
    student = factory.student(school=school, klass=factory.klass(school, grade=5), grade=5)
    login(client, factory.counselor(school).username)
    html = client.get(f"/screenings/enter/{student.public_id}", query_string={"instrument": "asq"}).get_data(
        as_text=True)
    assert 'data-testid="ask-note-5"' in html and "未问此题时请留空" in html


def test_the_head_teacher_sees_an_acute_asq_student_only_as_a_tier_with_guidance(client, app, factory, db_session,
                                                                                  keyring):
    from tests.web.test_care_class_list import CLOSE, FORBIDDEN, _visible

    setup = build(factory, db_session, grade=5, rules=ASQ_RULES)
    enter(client, setup)
    assert post(client, "/s/q", answers_form([1, 2, 0, 0, 1], "asq")).status_code == 302  # acute, with a refusal
    s = _screening(db_session, setup.students[0])
    assert s.suggested_level == "L1" and "acute" in s.flags
    # the head teacher's list shows what a counselor confirmed
    from app.care import warning_lifecycle
    from tests.integration.care_support import actor_vault

    warning = db_session.scalars(select(Warning).where(Warning.screening_id == s.id)).one()
    actor, vault = actor_vault(db_session, keyring, setup.counselor)
    warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L1", "约谈确认")
    teacher = factory.head_teacher(setup.klass)
    c = app.test_client()
    login(c, teacher.username)
    html = c.get("/care/class").get_data(as_text=True)
    assert "重点关注" in html and CLOSE in html
    page = _visible(c.get(f"/care/class/students/{setup.students[0].public_id}").get_data(as_text=True))
    for text in (_visible(html), page):
        for word in FORBIDDEN + ("ASQ", "自杀", "急性", "拒绝回答", "acute", "NOW", "badge-now", "row-now"):
            assert word not in text, word


def test_the_grade_refusal_is_explained_in_english_too(app):
    from app.screenings.recording import grade_refusal_text

    with app.test_request_context(headers={"Accept-Language": "en"}):
        from flask_babel import force_locale

        with force_locale("en"):
            assert grade_refusal_text("phq9", 1) == "PHQ-9 is validated for grades 7–9 (ages 13+), not grade 1."
        with force_locale("zh"):
            assert grade_refusal_text("phq9", 1) == "PHQ-9 只适用于7–9年级（验证年龄 13+ 岁），不能用于1年级。"
        assert grade_refusal_text("phq9", 7) is None and grade_refusal_text("asq", 4) is None
