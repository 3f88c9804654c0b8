"""The screenings section of the counselor's student file: results per instrument with a trend chart."""
from __future__ import annotations

from datetime import date

from app.screenings.recording import record_screening
from models import Actor
from models.vault import Vault
from tests.conftest import login


def test_the_student_file_shows_screenings_over_time_with_a_trend_chart_and_cutoff_lines(
    client, factory, db_session, keyring
):
    school = factory.school()
    student = factory.student(school=school)
    counselor = factory.counselor(school)
    vault = Vault(db_session, keyring, Actor.system("t"))
    for day, answers in (
        (date(2026, 3, 10), [0] * 9 + [0] * 4),
        (date(2026, 10, 12), [2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0]),
    ):
        record_screening(
            db_session, Actor.system("t"), vault, student, "phqa", answers, mode="paper", administered_on=day
        )
    db_session.flush()
    login(client, counselor.username)
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    section = html[html.index('id="screenings"'):]
    assert "<svg" in section and "stroke-dasharray" in section  # the chart with its cut-off line
    assert "2026-03-10" in section and "2026-10-12" in section
    assert "level-l3" in section


def test_a_head_teacher_never_sees_the_screenings_section(client, factory, db_session, keyring):
    from app.screenings.views import file_section

    student = factory.student()
    teacher = factory.head_teacher(student.school_class)
    assert file_section(student, None, teacher) is None
