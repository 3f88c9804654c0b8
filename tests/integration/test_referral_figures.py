"""The district figures count referrals and the service's feedback received (app/care/referrals.py), protected like
every other figure: no school's count between 1 and 4 is shown, and no name reaches the district page."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.district import service
from app.district.service import Filters, Selection
from app.district.suppression import Relation, determined_cells
from models import Warning
from models.care import CareCase, CaseEntry
from tests.conftest import login
from tests.integration.district_world import TERM, build

K = 5
TODAY = date(2026, 10, 15)
FEEDBACK_AT = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def _refer(db, world, school: str, n: int, with_feedback: int) -> None:  # type: ignore[no-untyped-def]
    """A case and one referral for each of the first `n` warned students of `school`, `with_feedback` of them
    with the service's feedback recorded."""
    warnings = db.scalars(
        select(Warning).where(Warning.school_id == world.schools[school].id).order_by(Warning.id)
    ).all()[:n]
    assert len(warnings) == n
    for i, w in enumerate(warnings):
        case = CareCase(student_id=w.student_id, school_id=w.school_id, warning_id=w.id, level="L1",
                        status="referred")
        db.add(case)
        db.flush()
        db.add(CaseEntry(case_id=case.id, student_id=w.student_id, kind="referral", occurred_on=date(2026, 9, 15),
                         referral_status="feedback" if i < with_feedback else "sent",
                         feedback_at=FEEDBACK_AT if i < with_feedback else None, destination_enc=b"x"))
    db.flush()


@pytest.fixture
def world(factory, db_session):  # type: ignore[no-untyped-def]
    world = build(factory)
    _refer(db_session, world, "A", 6, 5)  # school A: 6 referrals, 5 with feedback
    _refer(db_session, world, "C", 6, 2)  # school C: 6 referrals, 2 with feedback
    return world


def test_referrals_and_feedback_received_are_counted_and_small_counts_hidden(db_session, world):
    _, fig = service.compute_figures(db_session, world.district_user.district_id, Selection(TERM, None), K, TODAY)
    total = (fig.scopes.of(Filters()), None, None)
    school_a = (frozenset([world.schools["A"].id]), None, None)
    school_c = (frozenset([world.schools["C"].id]), None, None)
    assert fig.value("referrals", total) == 12 and fig.value("referrals_feedback", total) == 7
    assert fig.value("referrals", school_a) == 6 and fig.value("referrals", school_c) == 6
    assert fig.value("referrals_feedback", school_a) == 5
    assert fig.text("referrals_feedback", school_c) == "<5"  # 2: hidden
    # ... and not recoverable from the other cells (total - A - B): B's 0 is hidden as its complement
    assert fig.status("referrals_feedback", (frozenset([world.schools["B"].id]), None, None)) == "complement"
    keys, rels = service.family_keys(fig.scopes, fig.grades)
    relations = [Relation(p, c) for p, c in rels]
    for measure in ("referrals", "referrals_feedback"):
        protected = fig.protected[measure]
        assert determined_cells(relations, protected.suppressed) == set(), measure
        for key, value in protected.values.items():
            if protected.shown(key):
                assert not 1 <= value < K, (measure, key, value)

def test_the_dashboard_shows_the_referral_columns_without_names(client, db_session, world):
    login(client, world.district_user.username)
    page = client.get(f"/district?term={TERM}&table=cases&by=school").get_data(as_text=True)
    from app.district import glossary

    for key in ("referrals", "referrals_feedback", "referral_feedback_rate"):  # 转介（次）, 已收到反馈的转介（次）...
        assert glossary.get(key).header("zh") in page, key
    for name in world.names:
        assert name not in page
