"""A campaign's opted-out students as one list: paged by 50, sorted, filtered by school/grade/class (app/listing.py),
a school column only for a counselor of two schools, names opened under one event, other roles refused."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.screenings.campaigns import InstrumentRule, create_campaign
from models import Actor, AuditEvent, CampaignOptOut, clock, utcnow
from tests.conftest import login


def _campaign(db_session, counselor, *schools):
    return create_campaign(
        db_session, Actor.for_user(counselor), name="秋季筛查", term="2026-2027-1",
        starts_on=clock.today() - timedelta(days=1), ends_on=clock.today() + timedelta(days=30),
        schools=list(schools), rules=[InstrumentRule("phqa", 7, 9)], guardian_notice="letter",
        guardian_notice_on=clock.today() - timedelta(days=7), created_by=counselor,
    )


def _opt_out(db_session, campaign, student, days_ago=0):
    db_session.add(CampaignOptOut(campaign_id=campaign.id, student_id=student.id,
                                  recorded_at=utcnow() - timedelta(days=days_ago)))
    db_session.flush()


def _names(html):
    return re.findall(r'<td data-label="学生" lang="zh-CN">([^<]*)</td>', html)


def test_the_list_pages_by_fifty_and_sorts_by_name_both_ways(client, factory, db_session):
    school = factory.school()
    klass = factory.klass(school, grade=7)
    counselor = factory.counselor(school)
    campaign = _campaign(db_session, counselor, school)
    names = [f"学生{(i * 37) % 100:02d}" for i in range(53)]  # created out of name order
    for name in names:
        _opt_out(db_session, campaign, factory.student(klass=klass, name=name))
    factory.student(klass=klass, name="参加学生")  # not opted out: never listed
    login(client, counselor.username)
    url = f"/campaigns/{campaign.id}/opt-outs"
    first = client.get(url + "?sort=name").get_data(as_text=True)
    second = client.get(url + "?sort=name&page=2").get_data(as_text=True)
    assert _names(first) + _names(second) == sorted(names) and len(_names(second)) == 3
    assert "共 53 条" in first and f'href="{url}?sort=name&amp;page=2"' in first
    assert _names(client.get(url + "?sort=-name").get_data(as_text=True)) == sorted(names, reverse=True)[:50]
    assert "参加学生" not in first + second


def test_sorted_by_class_and_by_date_recorded(client, factory, db_session):
    school = factory.school()
    g8, g7 = factory.klass(school, grade=8, name="八年级(1)班"), factory.klass(school, grade=7, name="七年级(1)班")
    counselor = factory.counselor(school)
    campaign = _campaign(db_session, counselor, school)
    _opt_out(db_session, campaign, factory.student(klass=g8, name="八年级生"), days_ago=5)
    _opt_out(db_session, campaign, factory.student(klass=g7, name="七年级生"), days_ago=1)
    login(client, counselor.username)
    url = f"/campaigns/{campaign.id}/opt-outs"
    get = lambda qs: _names(client.get(f"{url}?{qs}").get_data(as_text=True))  # noqa: E731
    assert get("") == ["七年级生", "八年级生"] == get("sort=class")
    assert get("sort=-class") == ["八年级生", "七年级生"]
    assert get("sort=recorded") == ["八年级生", "七年级生"]
    assert get("sort=-recorded") == ["七年级生", "八年级生"]
    assert get(f"class={g8.id}") == ["八年级生"] and get("grade=7") == ["七年级生"]


def test_two_schools_filter_and_show_the_school_column_one_school_does_not(client, app, factory, db_session):
    first, second = factory.school(name="甲校"), factory.school(name="乙校")
    counselor = factory.counselor(first, second)
    both = _campaign(db_session, counselor, first, second)
    _opt_out(db_session, both, factory.student(school=first, name="甲校生"))
    _opt_out(db_session, both, factory.student(school=second, name="乙校生"))
    login(client, counselor.username)
    html = client.get(f"/campaigns/{both.id}/opt-outs").get_data(as_text=True)
    assert sorted(_names(html)) == ["乙校生", "甲校生"]
    assert 'data-sort="school"' in html and html.count('data-testid="school-cell"') == 2
    only_second = client.get(f"/campaigns/{both.id}/opt-outs?school={second.id}").get_data(as_text=True)
    assert _names(only_second) == ["乙校生"]
    # a campaign of one of the counselor's schools: no school column, the filter offers that school only
    one = _campaign(db_session, counselor, first)
    _opt_out(db_session, one, factory.student(school=first, name="单校生"))
    html = client.get(f"/campaigns/{one.id}/opt-outs").get_data(as_text=True)
    assert _names(html) == ["单校生"] and 'data-sort="school"' not in html and "school-cell" not in html


def test_another_schools_opt_outs_are_not_listed_and_other_roles_are_refused(app, factory, db_session):
    mine, theirs = factory.school(), factory.school()
    counselor = factory.counselor(mine, theirs)
    campaign = _campaign(db_session, counselor, mine, theirs)
    _opt_out(db_session, campaign, factory.student(school=mine, name="本校生"))
    _opt_out(db_session, campaign, factory.student(school=theirs, name="外校生"))
    other = factory.counselor(mine)
    client = app.test_client()
    login(client, other.username)
    assert _names(client.get(f"/campaigns/{campaign.id}/opt-outs").get_data(as_text=True)) == ["本校生"]
    assert client.get(f"/campaigns/{campaign.id}/opt-outs?school={theirs.id}").status_code == 200
    stranger = factory.counselor(factory.school())
    client = app.test_client()
    login(client, stranger.username)
    assert client.get(f"/campaigns/{campaign.id}/opt-outs").status_code == 404
    for role in ("head_teacher", "district", "admin"):
        client = app.test_client()
        user = factory.user(role, classes=[factory.klass(mine)]) if role == "head_teacher" else factory.user(role)
        login(client, user.username)
        assert client.get(f"/campaigns/{campaign.id}/opt-outs").status_code == 403, role


def test_names_are_opened_under_one_event_the_page_or_the_scope_to_sort(client, factory, db_session):
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    campaign = _campaign(db_session, counselor, school)
    for i in range(53):
        _opt_out(db_session, campaign, factory.student(klass=klass, name=f"保密{i:02d}"))
    login(client, counselor.username)

    def events():
        return list(db_session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "roster.list")
                                       .order_by(AuditEvent.seq)))

    before = len(events())
    client.get(f"/campaigns/{campaign.id}/opt-outs?page=2")
    client.get(f"/campaigns/{campaign.id}/opt-outs?sort=name")
    new = events()[before:]
    assert len(new) == 2
    assert '"count": 3' in new[0] and "to_sort" not in new[0]
    assert '"count": 53' in new[1] and '"to_sort": true' in new[1]
    assert not any("保密" in d for d in new)
    assert db_session.scalar(select(func.count()).select_from(CampaignOptOut)) == 53


def test_the_campaign_page_links_to_the_list(client, factory, db_session):
    school = factory.school()
    factory.klass(school, grade=7)
    counselor = factory.counselor(school)
    campaign = _campaign(db_session, counselor, school)
    login(client, counselor.username)
    assert f'href="/campaigns/{campaign.id}/opt-outs"' in client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
