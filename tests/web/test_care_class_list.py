"""The head teacher's class care list: tiers in plain words with guidance, nothing clinical, observations."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.care import service, warning_lifecycle
from models import CaseEntry, Notification
from tests.conftest import login, post
from tests.integration.care_support import actor_vault, make_warning
from tests.leaks import score_places

CLOSE = "请每天留意该生情绪和行为变化，不单独批评，发现异常立即联系心理老师"
GENERAL = "请多关注情绪变化，发现异常及时联系心理老师"
CARE = "请定期谈心，了解生活和学习情况，保持与监护人联系"
FORBIDDEN = ("PHQ", "总分", "一级", "二级", "三级", "预警", "抑郁", "焦虑", "危机", "自伤", "L1", "L2", "L3",
             "level-l1", "level-l2", "level-l3", "level-care")
SCORE = 22  # the crisis student's total, in the warning's reason


def _visible(html: str) -> str:
    """The page's main part without hidden inputs (a random CSRF token could contain "L1")."""
    import re

    return re.sub(r'<input type="hidden"[^>]*>|<input[^>]*name="csrf_token"[^>]*>', "", html.split("<main", 1)[1])


def _class(factory, db_session, keyring):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school, name="七年级(3)班")
    counselor = factory.counselor(school)
    crisis = factory.student(klass=klass, name="甲同学")
    mild = factory.student(klass=klass, name="乙同学")
    factory.student(klass=klass, name="丙同学", groups=["left_behind"])  # a care-group student, no warning
    factory.student(klass=klass, name="丁同学")
    actor, vault = actor_vault(db_session, keyring, counselor)
    case = warning_lifecycle.confirm_level(
        db_session,
        actor,
        vault,
        make_warning(db_session, crisis, "L1", reason=f"PHQ-A 危机项目阳性 总分 {SCORE}"),
        "L1",
        "约谈确认自伤念头",
    )
    service.add_entry(
        db_session, actor, vault, crisis, "interview", date(2026, 11, 2), "仅心理教师可见的约谈内容", case=case
    )
    service.add_entry(
        db_session,
        actor,
        vault,
        crisis,
        "parent_contact",
        date(2026, 11, 3),
        "已与家长沟通，请班主任多留意",
        case=case,
        visibility="shared",
    )
    warning_lifecycle.confirm_level(db_session, actor, vault, make_warning(db_session, mild, "L3"), "L3", "约谈后确认")
    return school, klass, counselor, crisis, case


def test_head_teacher_sees_tiers_with_guidance_and_nothing_clinical(client, factory, db_session, keyring):
    _, klass, _, crisis, _ = _class(factory, db_session, keyring)
    teacher = factory.head_teacher(klass)
    login(client, teacher.username)
    assert client.get("/").headers["Location"].endswith("/care/class")
    html = client.get("/care/class").get_data(as_text=True)
    for text in ("重点关注", "一般关注", "关爱对象", CLOSE, GENERAL, CARE, "甲同学", "乙同学", "丙同学"):
        assert text in html, text
    main = _visible(html)
    listed = main.split('id="observation"', 1)[0]
    assert "丁同学" not in listed  # only students who need attention are listed
    for word in FORBIDDEN + ("约谈确认自伤念头", "仅心理教师可见的约谈内容"):
        assert word not in main, word
    assert score_places(main, SCORE, row_with="甲同学") == []  # the total 22, where a score would stand
    page = client.get(f"/care/class/students/{crisis.public_id}").get_data(as_text=True)
    assert "已与家长沟通，请班主任多留意" in page and CLOSE in page
    assert "仅心理教师可见的约谈内容" not in page and "约谈确认自伤念头" not in page
    for word in FORBIDDEN:
        assert word not in _visible(page), word
    assert score_places(_visible(page), SCORE) == []


def test_a_head_teacher_of_another_class_and_the_district_do_not_see_the_student(app, factory, db_session, keyring):
    school, _, _, crisis, _ = _class(factory, db_session, keyring)
    other = factory.head_teacher(factory.klass(school))
    c = app.test_client()
    login(c, other.username)
    assert "甲同学" not in c.get("/care/class").get_data(as_text=True)
    assert c.get(f"/care/class/students/{crisis.public_id}").status_code == 404
    officer = factory.user("district")
    c = app.test_client()
    login(c, officer.username)
    assert c.get("/care/class").status_code == 403
    assert c.get(f"/care/class/students/{crisis.public_id}").status_code == 403


def test_an_observation_reaches_the_counselor_as_a_shared_entry_and_a_notification(
    client, factory, db_session, keyring
):
    _, klass, counselor, crisis, case = _class(factory, db_session, keyring)
    teacher = factory.head_teacher(klass)
    login(client, teacher.username)
    response = post(
        client,
        "/care/class/observations",
        {
            "student": crisis.public_id,
            "kind": "observation",
            "occurred_on": "2026-11-25",
            "note": "今天午饭没吃，一直趴在桌上",
        },
    )
    assert response.status_code == 302
    entry = db_session.scalar(select(CaseEntry).where(CaseEntry.kind == "observation"))
    assert entry.visibility == "shared" and entry.case_id == case.id and entry.author_id == teacher.id
    assert db_session.scalar(
        select(Notification).where(Notification.user_id == counselor.id, Notification.kind == "observation")
    )
    c = client.application.test_client()
    login(c, counselor.username)
    worklist = c.get("/care/worklist").get_data(as_text=True)
    assert "班主任新记录" in worklist and "甲同学" in worklist


def test_observations_refuse_students_outside_the_class_and_missing_csrf(app, factory, db_session, keyring):
    school, klass, _, _, _ = _class(factory, db_session, keyring)
    stranger = factory.student(klass=factory.klass(school))
    teacher = factory.head_teacher(klass)
    c = app.test_client()
    login(c, teacher.username)
    data = {"student": stranger.public_id, "kind": "observation", "occurred_on": "2026-11-25", "note": "x"}
    assert post(c, "/care/class/observations", data).status_code == 404
    assert c.post("/care/class/observations", data=data).status_code == 400
    counselor = factory.counselor(school)
    c = app.test_client()
    login(c, counselor.username)
    assert post(c, "/care/class/observations", data).status_code == 403
