"""The city pages read no identity or clinical-content column and show none (the district privacy checks, over
every city page and export: tests/integration/test_district_privacy.py explains the two checks)."""
from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import select

from models import City, Screening, Student, Warning
from tests.conftest import login
from tests.integration.district_world import TERM, build
from tests.integration.test_district_privacy import MARKER, MARKER_SCORE, _mark_every_sensitive_column, enrich
from tests.sql_reads import ColumnReads

QUERIES = ("", f"?term={TERM}", f"?term={TERM}&type=rural_small", f"?term={TERM}&stage=junior",
           f"?term={TERM}&type=urban&stage=junior")
TABLES = ("coverage", "positives", "warnings", "care", "care_groups", "followup", "crisis_response", "cases",
          "staffing")


def _world(client: Any, factory: Any, db_session: Any) -> Any:
    world = build(factory)
    enrich(db_session, world)
    city = City(code="PRIV", name="隐私市")
    db_session.add(city)
    db_session.flush()
    factory.district().city_id = city.id
    officer = factory.user("city")
    officer.city_id = city.id
    db_session.flush()
    login(client, officer.username)
    return world


def _xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    return "\n".join(",".join("" if v is None else str(v) for v in row) for row in sheet.iter_rows(values_only=True))


def crawl_city(client: Any) -> dict[str, str]:
    outputs = {}
    for query in QUERIES:
        url = f"/city{query}"
        response = client.get(url)
        assert response.status_code == 200, url
        outputs[url] = response.get_data(as_text=True)
    for table in TABLES:
        for fmt in ("csv", "xlsx"):
            url = f"/city/export/{table}.{fmt}?term={TERM}"
            response = client.get(url)
            assert response.status_code == 200, url
            outputs[url] = response.data.decode("utf-8-sig") if fmt == "csv" else _xlsx_text(response.data)
    return outputs


def test_no_city_statement_reads_an_identity_or_clinical_column(client, factory, db_session, engine):
    _world(client, factory, db_session)
    with ColumnReads(engine) as reads:
        outputs = crawl_city(client)
    assert len(outputs) == len(QUERIES) + 2 * len(TABLES)
    for column in [("students", "gender"), ("screenings", "positive"), ("warnings", "confirmed_level")]:
        assert column in reads.reads, column
    assert reads.sensitive() == []


@pytest.mark.timeout(600)
def test_with_markers_in_every_sealed_column_no_city_output_shows_one(client, factory, db_session):
    world = _world(client, factory, db_session)
    secrets = set(world.names) | set(world.numbers) | {st.public_id for st in world.students}
    secrets |= {"城区中学", "农村小学", "寄宿制中学"}  # the city never names a school either
    secrets |= set(db_session.scalars(select(Screening.uid))) | set(db_session.scalars(select(Warning.uid)))
    assert _mark_every_sensitive_column(db_session) > 200
    assert bytes(db_session.scalar(select(Student.name_enc).limit(1))).startswith(MARKER.encode())
    for where, output in crawl_city(client).items():
        assert MARKER.lower() not in output.lower(), where
        assert str(MARKER_SCORE) not in output, where
        for secret in secrets:
            assert secret not in output, (where, secret)
