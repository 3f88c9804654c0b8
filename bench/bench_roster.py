"""Benchmark of the counselor's student list on one large school (3,000 students by default).

    .venv/bin/python -m bench.bench_roster [small|district] [DATABASE_URL]

Measured on a fresh database (a temporary SQLite file unless a URL is given; that database must be empty):
- one list page (50 rows: the scoped query, data keys unwrapped in one query, names and numbers opened, one audit
  event), against a bare SELECT of the same 50 rows in the same run (the floor: no decryption, no audit);
- one exact search through the blind index (names confirmed by decryption), against a primary-key lookup;
- the whole HTTP page `/students?page=30` (access hook, list, template), against `/healthz` on the same client.
Best of several runs, so other processes on the machine disturb the figure as little as possible.
"""
from __future__ import annotations

import random
import sys
import time
from typing import Any, Callable

from sqlalchemy import select

SIZES = {"small": 3_000, "district": 3_000, "large": 6_000}
REPEATS = 7
PAGE_TARGET_MS = 150.0
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "子涵欣怡梓轩浩然宇轩雨萱一诺思彤俊杰佳怡志强晓明梦琪嘉怡博文雅婷天佑诗涵明轩若曦"


def best_ms(fn: Callable[[], Any]) -> float:
    fn()  # warm caches (templates, statements) outside the timing
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _populate(session: Any, keyring: Any, n: int) -> tuple[Any, Any, str]:
    from app.care_groups import care_group_keys
    from models import Actor, District, School, SchoolClass, Student, User
    from models.vault import Vault

    from app.auth.service import hash_password

    rng = random.Random(20261129)
    vault = Vault(session, keyring, Actor.system("bench"))
    district = District(code="B1", name="基准区")
    school = School(district=district, code="B0001", name="基准中学", type="township_boarding", stage="nine_year")
    session.add_all([district, school])
    session.flush()
    classes = [SchoolClass(school=school, grade=g, name=f"{g}年级({k})班", school_year="2026-2027")
               for g in range(1, 10) for k in range(1, 8)]
    session.add_all(classes)
    session.flush()
    groups = list(care_group_keys())
    probe = ""
    for i in range(n):
        klass = classes[i % len(classes)]
        student = Student(school_id=school.id, class_id=klass.id, grade=klass.grade, gender=rng.choice("MF"),
                          birth_ym=f"{2020 - klass.grade - 6}-{rng.randint(1, 12):02d}")
        session.add(student)
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        probe = probe or name
        vault.seal_identity(student, name=name, student_number=f"G{310151000000000 + i}",
                            guardians=[{"name": "家长", "relation": "母亲", "phone": f"139{i:08d}"}])
        student.set_care_groups([g for g in groups if rng.random() < 0.12])
        if i % 500 == 499:
            session.flush()
    counselor = User(username="bench-counselor", display_name="基准心理老师", password_hash=hash_password("bench-password-1"),
                     role="counselor", district_id=district.id)
    counselor.schools = [school]
    session.add(counselor)
    session.commit()
    return school, counselor, probe


def run(scale: str = "small", database_url: str | None = None) -> list[dict]:
    from app import create_app
    from app.auth.throttle import MemoryThrottle
    from bench import scratch_database
    from app.roster import service
    from config import TestingConfig
    from models import Actor, Student
    from models.crypto import KeyRing
    from models.db import make_session_factory
    from models.vault import Vault

    n = SIZES.get(scale, SIZES["small"])
    with scratch_database("roster", database_url) as (database_url, engine):
        keyring = KeyRing.generate()
        session = make_session_factory(engine)()
        _, counselor, probe = _populate(session, keyring, n)
        filters = service.StudentFilters()

        def list_page() -> None:
            vault = Vault(session, keyring, Actor.for_user(counselor))  # a fresh vault per request, as in the app
            page = service.list_students(session, vault, counselor, filters, page=30)
            assert len(page.rows) == 50
            session.rollback()

        def bare_page() -> None:
            rows = session.scalars(select(Student).where(Student.visible_to(counselor)).order_by(Student.id)
                                   .limit(50).offset(29 * 50)).all()
            assert len(rows) == 50
            session.rollback()

        def search() -> None:
            vault = Vault(session, keyring, Actor.for_user(counselor))
            page = service.list_students(session, vault, counselor, service.StudentFilters(q=probe))
            assert page.rows
            session.rollback()

        first_id = session.scalar(select(Student.id).order_by(Student.id))

        def pk_lookup() -> None:
            session.expunge_all()
            assert session.get(Student, first_id) is not None
            session.rollback()

        page_ms, bare_ms = best_ms(list_page), best_ms(bare_page)
        search_ms, pk_ms = best_ms(search), best_ms(pk_lookup)

        app = create_app(TestingConfig(), {"DATABASE_URL": database_url, "KEYRING": keyring, "WTF_CSRF_ENABLED": False,
                                           "THROTTLE": MemoryThrottle(100, 60)})
        client = app.test_client()
        response = client.post("/login", data={"username": "bench-counselor", "password": "bench-password-1"})
        assert response.status_code == 302, response.status_code

        def http_page() -> None:
            assert client.get("/students?page=30").status_code == 200

        def http_health() -> None:
            assert client.get("/healthz").status_code == 200

        http_ms, health_ms = best_ms(http_page), best_ms(http_health)
        session.close()

    where = f"{n:,}-student school, {engine.dialect.name}"
    return [
        _row(f"roster_list_page_ms ({where}; 50 rows opened, one audit event; lower is better)", page_ms,
             f"bare SELECT of the same 50 rows, no decryption, no audit ({where})", bare_ms,
             f"< {PAGE_TARGET_MS:.0f} ms per page"),
        _row(f"roster_exact_search_ms ({where}; blind index + confirm; lower is better)", search_ms,
             "primary-key lookup of one student in the same run", pk_ms, None),
        _row(f"roster_list_http_ms ({where}; GET /students?page=30 with template; lower is better)", http_ms,
             "GET /healthz on the same logged-in client", health_ms, None),
    ]


def _row(metric: str, value: float, baseline: str, baseline_value: float, target: str | None) -> dict:
    return {
        "metric": metric,
        "value": round(value, 2),
        "unit": "ms",
        "baseline": baseline,
        "baseline_value": round(baseline_value, 2),
        "ratio": round(value / baseline_value, 2) if baseline_value else None,
        "target": target,
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    for row in run(args[0] if args else "small", args[1] if len(args) > 1 else None):
        target = f"  target: {row['target']}" if row["target"] else ""
        print(f"{row['metric']}\n  {row['value']:,.2f} {row['unit']}; baseline {row['baseline_value']:,.2f} "
              f"({row['baseline']}); ratio {row['ratio']}{target}")
