"""Which schools and campaigns the figures are about: the selection (a term or one campaign), the filters (school
type, stage), the district's schools and the grades its selected campaigns screen. Schools and campaigns only:
no statement here touches a student's row except to count enrolled students per school (staffing)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from models import District, School, Student
from models.screenings import Campaign, CampaignInstrument, campaign_schools

TWO_TYPES = ("rural_small", "township_boarding")  # the school types whose staffing gaps the district watches
GENDERS = ("M", "F")
GRADES = tuple(range(1, 10))
DIMENSIONS = ("school", "type", "stage", "grade", "gender")
WARNING_LEVELS = ("L1", "L2", "L3", "care")


@dataclass(frozen=True)
class Selection:
    """What the figures are about: a term (all its campaigns) or one campaign."""

    term: str | None = None
    campaign_id: int | None = None


@dataclass(frozen=True)
class Filters:
    type: str | None = None
    stage: str | None = None


@dataclass
class SchoolInfo:
    id: int
    code: str
    name: str
    type: str
    stage: str
    enrolled_all: int = 0  # every enrolled student of the school (for staffing)


@dataclass
class Context:
    """The schools in play and the campaigns selected, for one district."""

    schools: dict[int, SchoolInfo]
    campaign_ids: list[int]
    eligible: dict[int, set[int]]  # school id -> grades the selected campaigns screen
    instruments: list[str]
    closed_stamp: str | None = None  # set when every selected campaign is closed: ids and closing times
    as_of: datetime | None = None  # when the screening figures were computed (a rollup's refresh time, or now)

    @property
    def school_ids(self) -> frozenset[int]:
        return frozenset(self.eligible)




def district_ids(db: Session) -> list[int]:
    """Every district's id (the rollup jobs and command walk them)."""
    return list(db.scalars(select(District.id).order_by(District.id)))


def district_schools(db: Session, district_id: int | None, with_enrolled: bool = False) -> dict[int, SchoolInfo]:
    """The district's schools; with `with_enrolled`, each school's count of enrolled students (for staffing)."""
    stmt = select(School.id, School.code, School.name, School.type, School.stage).order_by(School.code)
    if with_enrolled:
        stmt = (
            stmt.add_columns(func.count(Student.id))
            .outerjoin(Student, and_(Student.school_id == School.id, Student.status == "enrolled"))
            .group_by(School.id, School.code, School.name, School.type, School.stage)
        )
    if district_id is not None:
        stmt = stmt.where(School.district_id == district_id)
    return {
        row[0]: SchoolInfo(row[0], row[1], row[2], row[3], row[4], row[5] if with_enrolled else 0)
        for row in db.execute(stmt)
    }


def _in_district(district_id: int | None) -> Any:
    """Campaigns of the district: linked to one of its schools, or to no school at all (every school)."""
    if district_id is None:
        return Campaign.id.is_not(None)
    return or_(
        Campaign.id.in_(
            select(campaign_schools.c.campaign_id)
            .join(School, School.id == campaign_schools.c.school_id)
            .where(School.district_id == district_id)
        ),
        ~Campaign.id.in_(select(campaign_schools.c.campaign_id)),
    )


def district_name(db: Session, district_id: int | None) -> str | None:
    """The district's name (the supervision report's heading); None for an officer of every district."""
    if district_id is None:
        return None
    return db.execute(select(District.name).where(District.id == district_id)).scalar_one_or_none()


def list_terms(db: Session, district_id: int | None) -> list[str]:
    """Terms that have a campaign, oldest first."""
    stmt = select(Campaign.term, func.min(Campaign.starts_on)).where(
        Campaign.status != "draft", _in_district(district_id)
    )
    rows = db.execute(stmt.group_by(Campaign.term).order_by(func.min(Campaign.starts_on), Campaign.term)).all()
    return [row[0] for row in rows]


def list_campaigns(db: Session, district_id: int | None, term: str | None = None) -> list[tuple[int, str, str]]:
    """(id, name, term) of the district's campaigns that are not drafts, newest first."""
    stmt = select(Campaign.id, Campaign.name, Campaign.term).where(
        Campaign.status != "draft", _in_district(district_id)
    )
    if term:
        stmt = stmt.where(Campaign.term == term)
    stmt = stmt.order_by(Campaign.starts_on.desc(), Campaign.id.desc())
    return [(row[0], row[1], row[2]) for row in db.execute(stmt)]


def resolve_selection(db: Session, district_id: int | None, selection: Selection) -> Selection:
    """Fill in a default (the latest term) and drop a campaign id that does not exist."""
    if selection.campaign_id is not None:
        ids = {cid for cid, _, _ in list_campaigns(db, district_id)}
        if selection.campaign_id in ids:
            return Selection(None, selection.campaign_id)
    terms = list_terms(db, district_id)
    if selection.term in terms:
        return Selection(selection.term, None)
    return Selection(terms[-1] if terms else None, None)


def load_context(db: Session, district_id: int | None, selection: Selection) -> Context:
    schools = district_schools(db, district_id)
    stmt = (
        select(Campaign.id, Campaign.status, Campaign.closed_at)
        .where(Campaign.status != "draft", _in_district(district_id))
        .order_by(Campaign.id)
    )
    if selection.campaign_id is not None:
        stmt = stmt.where(Campaign.id == selection.campaign_id)
    else:
        stmt = stmt.where(Campaign.term == (selection.term or ""))
    campaign_rows = db.execute(stmt).all()
    campaign_ids = [row[0] for row in campaign_rows]
    closed_stamp = None
    if campaign_rows and all(row[1] == "closed" for row in campaign_rows):
        closed_stamp = ";".join(f"{cid}@{closed.isoformat() if closed else '-'}" for cid, _, closed in campaign_rows)
    links: dict[int, set[int]] = defaultdict(set)
    ranges: dict[int, list[tuple[int, int]]] = defaultdict(list)
    instruments: set[str] = set()
    if campaign_ids:
        for cid, sid in db.execute(
            select(campaign_schools.c.campaign_id, campaign_schools.c.school_id).where(
                campaign_schools.c.campaign_id.in_(campaign_ids)
            )
        ):
            links[cid].add(sid)
        for cid, instrument, g_from, g_to in db.execute(
            select(
                CampaignInstrument.campaign_id,
                CampaignInstrument.instrument_id,
                CampaignInstrument.grade_from,
                CampaignInstrument.grade_to,
            ).where(CampaignInstrument.campaign_id.in_(campaign_ids))
        ):
            ranges[cid].append((g_from, g_to))
            instruments.add(instrument)
    eligible: dict[int, set[int]] = defaultdict(set)
    for cid in campaign_ids:
        targets = links.get(cid) or set(schools)
        grades = {g for lo, hi in ranges.get(cid, [(1, 9)]) for g in range(lo, hi + 1)}
        for sid in targets:
            if sid in schools:
                eligible[sid] |= grades
    return Context(schools, campaign_ids, dict(eligible), sorted(instruments), closed_stamp)
