"""The demo's account summary (printed by `flask demo seed`) names each featured account with its own role, and
lists only counselors as "also counselors"."""
from __future__ import annotations

from types import SimpleNamespace

from app.demo.cli import account_lines
from models import School, User


def test_the_summary_names_the_leader_and_the_city_officer_by_their_roles():
    school = School(name="城桥中学")
    leader = User(username="leader", display_name="王校长", role="school_leader")
    leader.schools = [school]
    users = {
        "leader": leader,
        "city": User(username="city", display_name="周明", role="city"),
        "zhoujing": User(username="zhoujing", display_name="周静", role="counselor"),
    }
    lines = account_lines(SimpleNamespace(data={"users": users}), "pw")  # type: ignore[arg-type]
    text = "\n".join(lines)
    assert "leader     school_leader 王校长 — 城桥中学" in text
    assert "city       city          周明" in text
    assert lines[-1] == "  also counselors: zhoujing (same password)"
