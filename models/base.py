"""Declarative base, naming convention and small column helpers shared by every model."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime, Dialect, MetaData, String, Table, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from . import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Column markings (`mapped_column(..., info=IDENTITY)`): what a column holds that no aggregate-only reader (the
# district area) may read. IDENTITY: who a child is or a handle on one (sealed names and numbers, their blind
# indexes, public ids and record uids); CLINICAL: what a child answered or what staff wrote about a child
# (answers, scores, notes, plans, reasons); KEY: wrapped data keys. `sensitive_columns()` lists them;
# tests/integration/test_district_privacy.py fails when a district statement reads one.
IDENTITY = {"sensitive": "identity"}
CLINICAL = {"sensitive": "clinical"}
KEY = {"sensitive": "key"}


def sensitive_columns(metadata: MetaData) -> dict[tuple[str, str], str]:
    """(table, column) -> kind of every column marked IDENTITY, CLINICAL or KEY in `metadata`."""
    return {
        (table.name, column.name): column.info["sensitive"]
        for table in metadata.tables.values()
        for column in table.columns
        if "sensitive" in column.info
    }


def utcnow() -> datetime:
    """The current instant, aware UTC, from the one clock (models/clock.py; XINMIAO_NOW moves it)."""
    return clock.now()


def new_uid() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite hands back naive values, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use models.base.utcnow()")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class HasUid:
    """A random row id known before flush: sealed values bind to it in their associated data."""

    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid, info=IDENTITY)

    def ensure_uid(self) -> str:
        if not self.uid:
            self.uid = new_uid()
        return self.uid


def table_of(model: type[Base]) -> Table:
    """A declarative model's Table, for Core statements (`__table__` is typed as the wider FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
