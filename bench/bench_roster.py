"""Benchmark of the counselor's student list on one large school.

    .venv/bin/python -m bench.bench_roster [tiny|small|district]

Data: `school` (built here once per run): one nine-year school of 3,000 students (300 at tiny scale) in 63
classes, identities sealed by the Vault, 12 % in each care group, one counselor. Measured on a copy. Median of
several runs, each figure beside its floors:
- one list page (50 rows: the scoped query, data keys unwrapped in one query, names and numbers opened, one audit
  event) against the ORM SELECT of the same 50 rows without decryption or audit, and against the design's floor:
  the DB-API select of the 50 rows' needed columns and wrapped keys, keys unwrapped and names and numbers opened
  with `models.crypto` directly;
- one exact search through the blind index (names confirmed by decryption) against a primary-key lookup;
- the whole page `/students?page=30` through the Flask test client (access hook, list, template) against
  `/healthz` on the same client (in-process: the load generator's figures are bench_http's).
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.core import Floor, interleaved, result, runs_for

DATA = "school"
STUDENTS = {"tiny": 300}  # every other scale: 3,000 (the large school)
PAGE_TARGET_MS = 150.0
PASSWORD = "bench-password-1"
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋"
            "蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱"
            "江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = "子涵欣怡梓轩浩然宇轩雨萱一诺思彤俊杰佳怡志强晓明梦琪嘉怡博文雅婷天佑诗涵明轩若曦"


def build_school(url: str, scale: str, workdir: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The `school` data set, into the migrated template at `url`; the key ring in `workdir/keys.json`."""
    from sqlalchemy.orm import Session

    from app.auth.service import hash_password
    from app.care_groups import care_group_keys
    from models import Actor, District, School, SchoolClass, Student, User
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    n = STUDENTS.get(scale, 3_000)
    key_file = workdir / "keys.json"
    keyring = KeyRing.generate_file(str(key_file))
    rng = random.Random(20261129)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            vault = Vault(session, keyring, Actor.system("bench"))
            district = District(code="B1", name="基准区")
            school = School(district=district, code="B0001", name="基准中学", type="township_boarding",
                            stage="nine_year")
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
            counselor = User(username="bench-counselor", display_name="基准心理老师",
                             password_hash=hash_password(PASSWORD), role="counselor", district_id=district.id)
            counselor.schools = [school]
            session.add(counselor)
            session.commit()
            return {"students": n, "school_id": school.id, "counselor": counselor.username, "password": PASSWORD,
                    "probe_name": probe, "key_file": str(key_file)}
    finally:
        engine.dispose()


def decrypt_floor(engine: Any, ring: Any, student_sql: str, params: dict[str, Any],
                  columns: tuple[str, ...] = ("name",)) -> tuple[Any, Any]:
    """(select, select + open) functions for the design's floor of a list: the DB-API select of the rows' needed
    columns (`student_sql` selects id, public_id, data_key_id, then `<column>_enc` for each column) and of their
    wrapped data keys; then the same plus key unwrap and decryption with models.crypto directly (no ORM, no Vault,
    no audit)."""
    from models import crypto

    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"

    def fetch() -> tuple[list[Any], dict[int, tuple[bytes, int]]]:
        conn = engine.raw_connection()
        try:
            cur = conn.cursor()
            sql = student_sql
            values = []
            for name, value in params.items():  # named parameters -> the driver's positional markers
                sql = sql.replace(f":{name}", marker)
                values.append(value)
            cur.execute(sql, tuple(values))
            rows = cur.fetchall()
            key_ids = sorted({r[2] for r in rows})
            keys: dict[int, tuple[bytes, int]] = {}
            for i in range(0, len(key_ids), 900):
                part = key_ids[i:i + 900]
                cur.execute(f"SELECT id, wrapped, master_version FROM data_keys WHERE id IN "
                            f"({', '.join([marker] * len(part))})", tuple(part))
                keys.update({k: (bytes(w), v) for k, w, v in cur.fetchall()})
            conn.rollback()
            return rows, keys
        finally:
            conn.close()

    def select_only() -> None:
        fetch()

    def select_and_open() -> None:
        rows, wrapped = fetch()
        keys = {k: ring.unwrap(w, k, v) for k, (w, v) in wrapped.items()}
        lookup = keys.__getitem__
        for row in rows:
            for i, column in enumerate(columns):
                blob = row[3 + i]
                if blob is not None:
                    crypto.open_sealed(bytes(blob), lookup, crypto.aad_for("students", column, row[1])).decode()

    return select_only, select_and_open


def run(scale: str, data: Any) -> list[dict]:
    from sqlalchemy.orm import Session

    from app import create_app
    from app.auth.throttle import MemoryThrottle
    from app.roster import service
    from config import TestingConfig
    from models import Actor, Student, User
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    runs = runs_for(scale)
    with data.copy() as db:
        info = db.info
        n = info["students"]
        keyring = KeyRing.from_file(info["key_file"])
        engine = make_engine(db.url)
        try:
            session = Session(engine, expire_on_commit=False)
            counselor = session.scalars(select(User).where(User.username == info["counselor"])).one()
            filters = service.StudentFilters()
            page_no = min(30, n // 50)
            offset = (page_no - 1) * 50

            def list_page() -> None:
                vault = Vault(session, keyring, Actor.for_user(counselor))  # a fresh vault per request, as in the app
                page = service.list_students(session, vault, counselor, filters, page=page_no)
                assert len(page.rows) == 50
                session.rollback()

            def orm_page() -> None:
                rows = session.scalars(select(Student).where(Student.visible_to(counselor)).order_by(Student.id)
                                       .limit(50).offset(offset)).all()
                assert len(rows) == 50
                session.rollback()

            dbapi_page, dbapi_open_page = decrypt_floor(
                engine, keyring,
                "SELECT id, public_id, data_key_id, name_enc, student_number_enc FROM students "
                f"WHERE school_id = :school ORDER BY school_id, grade, class_id, id LIMIT 50 OFFSET {offset}",
                {"school": info["school_id"]}, ("name", "student_number"))

            def search() -> None:
                vault = Vault(session, keyring, Actor.for_user(counselor))
                page = service.list_students(session, vault, counselor, service.StudentFilters(q=info["probe_name"]))
                assert page.rows
                session.rollback()

            first_id = session.scalar(select(Student.id).order_by(Student.id))

            def pk_lookup() -> None:
                student = session.get(Student, first_id)
                assert student is not None
                session.expunge(student)  # loaded from the database each time, not from the identity map
                session.rollback()

            page_s, orm_s, dbapi_s, open_s = interleaved([list_page, orm_page, dbapi_page, dbapi_open_page], runs,
                                                         unit="ms")
            search_s, pk_s = interleaved([search, pk_lookup], runs, unit="ms")
            session.close()

            app = create_app(TestingConfig(), {"DATABASE_URL": db.url, "KEYRING": keyring, "WTF_CSRF_ENABLED": False,
                                               "THROTTLE": MemoryThrottle(100, 60)})
            client = app.test_client()
            response = client.post("/login", data={"username": info["counselor"], "password": info["password"]})
            assert response.status_code == 302, response.status_code

            def http_page() -> None:
                assert client.get(f"/students?page={page_no}").status_code == 200

            def http_health() -> None:
                assert client.get("/healthz").status_code == 200

            http_s, health_s = interleaved([http_page, http_health], runs, unit="ms")
            app.extensions["xinmiao_engine"].dispose()
        finally:
            engine.dispose()

    where = f"{n:,}-student school, {db.kind}"
    return [
        result("roster.list_page_ms", f"roster list page ({where}; 50 rows opened, one audit event)", page_s, "ms",
               [Floor("orm", "ORM SELECT of the same 50 rows, no decryption, no audit", orm_s),
                Floor("dbapi", "DB-API select of the 50 rows' needed columns and wrapped keys", dbapi_s),
                Floor("dbapi_open", "that, plus keys unwrapped and names and numbers opened with models.crypto",
                      open_s)],
               target=f"< {PAGE_TARGET_MS:.0f} ms per page"),
        result("roster.exact_search_ms", f"roster exact search ({where}; blind index + confirm)", search_s, "ms",
               [Floor("pk", "primary-key lookup of one student", pk_s)]),
        result("roster.list_http_ms", f"roster list page, Flask test client ({where}; GET /students?page="
               f"{page_no} with template)", http_s, "ms",
               [Floor("healthz", "GET /healthz on the same logged-in client", health_s)]),
    ]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_roster")
