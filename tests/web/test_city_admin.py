"""The admin sets up the city tier: cities, districts in them, city officers (web and CLI); audited."""
from __future__ import annotations

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from app.cli import alembic_config, upgrade_database
from models import AuditEvent, City, District, User
from models.db import make_engine
from tests.conftest import login, post


def _actions(db_session, prefix):
    return [e.action for e in db_session.scalars(select(AuditEvent).where(AuditEvent.action.like(prefix + "%")))]


def test_admin_creates_a_city_a_district_in_it_and_a_city_officer(client, factory, db_session):
    factory.user("admin", username="cityroot")
    first = factory.district()
    login(client, "cityroot")
    assert "添加市" in client.get("/admin/cities").get_data(as_text=True)
    r = post(client, "/admin/cities/new", {"city-code": "SH", "city-name": "上海市"})
    assert r.status_code == 302, r.get_data(as_text=True)
    city = db_session.scalars(select(City).where(City.code == "SH")).one()
    r = post(client, "/admin/cities/districts/new",
             {"district-code": "CM", "district-name": "崇明区", "district-city": str(city.id)})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = post(client, "/admin/cities/assign", {"assign-district": str(first.id), "assign-city": str(city.id)})
    assert r.status_code == 302
    db_session.expire_all()
    assert {d.code for d in city.districts} == {"CM", first.code}
    page = client.get("/admin/cities").get_data(as_text=True)
    assert "崇明区（CM）" in page
    # a duplicate code is refused beside the field
    r = post(client, "/admin/cities/new", {"city-code": "SH", "city-name": "又一个"})
    assert r.status_code == 200 and "已被使用" in r.get_data(as_text=True)
    # a city officer needs a city
    r = post(client, "/admin/users/new", {"username": "cityo", "display_name": "市教委", "password": "long-enough-1",
                                           "role": "city", "city": "0", "active": "y"})
    assert r.status_code == 200 and "需要指定所属市" in r.get_data(as_text=True)
    r = post(client, "/admin/users/new", {"username": "cityo", "display_name": "市教委", "password": "long-enough-1",
                                           "role": "city", "city": str(city.id), "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    user = db_session.scalars(select(User).where(User.username == "cityo")).one()
    assert user.role == "city" and user.city_id == city.id
    assert {"city.created", "city.district_assigned"} <= set(_actions(db_session, "city."))
    assert "district.created" in _actions(db_session, "district.")


def test_the_cli_sets_up_a_city(app, factory, db_session):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["city", "add", "--code", "BJ", "--name", "北京市"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["city", "district", "--city", "BJ", "--code", "HD", "--name", "海淀区"])
    assert r.exit_code == 0 and "HD 海淀区 in city BJ" in r.output, r.output
    r = runner.invoke(args=["users", "add", "--username", "bjcity", "--role", "city", "--city", "BJ",
                            "--password", "long-enough-1"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(args=["users", "add", "--username", "bjbad", "--role", "counselor", "--city", "BJ",
                            "--password", "long-enough-1"])
    assert r.exit_code != 0 and "--city is only for --role city" in r.output
    city = db_session.scalars(select(City).where(City.code == "BJ")).one()
    assert db_session.scalars(select(User).where(User.username == "bjcity")).one().city_id == city.id
    assert db_session.scalars(select(District).where(District.code == "HD")).one().city_id == city.id


def test_the_city_migration_goes_up_and_down(fresh_database):
    cfg = alembic_config(fresh_database.url)
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO cities (id, code, name) VALUES (1, 'C', '市')"))
            conn.execute(text("INSERT INTO districts (id, code, name, city_id) VALUES (1, 'D', '区', 1)"))
            conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, district_id, "
                              "city_id, full_time, session_version, created_at) VALUES ('c1', 'c', 'x', 'city', "
                              "true, 1, 1, true, 1, '2026-12-01 00:00:00')"))
        command.downgrade(cfg, "0023")
        with engine.begin() as conn:
            assert conn.execute(text("SELECT count(*) FROM users WHERE role = 'city'")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM districts")).scalar() == 1
        try:
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, "
                                  "full_time, session_version, created_at) VALUES ('c2', 'c', 'x', 'city', true, "
                                  "true, 1, '2026-12-01 00:00:00')"))
            raise AssertionError("the older schema accepted the role city")
        except IntegrityError:
            pass
        command.upgrade(cfg, "head")
        with engine.begin() as conn:
            conn.execute(text("UPDATE districts SET city_id = NULL"))
            conn.execute(text("INSERT INTO users (username, display_name, password_hash, role, active, "
                              "full_time, session_version, created_at) VALUES ('c3', 'c', 'x', 'city', true, "
                              "true, 1, '2026-12-01 00:00:00')"))
    finally:
        engine.dispose()


def test_a_city_officer_needs_a_second_factor_when_two_factors_are_on():
    from app.auth.two_factor import required_for
    from models import User

    assert required_for(User(role="city"), {"TWO_FACTOR": "on"})
    assert not required_for(User(role="city"), {"TWO_FACTOR": "off"})
