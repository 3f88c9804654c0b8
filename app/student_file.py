"""The counselor's student file (学生心理档案) is assembled from sections that areas register.

The roster area owns the page (`/students/<public_id>`): it loads the student in scope, writes the ONE access
audit event through `Vault.reveal(student, "student.view")`, and renders identity and care groups. Other areas
add their part (screenings and trend charts, warnings and history, the case and its timeline, rechecks) by
declaring `FileSection(order, fn)` in their `area.py` (app/areas.py), where `fn(student, reader, user) ->
Markup | None` renders its own template using the given `reader` (never opening a second audit event). Orders:
screenings 20, warnings 30, case 40, rechecks 50, check-ins 60.
"""
from __future__ import annotations

from typing import Any

from markupsafe import Markup

from app.areas import wiring


def render_sections(student: Any, reader: Any, user: Any) -> list[Markup]:
    out = []
    for section in wiring().file_sections:
        html = section.render(student, reader, user)
        if html:
            out.append(html)
    return out
