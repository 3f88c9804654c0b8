"""Issue 15: a search by name is a POST answered by a redirect to an opaque, short-lived, user-bound token; the
name is in no URL (so in no access log or browser history) and not in clear in the session cookie either."""
from __future__ import annotations

import base64
import re
import zlib
from datetime import timedelta

import pytest

from models import clock
from tests.conftest import login, post


def _names(html):  # type: ignore[no-untyped-def]
    return re.findall(r'<a href="/students/[0-9a-f-]{36}">([^<]*)</a>', html)


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    school = factory.school()
    student = factory.student(school=school, name="欧阳秘密", number="G3109990001")
    factory.student(school=school, name="另一学生", number="G3109990002")
    return school, student, factory.counselor(school), factory.counselor(school)


def _cookie_payload(client) -> bytes:  # type: ignore[no-untyped-def]
    value = client.get_cookie("session").value
    compressed = value.startswith(".")
    body = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return zlib.decompress(raw) if compressed else raw


@pytest.mark.parametrize("query", ["欧阳秘密", "G3109990001"])
def test_the_student_search_posts_and_redirects_to_a_token_without_the_name(client, factory, world, query):
    school, student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    response = post(client, "/students", {"q": query, "school": str(school.id)})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert query not in location and "q=" not in location and re.search(r"[?&]r=[A-Za-z0-9_-]{20,}", location)
    assert f"school={school.id}" in location
    assert _names(client.get(location).get_data(as_text=True)) == ["欧阳秘密"]
    assert query.encode() not in _cookie_payload(client)


def test_the_search_form_is_a_csrf_protected_post(client, factory, world):
    _school, _student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    html = client.get("/students").get_data(as_text=True)
    form = re.search(r'<form method="(\w+)" action="/students"[^>]*role="search">(.*?)</form>', html, re.S)
    assert form and form.group(1) == "post" and 'name="csrf_token"' in form.group(2)
    assert client.post("/students", data={"q": "欧阳秘密"}).status_code == 400  # no token


def test_a_name_in_the_query_string_is_never_searched(client, factory, world):
    _school, _student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    assert len(_names(client.get("/students?q=欧阳秘密").get_data(as_text=True))) == 2  # the plain list
    html = client.get("/screenings/enter?q=G3109990001").get_data(as_text=True)
    assert "欧阳秘密" not in html


def test_the_token_is_bound_to_the_user_who_searched(app, factory, world):
    _school, _student, counselor, other = world
    mine, theirs = app.test_client(), app.test_client()
    login(mine, counselor.username, factory.PASSWORD)
    login(theirs, other.username, factory.PASSWORD)
    location = post(mine, "/students", {"q": "欧阳秘密"}).headers["Location"]
    html = theirs.get(location).get_data(as_text=True)
    assert sorted(_names(html)) == ["另一学生", "欧阳秘密"] and "该搜索已过期" in html  # the plain list, no search
    # even with the first user's sealed query copied into the other's session
    with mine.session_transaction() as sess:
        searches = dict(sess["searches"])
    with theirs.session_transaction() as sess:
        sess["searches"] = searches
    html = theirs.get(location).get_data(as_text=True)
    assert len(_names(html)) == 2 and "该搜索已过期" in html


def test_the_token_expires(client, factory, world, moved_clock):

    _school, _student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    location = post(client, "/students", {"q": "欧阳秘密"}).headers["Location"]
    assert _names(client.get(location).get_data(as_text=True)) == ["欧阳秘密"]
    moved_clock(clock.now() + timedelta(seconds=15 * 60 + 1))
    html = client.get(location).get_data(as_text=True)
    assert len(_names(html)) == 2 and "该搜索已过期" in html


def test_a_new_login_forgets_the_searches(client, factory, world):
    _school, _student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    location = post(client, "/students", {"q": "欧阳秘密"}).headers["Location"]
    login(client, counselor.username, factory.PASSWORD)
    assert len(_names(client.get(location).get_data(as_text=True))) == 2


def test_at_most_five_searches_are_kept(client, factory, world):
    _school, _student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    for i in range(8):
        post(client, "/students", {"q": f"名字{i}"})
    with client.session_transaction() as sess:
        assert len(sess["searches"]) == 5


def test_paper_entry_search_posts_and_redirects_to_a_token(client, factory, world):
    _school, student, counselor, _other = world
    login(client, counselor.username, factory.PASSWORD)
    response = post(client, "/screenings/enter", {"q": "G3109990001"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "G3109990001" not in location and "r=" in location
    assert student.public_id in client.get(location).get_data(as_text=True)
    html = client.get("/screenings/enter").get_data(as_text=True)
    assert re.search(r'<form method="post"[^>]*action="/screenings/enter"', html)
