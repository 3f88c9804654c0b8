"""Every roster string has a Chinese translation, and the pages carry no untranslated English."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_file

from tests.conftest import login
from translations.build import merged_catalog

ROOT = Path(__file__).resolve().parents[2]
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None}


def _roster_msgids():
    for path in sorted((ROOT / "app" / "roster").glob("*.py")):
        for _, msgid, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
            yield path.name, msgid
    for path in sorted((ROOT / "templates" / "roster").glob("*.html")):
        for _, msgid, _, _ in extract_from_file("jinja2.ext:babel_extract", str(path), keywords=KEYWORDS):
            yield path.name, msgid


def test_every_roster_string_has_a_chinese_translation():
    catalog, _ = merged_catalog()
    found = list(_roster_msgids())
    assert len(found) > 50
    missing = [(name, msgid) for name, msgid in found if not (catalog.get(msgid) and catalog.get(msgid).string)]
    assert missing == []


def test_student_pages_switch_to_english(client, factory):
    school = factory.school()
    student = factory.student(school=school, groups=["migrant"])
    login(client, factory.counselor(school).username, factory.PASSWORD)
    from tests.conftest import post

    post(client, "/lang", {"lang": "en", "next": "/students"})
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    assert "Student number" in html and "Migrant child" in html and "Enrolled" in html
