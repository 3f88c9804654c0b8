"""The class grid of paper forms (issue 16): a plain form grid that posts; one batch through submit_screenings (all
or none); out-of-range answers refused naming the student and the item; blanks stay blank; a sealed, resumable
draft; the counselor of the class's school only."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.screenings.grid import cell_name
from models import Actor, AuditEvent, Notification, PaperGridDraft, Screening, clock
from models.vault import Vault
from tests.conftest import login, post

CALM = [0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0]  # PHQ-A, 13 items, no critical answer


def _count(db_session, model, *where):  # type: ignore[no-untyped-def]
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def world(factory, client):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school, grade=8)
    students = [factory.student(klass=klass, name=f"网格学生{i:02d}", number=f"G8{i:09d}") for i in range(5)]
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    return {"school": school, "klass": klass, "students": students, "counselor": counselor,
            "url": f"/screenings/grid/{klass.id}/phqa"}


def _cells(students, answers_by_row, action="save"):  # type: ignore[no-untyped-def]
    data = {"action": action, "administered_on": clock.today().isoformat()}
    for student, answers in zip(students, answers_by_row, strict=False):
        for n, value in enumerate(answers, start=1):
            data[cell_name(student, n)] = "" if value is None else str(value)
    return data


def test_the_grid_lists_the_class_by_student_number_and_works_without_js(client, world):
    html = client.get(world["url"]).get_data(as_text=True)
    assert html.index("网格学生00") < html.index("网格学生04")
    assert 'name="a.' in html and 'method="post"' in html and "js/paper-grid.js" in html
    assert "csrf_token" in html


def test_a_grid_is_recorded_as_one_batch_and_each_screening_audited(client, world, db_session):
    response = post(client, world["url"], _cells(world["students"], [CALM] * 5))
    assert response.status_code == 302
    ids = [s.id for s in world["students"]]
    assert _count(db_session, Screening, Screening.student_id.in_(ids), Screening.mode == "paper") == 5
    assert _count(db_session, AuditEvent, AuditEvent.action == "screening.recorded") == 5
    assert "已录入问卷：5 份" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_an_out_of_range_answer_is_refused_naming_the_student_and_the_item(client, world, db_session):
    rows = [CALM, CALM, list(CALM)]
    rows[2][9] = 3  # item 10 is yes/no (0/1)
    response = post(client, world["url"], _cells(world["students"], rows))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "网格学生02，第 10 题：3 不是可选答案（0–1）" in html
    ids = [s.id for s in world["students"]]
    assert _count(db_session, Screening, Screening.student_id.in_(ids)) == 0  # nothing half-written
    assert 'value="3"' in html  # the refused value is shown where it was typed


def test_a_letter_is_refused_too(client, world, db_session):
    data = _cells(world["students"], [CALM])
    data[cell_name(world["students"][0], 4)] = "x"
    html = post(client, world["url"], data).get_data(as_text=True)
    assert "网格学生00，第 4 题：x 不是可选答案（0–3）" in html
    assert _count(db_session, Screening) == 0


def test_blanks_stay_blank_and_the_engine_scores_the_incomplete_form(client, world, db_session, keyring):
    partial = list(CALM)
    partial[2] = None  # item 3 left blank on paper
    response = post(client, world["url"], _cells(world["students"], [partial]))
    assert response.status_code == 302
    student = world["students"][0]
    screening = db_session.scalars(select(Screening).where(Screening.student_id == student.id)).one()
    reader = Vault(db_session, keyring, Actor.system("tests")).reveal(student, "tests")
    assert reader.get_json(screening, "answers")[2] is None
    result = json.loads(screening.result_json)
    assert result["missing_items"] == [3] and "prorated" in json.dumps(result)  # the engine's missing-item rule
    # rows left empty are not recorded
    assert _count(db_session, Screening, Screening.student_id.in_([s.id for s in world["students"][1:]])) == 0


def test_a_crisis_answer_in_the_grid_alerts_at_once(client, world, db_session):
    crisis = list(CALM)
    crisis[8] = 2  # item 9: thoughts of self-harm
    post(client, world["url"], _cells(world["students"], [CALM, crisis]))
    student = world["students"][1]
    alerts = list(db_session.scalars(select(Notification).where(Notification.kind == "crisis",
                                                                 Notification.student_id == student.id)))
    assert [a.user_id for a in alerts] == [world["counselor"].id]


def test_a_draft_is_sealed_and_resumed_then_forgotten_once_recorded(client, world, db_session):
    half = [CALM, CALM[:5] + [None] * 8]
    response = post(client, world["url"], _cells(world["students"], half, action="draft"))
    assert response.status_code == 302
    assert "草稿已保存：目前共 2 份" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _count(db_session, Screening) == 0
    drafts = list(db_session.scalars(select(PaperGridDraft)))
    assert len(drafts) == 2 and all(d.answers_enc and b"[0, 1" not in d.answers_enc for d in drafts)
    html = client.get(world["url"]).get_data(as_text=True)
    assert "已接着保存的草稿继续录入" in html
    second = world["students"][1]
    assert f'name="{cell_name(second, 5)}"\n          value="0"' in html
    assert f'name="{cell_name(second, 6)}"\n          value=""' in html
    events = list(db_session.scalars(select(AuditEvent.action).where(AuditEvent.action == "draft.resume")))
    assert events  # the draft's answers were opened under an audit event
    post(client, world["url"], _cells(world["students"], [CALM, CALM]))
    assert _count(db_session, Screening) == 2 and _count(db_session, PaperGridDraft) == 0


def test_a_counselor_of_another_school_gets_404_and_writes_nothing(app, factory, world, db_session):
    other = factory.counselor(factory.school())
    client = app.test_client()
    login(client, other.username, factory.PASSWORD)
    assert client.get(world["url"]).status_code == 404
    assert post(client, world["url"], _cells(world["students"], [CALM])).status_code == 404
    assert _count(db_session, Screening) == 0
    html = client.get("/screenings/grid").get_data(as_text=True)
    assert world["klass"].name not in html


def test_a_head_teacher_of_the_class_is_refused(app, factory, world):
    teacher = factory.head_teacher(world["klass"])
    client = app.test_client()
    login(client, teacher.username, factory.PASSWORD)
    assert client.get(world["url"]).status_code == 403


def test_the_chooser_opens_the_grid(client, world):
    response = client.get(f"/screenings/grid?class_id={world['klass'].id}&instrument=phqa")
    assert response.status_code == 302 and response.headers["Location"].endswith(world["url"])
    html = client.get("/screenings/grid").get_data(as_text=True)
    assert world["klass"].name in html and "PHQ-A" in html


def test_the_grid_post_needs_csrf(app, factory, world):
    client = app.test_client()
    login(client, world["counselor"].username, factory.PASSWORD)
    assert client.post(world["url"], data={"action": "save"}).status_code == 400
