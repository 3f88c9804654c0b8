"""District, schools, classes, students and users, with the scope rule beside the data.

A student's identity (name, student number, national id, guardians) is stored only sealed (see models.vault);
`*_bidx` columns hold truncated blind-index digests so exact search works without decrypting.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    and_,
    false,
    or_,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from .base import IDENTITY, KEY, Base, HasUid, UTCDateTime, utcnow

SCHOOL_TYPES = ("urban", "rural_small", "township_boarding", "other")
SCHOOL_STAGES = ("primary", "junior", "nine_year")
ROLES = ("admin", "district", "counselor", "head_teacher", "school_leader", "city")
GENDERS = ("M", "F")
STUDENT_STATUSES = ("enrolled", "transferred_out", "graduated", "left", "erased")


class City(Base):
    """A city education commission (市教委): its districts' figures compared, aggregates only (app/city/)."""

    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))

    districts: Mapped[list[District]] = relationship(back_populates="city", order_by="District.code")


class District(Base):
    __tablename__ = "districts"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"), index=True)

    schools: Mapped[list[School]] = relationship(back_populates="district")
    city: Mapped[City | None] = relationship(back_populates="districts")


class School(Base):
    __tablename__ = "schools"
    __table_args__ = (
        CheckConstraint("type IN ('urban','rural_small','township_boarding','other')", name="type"),
        CheckConstraint("stage IN ('primary','junior','nine_year')", name="stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    stage: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # how students reach the school's counselor: shown on every student's finish page and after a help request
    # (edited by the school's counselor, audited); staff contact details, not student data
    counselor_contact_name: Mapped[str | None] = mapped_column(String(60))
    counselor_room: Mapped[str | None] = mapped_column(String(60))
    counselor_hours: Mapped[str | None] = mapped_column(String(120))

    district: Mapped[District] = relationship(back_populates="schools")
    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school", order_by="SchoolClass.grade")

    @property
    def grades(self) -> range:
        return {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10)}[self.stage]


class SchoolClass(Base):
    """A class (班级). Named SchoolClass because `class` is a keyword."""

    __tablename__ = "classes"
    __table_args__ = (
        CheckConstraint("grade BETWEEN 1 AND 9", name="grade"),
        UniqueConstraint("school_id", "school_year", "name", name="uq_classes_school_year_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    grade: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(50))  # e.g. 七年级(3)班
    school_year: Mapped[str] = mapped_column(String(9))  # e.g. 2026-2027

    school: Mapped[School] = relationship(back_populates="classes")

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        if user.role == "counselor":
            return cls.school_id.in_(
                select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id))
        if user.role == "head_teacher":
            return cls.id.in_(select(teacher_classes.c.class_id).where(teacher_classes.c.user_id == user.id))
        return false()


class DataKey(Base):
    """A student's data key, stored only wrapped by a master key version. Destroying it erases the student."""

    __tablename__ = "data_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary, info=KEY)
    master_version: Mapped[int] = mapped_column(Integer, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Student(Base):
    __tablename__ = "students"
    __table_args__ = (
        CheckConstraint("grade BETWEEN 1 AND 9", name="grade"),
        CheckConstraint("gender IN ('M','F')", name="gender"),
        CheckConstraint(
            "status IN ('enrolled','transferred_out','graduated','left','erased')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()), info=IDENTITY)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"), index=True)
    grade: Mapped[int] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(1))
    birth_ym: Mapped[str] = mapped_column(String(7), info=IDENTITY)  # YYYY-MM: only year and month are kept
    status: Mapped[str] = mapped_column(String(20), default="enrolled")
    # The day the roster recorded the student leaving the district's schools (status graduated, left or
    # transferred_out); cleared when they are enrolled again. The basis of the retention period (models/retention.py).
    left_on: Mapped[date | None] = mapped_column(Date)
    data_key_id: Mapped[int | None] = mapped_column(ForeignKey("data_keys.id"))
    name_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=IDENTITY)
    student_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=IDENTITY)
    national_id_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=IDENTITY)
    # JSON list of {name, relation, phone}
    guardians_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=IDENTITY)
    name_bidx: Mapped[str | None] = mapped_column(String(16), index=True, info=IDENTITY)
    student_number_bidx: Mapped[str | None] = mapped_column(String(16), index=True, info=IDENTITY)
    # The blind-index key version every `*_bidx` of this row is computed under (`flask keys rotate-index`
    # recomputes the rows below the current version; lookups try every version the key ring holds).
    bidx_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    school: Mapped[School] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    data_key: Mapped[DataKey | None] = relationship()
    care_group_rows: Mapped[list[StudentCareGroup]] = relationship(
        cascade="all, delete-orphan", back_populates="student", lazy="selectin"
    )

    @property
    def care_groups(self) -> list[str]:
        return sorted(row.group for row in self.care_group_rows)

    def set_care_groups(self, groups: list[str] | set[str]) -> None:
        wanted = set(groups)
        self.care_group_rows = [r for r in self.care_group_rows if r.group in wanted] + [
            StudentCareGroup(group=g) for g in sorted(wanted - {r.group for r in self.care_group_rows})
        ]

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        """The one scope rule for student records: counselors see their schools (and the one student of each
        emergency access of theirs that has not expired), head teachers their classes.

        District officers and admins see no student rows at all (aggregates / setup only). An erased student
        (a tombstone, `flask students erase`) is nobody's: each of their pages, and each of their records' pages,
        answers 404, and no list shows them.
        """
        if not user.is_authenticated or not user.active:
            return false()
        if user.role == "counselor":
            mine = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
            # Emergency access (break the glass, app/emergency): one student, until the grant expires.
            emergency = select(EmergencyAccess.student_id).where(
                EmergencyAccess.user_id == user.id, EmergencyAccess.expires_at > utcnow())
            return and_(or_(cls.school_id.in_(mine), cls.id.in_(emergency)), cls.status != "erased")
        if user.role == "head_teacher":
            classes = select(teacher_classes.c.class_id).where(teacher_classes.c.user_id == user.id)
            return and_(cls.class_id.in_(classes), cls.status != "erased")
        return false()


class StudentOwned:
    """A record that belongs to one student (a screening, a warning, a case and its entries, a recheck, a
    check-in, a draft...): whoever may see the student may see it, nobody else. The scope is the student's
    (`Student.visible_to`); a record adds no rule of its own, so one check serves every record type.

    `Model.visible_to(user)` is a SQL condition: filter lists with it (`select(Warning).where(
    Warning.visible_to(user))`), and fetch one record with `app.security.get_visible_or_404`.
    """

    if TYPE_CHECKING:  # declared by each model as its foreign key (not mapped here)
        student_id: Mapped[int]

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        return cls.student_id.in_(select(Student.id).where(Student.visible_to(user)))


class StudentCareGroup(Base, StudentOwned):
    """Membership of a care group (left_behind, migrant, hardship, boarding; the set is the warning policy's
    care_groups, config/warning_policy.yaml)."""

    __tablename__ = "student_care_groups"

    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), primary_key=True)
    group: Mapped[str] = mapped_column(String(30), primary_key=True)

    student: Mapped[Student] = relationship(back_populates="care_group_rows")


counselor_schools = Table(
    "counselor_schools",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True),
)

teacher_classes = Table(
    "teacher_classes",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("class_id", ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin','district','counselor','head_teacher','school_leader','city')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    email: Mapped[str | None] = mapped_column(String(255))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id"))  # a city officer's city (role "city")
    full_time: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by logout, password change and disabling: every session carries it, a stale one is refused.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    locale: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Two-factor sign-in (app/auth/two_factor.py): the TOTP secret, sealed under the master key's purpose key
    # "totp-secret" of version `totp_key_version` (bound to the user id); `totp_enrolled_at` is set once the user
    # confirmed a code (a secret without it is an enrolment in progress); `totp_last_step` is the 30-second step of
    # the last code accepted, so a code is never accepted twice (replay).
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_key_version: Mapped[int | None] = mapped_column(Integer)
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # A counselor on the district's crisis team may ask for emergency access to a student of any school of the
    # district even without a school of their own (app/emergency); set by an admin, audited.
    crisis_team: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    schools: Mapped[list[School]] = relationship(secondary=counselor_schools, order_by="School.code")
    classes: Mapped[list[SchoolClass]] = relationship(secondary=teacher_classes, order_by="SchoolClass.name")

    # Flask-Login protocol, written out so models/ does not import Flask.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def school_ids(self) -> list[int]:
        return [s.id for s in self.schools]

    @property
    def class_ids(self) -> list[int]:
        return [c.id for c in self.classes]


class RecoveryCode(Base):
    """One single-use recovery code of a user's second factor, stored as an argon2 hash (like a password)."""

    __tablename__ = "user_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


EMERGENCY_REASONS = ("counselor_absent", "after_hours", "hospital_or_police", "guardian_call", "other")
EMERGENCY_VERDICTS = ("justified", "not_justified")


class EmergencyAccess(Base, HasUid):
    """Emergency access (break the glass): a counselor of the district, not the student's own, opened one
    student's file for a limited time after stating a reason and proving themself again (app/emergency).

    The scope rule reads it (`Student.visible_to`: the student, until `expires_at`); every page read under it is
    an `emergency.read` audit event naming this row's uid (models.vault); a reviewer (an admin or a district
    officer) records a verdict. Kept here, beside the scope rule, so the rule needs no import of its own.
    """

    __tablename__ = "emergency_accesses"
    __table_args__ = (
        CheckConstraint(
            "reason IN ('counselor_absent','after_hours','hospital_or_police','guardian_call','other')",
            name="reason"),
        CheckConstraint("verdict IS NULL OR verdict IN ('justified','not_justified')", name="verdict"),
        CheckConstraint("expires_at > granted_at", name="expires_after_granted"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(30))
    # the requester's own words: a justification, not a clinical note (the form asks for no name, no diagnosis)
    reason_text: Mapped[str] = mapped_column(String(500))
    factor: Mapped[str] = mapped_column(String(10))  # what re-authenticated the request: totp or password
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verdict: Mapped[str | None] = mapped_column(String(15))
    verdict_note: Mapped[str | None] = mapped_column(String(500))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_as: Mapped[str | None] = mapped_column(String(64))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    student: Mapped[Student] = relationship()
    school: Mapped[School] = relationship()
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
