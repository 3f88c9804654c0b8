"""The demo district: realistic, deterministic, sealed, and refused in production."""
from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from sqlalchemy import func, select

from app.demo.cli import run_demo
from models import Actor, School, Student, User
from models.vault import Vault

TODAY = date(2026, 11, 29)


@pytest.fixture(autouse=True)
def _on_the_demos_day(moved_clock):
    """The demo tells the story of TODAY: the clock stands at its end, so what the story dates to that day (a
    screening at 10:30, a crisis seen two hours later) is in the past, as it is when `make run` seeds today."""
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    moved_clock(datetime.combine(TODAY, time(18, 0), tzinfo=ZoneInfo("Asia/Shanghai")))


@pytest.fixture(autouse=True)
def _in_app(app):
    with app.app_context():  # the demo steps are the app's, and record screenings with its warning policy
        yield


def _seed(db_session, keyring, seed=7):
    return run_demo(db_session, keyring, "pw-demo", seed=seed, today=TODAY)


def test_demo_district_has_schools_of_every_type_and_about_1500_students(db_session, keyring):
    ctx, summaries = _seed(db_session, keyring)
    schools = db_session.scalars(select(School)).all()
    assert 10 <= len(schools) <= 14
    assert {s.type for s in schools} == {"urban", "rural_small", "township_boarding", "other"}
    assert {s.stage for s in schools} == {"primary", "junior", "nine_year"}
    n = db_session.scalar(select(func.count()).select_from(Student))
    assert 1300 <= n <= 1700
    assert "崇明区" in summaries[0]
    assert all(c.school_year == "2026-2027" for c in ctx.data["classes"])


def test_demo_identity_is_sealed_and_readable_through_the_vault(db_session, keyring):
    ctx, _ = _seed(db_session, keyring)
    student = ctx.data["students"][0]
    reader = Vault(db_session, keyring, Actor.system("test")).reveal(student, "test.view")
    assert reader.name.encode() not in student.name_enc
    assert 2 <= len(reader.name) <= 4
    assert reader.student_number.startswith("G310151") and len(reader.student_number) == 19
    assert reader.identity.guardians and reader.identity.guardians[0]["phone"].startswith("1")


def test_demo_birth_year_matches_grade(db_session, keyring):
    ctx, _ = _seed(db_session, keyring)
    for s in ctx.data["students"]:
        year, month = (int(p) for p in s.birth_ym.split("-"))
        age_on_1_september = 2026 - year - (1 if month > 8 else 0)
        assert s.grade + 5 <= age_on_1_september <= s.grade + 6, (s.grade, s.birth_ym)


def test_left_behind_children_concentrate_in_rural_and_township_schools(db_session, keyring):
    ctx, _ = _seed(db_session, keyring)
    totals, left, migrant = Counter(), Counter(), Counter()
    for s in ctx.data["students"]:
        kind = s.school.type
        totals[kind] += 1
        left[kind] += "left_behind" in s.care_groups
        migrant[kind] += "migrant" in s.care_groups
    rate = lambda c, k: c[k] / totals[k]  # noqa: E731
    assert 0.18 <= rate(left, "rural_small") <= 0.35
    assert 0.15 <= rate(left, "township_boarding") <= 0.32
    assert rate(left, "urban") < 0.08
    assert 0.10 <= rate(migrant, "urban") <= 0.25
    assert rate(migrant, "rural_small") < 0.08


def test_demo_users_have_the_promised_scope(db_session, keyring):
    ctx, _ = _seed(db_session, keyring)
    users = {u.username: u for u in db_session.scalars(select(User))}
    assert {"admin", "district", "counselor", "teacher"} <= set(users)
    assert users["counselor"].role == "counselor" and len(users["counselor"].schools) == 2
    teacher = users["teacher"]
    assert teacher.role == "head_teacher" and len(teacher.classes) == 1
    assert teacher.classes[0].school in users["counselor"].schools
    staffed = {s.id for u in users.values() if u.role == "counselor" and u.full_time for s in u.schools}
    gaps = [s for s in ctx.data["schools"] if s.id not in staffed]
    assert {s.type for s in gaps} >= {"rural_small", "township_boarding"}


def test_demo_is_deterministic_for_a_seed(db_session, keyring):
    ctx, _ = _seed(db_session, keyring, seed=11)
    first = [(s.public_id, s.grade, s.birth_ym, tuple(s.care_groups)) for s in ctx.data["students"][:50]]
    db_session.rollback()
    ctx2, _ = _seed(db_session, keyring, seed=11)
    assert [(s.public_id, s.grade, s.birth_ym, tuple(s.care_groups)) for s in ctx2.data["students"][:50]] == first


def test_demo_seed_command_prints_the_steps_and_the_accounts(app):
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "崇明区" in result.output and "counselor" in result.output and "teacher" in result.output


def test_demo_seed_if_empty_does_nothing_on_a_seeded_database(app, factory):
    factory.school()
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--if-empty"])
    assert result.exit_code == 0 and "nothing to do" in result.output
    refused = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert refused.exit_code != 0 and "not empty" in refused.output


def test_demo_seed_is_refused_when_the_config_forbids_it(app, db_session):
    app.config["ALLOW_DEMO_SEED"] = False
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0 and "Refused" in result.output
    assert db_session.scalar(select(func.count()).select_from(School)) == 0


def test_the_demo_counselor_is_at_work_a_few_interviews_two_new_crises_and_a_short_worklist(app, db_session, keyring):
    from zoneinfo import ZoneInfo

    from app.care import queries
    from models import CareCheckin, CaseEntry, Warning

    ctx, _ = _seed(db_session, keyring)
    counselor = ctx.data["users"]["counselor"]
    work = queries.worklist(db_session, counselor, Vault(db_session, keyring, Actor.system("test")), TODAY,
                            ZoneInfo("Asia/Shanghai"))
    kinds = Counter(item.kind for rows in work.sections.values() for item in rows)
    assert 1 <= len(work.sections["crisis"]) <= 3
    assert 3 <= kinds["interview"] <= 8
    assert work.sections["overdue"] and len(work.sections["overdue"]) <= 12
    assert work.sections["week"] or work.sections["today"]
    assert work.count <= 40
    mine = counselor.school_ids
    statuses = Counter(db_session.scalars(select(Warning.status).where(
        Warning.school_id.in_(mine), Warning.suggested_level.in_(("L1", "L2", "L3")))))
    assert statuses["confirmed"] + statuses["dismissed"] >= 5 * statuses["suggested"]  # most October warnings handled
    handled_crises = db_session.scalar(select(func.count()).select_from(Warning).where(
        Warning.suggested_level == "L1", Warning.acknowledged_at.is_not(None)))
    assert handled_crises >= 2
    assert db_session.scalar(select(func.count()).select_from(CaseEntry).where(
        CaseEntry.kind == "referral", CaseEntry.referral_status == "feedback")) >= 1
    assert db_session.scalar(select(func.count()).select_from(CareCheckin)) > 0


def test_the_demo_story_runs_forward_screening_then_interview_then_follow_ups(db_session, keyring):
    """A case opens on the day of its interview, after the screening and before its follow-ups (the demo once
    showed 建档于 12-02 above November entries), and most crises are seen the day they came in."""
    from zoneinfo import ZoneInfo

    from models import CareCase, CaseEntry, Warning

    _seed(db_session, keyring)
    zone = ZoneInfo("Asia/Shanghai")
    cases = db_session.execute(
        select(CareCase.id, CareCase.opened_at, Warning.created_at, Warning.confirmed_at)
        .join(Warning, Warning.id == CareCase.warning_id)
    ).all()
    assert len(cases) >= 10
    first_entry = dict(db_session.execute(
        select(CaseEntry.case_id, func.min(CaseEntry.occurred_on)).group_by(CaseEntry.case_id)).all())
    for case_id, opened_at, created_at, confirmed_at in cases:
        assert confirmed_at >= created_at, case_id
        assert opened_at >= created_at, case_id
        assert opened_at.astimezone(zone).date() <= first_entry[case_id] <= TODAY, case_id
    crises = db_session.execute(
        select(Warning.created_at, Warning.confirmed_at)
        .where(Warning.suggested_level == "L1", Warning.confirmed_at.is_not(None))
    ).all()
    same_day = sum(c.astimezone(zone).date() == k.astimezone(zone).date() for c, k in crises)
    assert crises and same_day >= len(crises) / 2


def test_the_demo_level_one_cases_have_an_assessment_the_same_day_and_safety_plans(app, db_session, keyring):
    from app.care import crisis
    from models import CareCase, SafetyAssessment, SafetyPlan, Warning

    _seed(db_session, keyring)
    cases = db_session.scalars(select(CareCase).where(CareCase.level == "L1")).all()
    assert cases
    outcomes = Counter()
    for case in cases:
        warning = db_session.get(Warning, case.warning_id)
        assessment = crisis.latest_assessment(db_session, warning.id)
        assert assessment is not None
        assert crisis.local_day(assessment.assessed_at) == crisis.local_day(warning.created_at)
        outcomes[assessment.outcome] += 1
        if assessment.outcome == "imminent":  # the guardian and the emergency referral are recorded
            assert crisis.response_for(db_session, warning, case).missing == []
    assert outcomes["imminent"] == 1
    assert db_session.scalar(select(func.count()).select_from(SafetyPlan)) >= 1
    vault = Vault(db_session, keyring, Actor.system("test"))
    plan = db_session.scalars(select(SafetyPlan).order_by(SafetyPlan.id)).first()
    student = db_session.get(Student, plan.student_id)
    assert "12356" in vault.reveal(student, "test").get(plan, "professionals")
    assert db_session.scalar(select(func.count()).select_from(SafetyAssessment)) == len(cases)
