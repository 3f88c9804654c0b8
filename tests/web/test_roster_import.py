"""Roster upload with preview and confirm, the server-side temporary upload, roles, scope, CSRF, limits, export."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from models import AuditEvent, Student, clock
from tests.conftest import login, post
from tests.roster_import_corpus import big_csv, csv_bytes, row, students, xlsx_bytes, zip_bomb


@pytest.fixture
def upload_dir(app, tmp_path):
    app.config["ROSTER_IMPORT_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def _count(db_session, school):
    return db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id))


def _events(db_session, action):
    return db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def _upload(client, school, data, name="roster.csv"):
    return post(client, "/roster/import", {"school_id": str(school.id), "file": (io.BytesIO(data), name)},
                content_type="multipart/form-data")


def _counselor(client, factory, *schools):
    user = factory.counselor(*schools)
    login(client, user.username, factory.PASSWORD)
    return user


def test_the_upload_page_shows_the_counselors_schools_and_export_links(client, factory, upload_dir):
    mine, _other = factory.school(name="本校甲"), factory.school(name="外校乙")
    _counselor(client, factory, mine)
    html = client.get("/roster/import").get_data(as_text=True)
    assert "本校甲" in html and "外校乙" not in html and f"/roster/export/{mine.id}.xlsx" in html


def test_preview_shows_the_counts_and_writes_nothing_then_confirm_writes_and_deletes_the_upload(
    client, factory, db_session, upload_dir
):
    school = factory.school()
    _counselor(client, factory, school)
    response = _upload(client, school, xlsx_bytes(students(12)), "名册.xlsx")
    assert response.status_code == 200, response.get_data(as_text=True)[-3000:]
    html = response.get_data(as_text=True)
    assert 'data-testid="count-create">12<' in html and "确认导入" in html
    assert _count(db_session, school) == 0 and _events(db_session, "roster.import_preview") == 1
    assert len(list(upload_dir.glob("*.upload"))) == 1
    with client.session_transaction() as sess:
        assert "/" not in sess["roster_import"]["token"] and "path" not in sess["roster_import"]
    response = post(client, "/roster/import/confirm", {})
    assert response.status_code == 302
    assert _count(db_session, school) == 12 and _events(db_session, "roster.import") == 1
    assert list(upload_dir.glob("*.upload")) == []
    with client.session_transaction() as sess:
        assert "roster_import" not in sess


def test_the_same_file_uploaded_again_shows_everything_unchanged(client, factory, db_session, upload_dir):
    school = factory.school()
    _counselor(client, factory, school)
    data = csv_bytes(students(7), encoding="gbk")
    _upload(client, school, data)
    post(client, "/roster/import/confirm", {})
    html = _upload(client, school, data).get_data(as_text=True)
    assert 'data-testid="count-unchanged">7<' in html and 'data-testid="count-create">0<' in html


def test_the_preview_counts_the_rows_to_update_as_a_number(client, factory, db_session, upload_dir):
    """The "to update" figure is the number of changed rows (the template once printed a dict method)."""
    school = factory.school()
    _counselor(client, factory, school)
    rows = students(7)
    _upload(client, school, csv_bytes(rows))
    post(client, "/roster/import/confirm", {})
    for changed in rows[:3]:
        changed[-1] = "13800000000"  # the guardian's phone
    html = _upload(client, school, csv_bytes(rows)).get_data(as_text=True)
    assert 'data-testid="count-update">3<' in html and 'data-testid="count-unchanged">4<' in html
    assert "built-in method" not in html


def test_a_file_with_bad_rows_shows_them_in_chinese_and_offers_no_confirmation(client, factory, db_session, upload_dir):
    school = factory.school()
    _counselor(client, factory, school)
    rows = students(3)
    rows[1][3] = "明年"
    html = _upload(client, school, csv_bytes(rows)).get_data(as_text=True)
    assert "出生年月" in html and "不是有效的出生年月" in html and "不会导入任何数据" in html
    assert "/roster/import/confirm" not in html
    assert list(upload_dir.glob("*.upload")) == []
    response = post(client, "/roster/import/confirm", {})
    assert response.status_code == 302 and _count(db_session, school) == 0


def test_transfers_are_listed_and_requested_only_when_confirmed(client, factory, db_session, upload_dir):
    """A transfer is a request the other school decides (tests/web/test_transfer_requests.py): the preview does not
    name that school, and confirming moves nothing."""
    from models import TransferRequest

    here, there = factory.school(name="转入校"), factory.school(name="原学校")
    moving = factory.student(school=there, number="G310151201401010001", grade=7)
    _counselor(client, factory, here)
    html = _upload(client, here, csv_bytes([row()])).get_data(as_text=True)
    assert 'data-testid="count-transfers">1<' in html and "原学校" not in html
    post(client, "/roster/import/confirm", {})
    assert db_session.scalars(select(TransferRequest)).all() == []
    _upload(client, here, csv_bytes([row()]))
    post(client, "/roster/import/confirm", {"apply_transfers": "y"})
    db_session.refresh(moving)
    assert moving.school_id == there.id and _count(db_session, there) == 1
    assert [r.status for r in db_session.scalars(select(TransferRequest))] == ["pending"]


def test_a_counselor_cannot_import_into_a_school_that_is_not_theirs(client, factory, db_session, upload_dir):
    mine, other = factory.school(), factory.school()
    _counselor(client, factory, mine)
    response = _upload(client, other, csv_bytes([row()]))
    assert response.status_code == 404 and _count(db_session, other) == 0


def test_an_admin_can_import_into_any_school(client, factory, db_session, upload_dir):
    school = factory.school()
    login(client, factory.user("admin").username, factory.PASSWORD)
    _upload(client, school, csv_bytes(students(3)))
    assert post(client, "/roster/import/confirm", {}).status_code == 302
    assert _count(db_session, school) == 3


@pytest.mark.parametrize("role", ["district", "head_teacher"])
def test_other_roles_are_refused(app, factory, role, upload_dir):
    client = app.test_client()
    login(client, factory.user(role).username, factory.PASSWORD)
    assert client.get("/roster/import").status_code == 403
    assert post(client, "/roster/import/confirm", {}).status_code == 403
    assert post(client, "/roster/import/cancel", {}).status_code == 403
    assert client.get(f"/roster/export/{factory.school().id}.xlsx").status_code == 403


def test_an_admin_cannot_export_a_roster(client, factory, upload_dir):
    login(client, factory.user("admin").username, factory.PASSWORD)
    assert client.get(f"/roster/export/{factory.school().id}.xlsx").status_code == 403


def test_posts_without_a_csrf_token_are_refused(client, factory, db_session, upload_dir):
    school = factory.school()
    _counselor(client, factory, school)
    response = client.post(
        "/roster/import",
        data={"school_id": str(school.id), "file": (io.BytesIO(csv_bytes([row()])), "r.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert client.post("/roster/import/confirm", data={}).status_code == 400
    assert client.post("/roster/import/cancel", data={}).status_code == 400
    assert _count(db_session, school) == 0


def test_a_path_or_token_in_the_form_is_never_used(client, factory, db_session, upload_dir, tmp_path):
    school = factory.school()
    _counselor(client, factory, school)
    planted = upload_dir / ("A" * 32 + ".upload")
    upload_dir.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(csv_bytes(students(2)))
    response = post(client, "/roster/import/confirm", {"token": "A" * 32, "path": str(planted)})
    assert response.status_code == 302 and _count(db_session, school) == 0
    assert planted.exists()


def test_cancel_discards_the_upload(client, factory, db_session, upload_dir):
    school = factory.school()
    _counselor(client, factory, school)
    _upload(client, school, csv_bytes(students(2)))
    assert post(client, "/roster/import/cancel", {}).status_code == 302
    assert list(upload_dir.glob("*.upload")) == []
    post(client, "/roster/import/confirm", {})
    assert _count(db_session, school) == 0


def test_another_users_pending_upload_cannot_be_confirmed(app, factory, db_session, upload_dir):
    school = factory.school()
    a, b = app.test_client(), app.test_client()
    _counselor(a, factory, school)
    _upload(a, school, csv_bytes(students(2)))
    with a.session_transaction() as sess:
        pending = dict(sess["roster_import"])
    _counselor(b, factory, school)
    with b.session_transaction() as sess:
        sess["roster_import"] = pending
    post(b, "/roster/import/confirm", {})
    assert _count(db_session, school) == 0


def test_a_50_mb_upload_is_refused_with_413(client, factory, db_session, upload_dir):
    school = factory.school()
    _counselor(client, factory, school)
    response = _upload(client, school, big_csv(50))
    assert response.status_code == 413 and list(upload_dir.glob("*.upload")) == []


def test_a_file_over_the_roster_limit_but_under_the_request_limit_is_refused_clearly(app, client, factory, upload_dir):
    app.config["ROSTER_IMPORT_MAX_BYTES"] = 1024 * 1024
    school = factory.school()
    _counselor(client, factory, school)
    response = _upload(client, school, big_csv(2))
    assert response.status_code == 400 and "超过 1 MB" in response.get_data(as_text=True)
    assert list(upload_dir.glob("*.upload")) == []


@pytest.mark.parametrize("data,name", [(b"%PDF-1.4 hello", "roster.xlsx"), (zip_bomb(64), "bomb.xlsx")])
def test_a_non_spreadsheet_or_a_zip_bomb_is_a_clear_error(client, factory, upload_dir, data, name):
    school = factory.school()
    _counselor(client, factory, school)
    response = _upload(client, school, data, name)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and ("不是电子表格" in html or "压缩炸弹" in html)
    assert list(upload_dir.glob("*.upload")) == []


def test_the_export_is_an_audited_xlsx_of_the_counselors_own_school(client, factory, db_session, upload_dir):
    from openpyxl import load_workbook

    mine, other = factory.school(), factory.school()
    factory.student(school=mine, name="=HYPERLINK(\"http://x\")", number="G310151201401010001")
    _counselor(client, factory, mine)
    response = client.get(f"/roster/export/{mine.id}.xlsx")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    ws = load_workbook(io.BytesIO(response.data), read_only=True).worksheets[0]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert values[0][:3] == ["姓名", "性别", "学籍号"] and values[1][0] == "'=HYPERLINK(\"http://x\")"
    assert _events(db_session, "roster.export") == 1
    assert client.get(f"/roster/export/{other.id}.xlsx").status_code == 404


def test_the_export_needs_a_recent_login(client, factory, upload_dir):
    school = factory.school()
    _counselor(client, factory, school)
    with client.session_transaction() as sess:
        sess["auth_at"] = clock.timestamp() - 3 * 3600
    response = client.get(f"/roster/export/{school.id}.xlsx")
    assert response.status_code == 302 and "reauth" in response.headers["Location"]
