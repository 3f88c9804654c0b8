"""Student-facing words are for a child (issue 22): every page a student sees, for every student instrument and
in both languages, names no instrument and uses no diagnosis word; the staff-only footer is not there.

The items' own wording (question text and answer labels) is the validated instrument and is not reworded: it is
taken out of the text before the check (GAD-7 item 1 says 焦虑 in its published Chinese form)."""
from __future__ import annotations

import html as htmllib
import re

import pytest
from flask import render_template

from screening import get_instrument, list_instruments
from tests.conftest import post
from tests.screenings_fixtures import GAD7_CALM, PHQA_CALM, answers_form, build

FORBIDDEN = ["患者", "抑郁", "焦虑", "诊断", "障碍", "量表", "筛查", "每次查看均有记录",
             "patient", "depress", "anxiety", "diagnos", "disorder", "screening", "every view is recorded"]
STUDENT_INSTRUMENTS = [i.id for i in list_instruments() if i.audience == "student"]


def names_of_instruments() -> list[str]:
    out = []
    for inst in list_instruments():
        out += [inst.name["zh"], inst.name["en"], inst.short_name]
    return out


def visible_text(page: str, inst=None) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = htmllib.unescape(re.sub(r"<[^>]+>", " ", page))
    if inst is not None:  # the validated wording of the items themselves
        for item in inst.items:
            for lang in ("zh", "en"):
                text = text.replace(item.text[lang], " ")
                for _, label in item.options:
                    text = text.replace(label[lang], " ")
    return re.sub(r"\s+", " ", text)


def assert_child_safe(page: str, where: str, inst=None) -> None:
    text = visible_text(page, inst).lower()
    for word in FORBIDDEN + names_of_instruments():
        assert word.lower() not in text, f"{where}: the student page says {word!r}"
    assert 'class="footer' not in page, f"{where}: the staff footer is on a student page"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("instrument_id", STUDENT_INSTRUMENTS)
def test_every_questionnaire_page_has_a_neutral_title_and_no_clinical_word(app, instrument_id, lang):
    inst = get_instrument(instrument_id)
    with app.test_request_context("/s/q"):
        from flask import session

        session["lang"] = lang
        page = render_template("student_entry/questionnaire.html", inst=inst, saved={1: inst.items[0].values[0]},
                               errors={2}, message="x", position=2, total=3, percent=40, current=inst.id)
    assert_child_safe(page, f"{instrument_id}/{lang}", inst)
    title = inst.student_title[lang]
    assert title in page
    part = "第 2 份，共 3 份" if lang == "zh" else "Part 2 of 3"
    assert part in page
    assert 'role="progressbar"' in page and 'aria-label=' in page


def test_the_progress_bar_moves_per_question_without_javascript(client, factory, db_session):
    setup = build(factory, db_session)
    post(client, "/s", {"code": setup.session.code, "student_number": setup.numbers[0], "entry_code": setup.code(0)})
    page = client.get("/s/q").get_data(as_text=True)
    assert 'aria-valuenow="0"' in page and "第 1 份，共 2 份" in page
    partial = answers_form(PHQA_CALM[:6] + [None] * 7, "phqa")
    page = post(client, "/s/q", partial).get_data(as_text=True)  # a no-JS submit with questions left
    assert f'aria-valuenow="{round(100 * (6 / 13) / 2)}"' in page
    post(client, "/s/q", answers_form(PHQA_CALM, "phqa"))
    page = client.get("/s/q").get_data(as_text=True)
    assert 'aria-valuenow="50"' in page and "第 2 份，共 2 份" in page


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_student_page_of_the_flow_is_child_safe(client, factory, db_session, lang):
    setup = build(factory, db_session)
    with client.session_transaction() as sess:
        sess["lang"] = lang
    pages = {"start": client.get("/s").get_data(as_text=True),
             "start-error": post(client, "/s", {"code": "NOPE99", "student_number": "x", "entry_code": "y"})
             .get_data(as_text=True)}
    post(client, "/s", {"code": setup.session.code, "student_number": setup.numbers[0], "entry_code": setup.code(0)})
    with client.session_transaction() as sess:
        sess["lang"] = lang
    pages["phqa"] = client.get("/s/q").get_data(as_text=True)
    post(client, "/s/q", answers_form(PHQA_CALM, "phqa"))
    pages["gad7"] = client.get("/s/q").get_data(as_text=True)
    post(client, "/s/q", answers_form(GAD7_CALM, "gad7"))
    pages["done"] = client.get("/s/done").get_data(as_text=True)
    pages["help"] = client.get("/s/help").get_data(as_text=True)
    pages["help-error"] = post(client, "/s/help", {"school": setup.school.code, "student_number": "x",
                                                   "birth_month": "2001-01", "urgency": "soon"}).get_data(as_text=True)
    post(client, "/s/help", {"school": setup.school.code, "student_number": setup.numbers[1],
                             "birth_month": "2013-02", "urgency": "soon"})
    pages["help-sent"] = client.get("/s/help/sent").get_data(as_text=True)
    assert 'data-testid="help-sent"' in pages["help-sent"]
    with app_context(client):
        for name in ("already", "limited", "not_needed"):
            pages[name] = render_template(f"student_entry/{name}.html")
    for name, page in pages.items():
        inst = get_instrument(name) if name in ("phqa", "gad7") else None
        assert_child_safe(page, f"{name}/{lang}", inst)


def app_context(client):
    return client.application.test_request_context("/s")
