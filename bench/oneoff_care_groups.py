"""One-off measurement of /care/groups for a counselor of two schools with 1,500 students (issue 16), before and
after the list paged (docs/benchmarks.md, Notes). Not a benchmark module of `make bench` and not a test: run by hand

    .venv/bin/pytest -q -s -p no:cacheprovider -p tests.conftest bench/oneoff_care_groups.py

on the code to measure (check out the files of the version before to get the "before" figure). It builds the
students with the test factory (SQLite), a third of them in a care group, then times the page (test client, one
warm-up, median of 7).
"""
from __future__ import annotations

import importlib
import statistics
import time

login = importlib.import_module("tests.conftest").login  # not a static import: mypy checks bench/, not tests/


def test_measure_care_groups(app, factory, db_session):
    a, b = factory.school(name="甲校"), factory.school(name="乙校")
    classes = [factory.klass(s, g, f"{g}年级({n})班") for s in (a, b) for g in (7, 8, 9) for n in (1, 2, 3, 4, 5)]
    for i in range(1500):
        factory.student(klass=classes[i % len(classes)], groups=["left_behind"] if i % 3 == 0 else [])
    db_session.commit()
    c = app.test_client()
    login(c, factory.counselor(a, b).username)
    for url in ("/care/groups", "/care/groups?sort=name"):
        c.get(url)
        times = []
        for _ in range(7):
            t = time.perf_counter()
            r = c.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert r.status_code == 200
        size = len(r.get_data())
        print(f"\nMEASURE {url}: median {statistics.median(times):.0f} ms (min {min(times):.0f}, "
              f"max {max(times):.0f}), {r.get_data(as_text=True).count('<tr')} table rows, {size} bytes")
