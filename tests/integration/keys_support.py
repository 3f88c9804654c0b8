"""Helpers shared by the issue-3 tests (keys, erasure, raw scans): seed students with every kind of sealed value,
tamper with rows behind the ORM's back, and build a CLI-capable app on a key file."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from models import CaseEntry, Screening, Student, Warning, WarningChange
from models.crypto import KeyRing
from tests.factories import Factory

NAMES = ["欧阳晓雯", "司马振华", "诸葛明月", "慕容秋实", "上官雨桐", "皇甫嘉懿"]


@dataclass
class Seeded:
    students: list[Student] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    entries: list[CaseEntry] = field(default_factory=list)

    def secrets(self) -> list[str]:
        return self.names + self.numbers + self.phones + self.notes


def seed_sealed(session: Session, keyring: KeyRing, count: int = 4, tag: str = "") -> Seeded:
    """Students with names, numbers, guardian phones, plus sealed notes: a case entry, a warning-change reason,
    and screening answers (which include a free-text answer)."""
    f = Factory(session, keyring)
    school = f.school()
    klass = f.klass(school)
    out = Seeded()
    for i in range(count):
        name = NAMES[i % len(NAMES)] + tag + (str(i) if i >= len(NAMES) else "")
        number = f"G44030{i:02d}7{len(tag):02d}913{i}"
        phone = f"1375{i:03d}8642"
        student = f.student(
            klass=klass,
            name=name,
            number=number,
            guardians=[{"name": name[:2] + "妈妈", "relation": "母亲", "phone": phone}],
        )
        note = f"访谈记录{tag}{i}：她说最近总是失眠，想念在外打工的父亲"
        reason = f"班主任观察{tag}{i}：课间独处哭泣"
        answer = f"我觉得没有人在乎我{tag}{i}"
        entry = CaseEntry(student_id=student.id, kind="interview", occurred_on=date(2026, 11, 2))
        f.vault.seal_into(entry, "note", note, student=student)
        session.add(entry)
        screening = Screening(
            student_id=student.id, school_id=school.id, class_id=klass.id, grade=student.grade, instrument_id="phq9",
            instrument_version="1", mode="self", administered_on=date(2026, 11, 1), valid=True, total=17,
            band="moderately_severe", positive=True, suggested_level="L2",
        )
        f.vault.seal_into(screening, "answers", {"items": [3, 2, 2, 3], "free_text": answer}, student=student)
        session.add(screening)
        session.flush()
        warning = Warning(student_id=student.id, school_id=school.id, screening_id=screening.id, suggested_level="L2")
        session.add(warning)
        session.flush()
        change = WarningChange(warning_id=warning.id, student_id=student.id, action="confirmed", to_level="L2")
        f.vault.seal_into(change, "reason", reason, student=student)
        session.add(change)
        session.flush()
        out.students.append(student)
        out.names.append(name)
        out.numbers.append(number)
        out.phones.append(phone)
        out.notes.extend([note, reason, answer])
        out.entries.append(entry)
    return out


def raw_update(session: Session, model: Any, pk: Any, **values: Any) -> None:
    """Write columns with a Core UPDATE (behind the ORM) and forget the cached object state."""
    session.execute(update(model).where(model.id == pk).values(**values))
    session.expire_all()


def key_file_for(keyring: KeyRing, directory: Path) -> Path:
    path = directory / "keys.json"
    keyring.save(path)
    return path


def key_file_versions(path: Path) -> list[int]:
    return sorted(int(v) for v in json.loads(path.read_text())["master"])


def disable_audit_triggers(session: Session) -> None:
    """Tampering as a database superuser would: switch off the append-only triggers (inside the test's
    transaction, so they are back after the rollback)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    else:
        session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
