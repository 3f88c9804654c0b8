"""The school page and the school report read no identity or clinical-content column and show none: the same two
checks as the district's (tests/integration/test_district_privacy.py) over what a school leader can reach."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from models import Screening, Warning
from models.care import CareCase
from tests.conftest import login
from tests.integration.district_world import TERM, World, build
from tests.integration.test_district_privacy import MARKER, MARKER_SCORE, _mark_every_sensitive_column, enrich
from tests.pdf_tools import pdf_text
from tests.sql_reads import ColumnReads


def _world(client: Any, factory: Any, db_session: Any) -> World:
    world = build(factory)
    enrich(db_session, world)
    owner = factory.counselor(world.schools["A"], display_name="李心怡")
    for case in db_session.scalars(select(CareCase)):
        case.owner_id = owner.id
    db_session.flush()
    login(client, factory.school_leader(world.schools["A"]).username)
    return world


def _everything(client: Any, world: World) -> dict[str, str]:
    a = world.schools["A"].id
    out = {}
    for url in ("/school", f"/school/{a}", f"/school/{a}?term={TERM}", f"/school/{a}?term=none"):
        response = client.get(url, follow_redirects=True)
        assert response.status_code == 200, url
        out[url] = response.get_data(as_text=True)
    report = client.get(f"/school/{a}/report.pdf?term={TERM}")
    assert report.status_code == 200
    out["report.pdf"] = pdf_text(report.data)
    return out


@pytest.mark.timeout(300)
def test_no_school_page_statement_reads_an_identity_or_clinical_column(client, factory, db_session, engine):
    world = _world(client, factory, db_session)
    with ColumnReads(engine) as reads:
        outputs = _everything(client, world)
    assert "李心怡" in outputs[f"/school/{world.schools['A'].id}?term={TERM}"]  # the workload table was built
    for column in [("students", "gender"), ("screenings", "positive"), ("care_cases", "owner_id"),
                   ("students", "class_id")]:
        assert column in reads.reads, column
    assert reads.sensitive() == []


@pytest.mark.timeout(300)
def test_with_markers_in_every_identity_and_clinical_column_no_school_output_shows_one(client, factory, db_session):
    world = _world(client, factory, db_session)
    secrets = set(world.names) | set(world.numbers) | {st.public_id for st in world.students}
    secrets |= set(db_session.scalars(select(Screening.uid))) | set(db_session.scalars(select(Warning.uid)))
    assert _mark_every_sensitive_column(db_session) > 200
    for where, output in _everything(client, world).items():
        assert MARKER.lower() not in output.lower(), where
        assert str(MARKER_SCORE) not in output, where
        for secret in secrets:
            assert secret not in output, (where, secret)
