"""The head teacher's care list on a phone: the counselor's name and contact next to "contact the counselor", no
"overdue" on the counselor's dates, each row a card whose action names the student (for screen readers)."""
from __future__ import annotations

from datetime import timedelta

from models import clock
from tests.conftest import login
from tests.web.test_care_class_list import _class, _visible


def test_the_care_list_names_the_counselor_and_shows_no_overdue_on_the_counselors_dates(
    client, factory, db_session, keyring, moved_clock
):
    _, klass, counselor, crisis, _ = _class(factory, db_session, keyring)
    counselor.display_name = "林老师"
    counselor.email = "lin@school.example"
    db_session.flush()
    teacher = factory.head_teacher(klass)
    moved_clock(clock.now() + timedelta(days=400))  # every next-check date of the list is long past
    login(client, teacher.username)
    main = _visible(client.get("/care/class").get_data(as_text=True))
    contact = main.split('data-testid="counselor-contact"', 1)[1].split("</div>", 1)[0]
    assert "林老师" in contact and "mailto:lin@school.example" in contact
    listed = main.split('id="observation"', 1)[0]
    assert "逾期" not in listed
    assert 'class="table-wrap cards" role="region" tabindex="0"' in listed
    assert 'data-label="学生"' in listed
    link = listed.split('data-testid="observe-link"', 1)[1].split("</a>", 1)[0]
    assert "记录与观察" in link and '<span lang="zh-CN">甲同学</span>' in link
