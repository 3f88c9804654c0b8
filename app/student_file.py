"""The counselor's student file (学生心理档案) is assembled from sections that areas register.

The roster area owns the page (`/students/<public_id>`): it loads the student in scope, writes the ONE access
audit event through `Vault.reveal(student, "student.view")`, and renders identity and care groups. Other areas
add their part (screenings and trend charts, warnings and history, the case and its timeline, rechecks) with
`register_file_section(order, fn)`, where `fn(student, reader, user) -> Markup | None` renders its own template
using the given `reader` (never opening a second audit event). Orders: screenings 20, warnings 30, case 40,
rechecks 50, check-ins 60.
"""
from __future__ import annotations

from typing import Any, Callable

from markupsafe import Markup

SectionFn = Callable[[Any, Any, Any], "Markup | None"]
FILE_SECTIONS: list[tuple[int, str, SectionFn]] = []


def register_file_section(order: int, fn: SectionFn) -> None:
    name = f"{fn.__module__}.{fn.__name__}"
    if not any(existing == name for _, existing, _ in FILE_SECTIONS):
        FILE_SECTIONS.append((order, name, fn))
        FILE_SECTIONS.sort(key=lambda item: item[0])


def render_sections(student: Any, reader: Any, user: Any) -> list[Markup]:
    out = []
    for _, _, fn in FILE_SECTIONS:
        html = fn(student, reader, user)
        if html:
            out.append(html)
    return out
