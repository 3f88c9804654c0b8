"""Factory helpers: `factory.student(school=..., groups=["left_behind"])` and friends.

Identity is sealed through the real Vault, exactly as the app does it.
"""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session

from models import Actor, District, School, SchoolClass, Student, User
from models.crypto import KeyRing
from models.vault import Vault

PASSWORD = "correct horse 1"
_seq = itertools.count(1)


@lru_cache(maxsize=8)
def password_hash(password: str) -> str:
    from app.auth.service import hash_password

    return hash_password(password)


class Factory:
    PASSWORD = PASSWORD

    def __init__(self, session: Session, keyring: KeyRing):
        self.session = session
        self.keyring = keyring
        self.actor = Actor.system("tests")
        self.vault = Vault(session, keyring, self.actor)
        self._district: District | None = None

    def district(self) -> District:
        if self._district is None:
            self._district = District(code=f"D{next(_seq)}", name="测试区")
            self.session.add(self._district)
            self.session.flush()
        return self._district

    def school(
        self, code: str | None = None, name: str | None = None, type: str = "urban", stage: str = "nine_year"
    ) -> School:
        n = next(_seq)
        school = School(
            district=self.district(), code=code or f"S{n:04d}", name=name or f"测试学校{n}", type=type, stage=stage
        )
        self.session.add(school)
        self.session.flush()
        return school

    def klass(
        self, school: School | None = None, grade: int = 7, name: str | None = None, year: str = "2026-2027"
    ) -> SchoolClass:
        school = school or self.school()
        klass = SchoolClass(school=school, grade=grade, name=name or f"{grade}年级({next(_seq)})班", school_year=year)
        self.session.add(klass)
        self.session.flush()
        return klass

    def student(
        self,
        school: School | None = None,
        klass: SchoolClass | None = None,
        name: str | None = None,
        number: str | None = None,
        grade: int | None = None,
        gender: str = "F",
        birth_ym: str = "2013-05",
        groups: Iterable[str] = (),
        guardians: list[dict[str, str]] | None = None,
        national_id: str | None = None,
        status: str = "enrolled",
    ) -> Student:
        if klass is None:
            klass = self.klass(school, grade=grade or 7)
        school = school or klass.school
        n = next(_seq)
        student = Student(
            school_id=school.id,
            class_id=klass.id,
            grade=grade or klass.grade,
            gender=gender,
            birth_ym=birth_ym,
            status=status,
        )
        student.school = school
        student.school_class = klass
        self.session.add(student)
        self.vault.seal_identity(
            student,
            name=name or f"学生{n}",
            student_number=number or f"G{3100000000 + n:010d}",
            national_id=national_id,
            guardians=guardians
            if guardians is not None
            else [{"name": f"家长{n}", "relation": "母亲", "phone": f"139{n:08d}"}],
        )
        student.set_care_groups(list(groups))
        self.session.flush()
        return student

    def user(
        self,
        role: str = "counselor",
        username: str | None = None,
        schools: Iterable[School] = (),
        classes: Iterable[SchoolClass] = (),
        password: str = PASSWORD,
        active: bool = True,
        email: str | None = None,
        display_name: str | None = None,
    ) -> User:
        n = next(_seq)
        user = User(
            username=username or f"{role}{n}",
            display_name=display_name or f"{role} {n}",
            password_hash=password_hash(password),
            role=role,
            active=active,
            email=email,
            district_id=self.district().id,
        )
        self.session.add(user)
        self.session.flush()
        # clinical access through the one mechanism (app/admin/grants.py), recorded as approved by the factory
        from app.admin.grants import record_approved

        for school in schools:
            record_approved(self.session, self.actor, user, school=school, reason="test fixture")
        for klass in classes:
            record_approved(self.session, self.actor, user, klass=klass, reason="test fixture")
        return user

    def counselor(self, *schools: School, **kw: Any) -> User:
        return self.user("counselor", schools=schools or (self.school(),), **kw)

    def head_teacher(self, *classes: SchoolClass, **kw: Any) -> User:
        return self.user("head_teacher", classes=classes or (self.klass(),), **kw)

    def school_leader(self, school: School | None = None, **kw: Any) -> User:
        """A school leader of one school: the user-school link set at once, as the admin service does (figures
        of one school are not clinical access: no grant)."""
        user = self.user("school_leader", **kw)
        user.schools = [school or self.school()]
        self.session.flush()
        return user
