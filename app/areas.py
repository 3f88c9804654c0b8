"""What each area contributes to the app, declared once, and the per-app wiring built from those declarations.

Every area (app/<area>/) states in its `area.py` one `AREA = Area(...)`: its blueprint, the navigation items of
each role, the home page of a role, its sections of the student file, its steps of the demo district, badge
counts, signal receivers and CLI commands. (Scheduled jobs are not wiring: an area's `tasks.py` declares them and
app/scheduler/jobs.py collects them by explicit import, since the scheduler process runs them, not the web app.)
`create_app` (app/__init__.py) installs the areas in order and keeps what they contribute in
`app.extensions["xinmiao_wiring"]` (a `Wiring`), so two apps in one process never share a list, and nothing
registers itself into a module global at import time.

Readers take the wiring of the current app: `wiring().nav`, `wiring().file_sections`, `wiring().badges`...
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, current_app

if TYPE_CHECKING:
    import click
    from blinker import Signal
    from markupsafe import Markup

    from app.demo import DemoContext

WIRING_KEY = "xinmiao_wiring"


@dataclass(frozen=True)
class NavItem:
    """A link in the top navigation, shown to the given roles, left to right by `order`."""

    endpoint: str
    label: Any  # a lazy gettext string
    roles: tuple[str, ...]
    order: int = 50


@dataclass(frozen=True)
class FileSection:
    """A part of the counselor's student file (app/student_file.py): `render(student, reader, user)` returns its
    own HTML, or None to show nothing. Orders: screenings 20, warnings 30, case 40, rechecks 50, check-ins 60."""

    order: int
    render: Callable[[Any, Any, Any], Markup | None]

    @property
    def name(self) -> str:
        return f"{self.render.__module__}.{self.render.__qualname__}"


@dataclass(frozen=True)
class DemoStep:
    """A step of `flask demo seed`: `run(ctx)` adds the area's demo data and returns a one-line summary.
    Orders: roster 10, screenings 20, care 30, rechecks 40. `each_term`: run once per term of the demo's history,
    with `ctx.term` set and the clock at that term (app/demo/__init__.py)."""

    order: int
    run: Callable[[DemoContext], str]
    each_term: bool = False

    @property
    def name(self) -> str:
        return f"{self.run.__module__}.{self.run.__qualname__}"


@dataclass(frozen=True)
class Area:
    """One area's contribution. Only `name` is required; every other slot is empty by default."""

    name: str
    blueprint: Blueprint | None = None
    url_prefix: str | None = None
    nav: tuple[NavItem, ...] = ()
    home: Mapping[str, str] = field(default_factory=dict)  # role -> endpoint of that role's home page
    file_sections: tuple[FileSection, ...] = ()
    demo_steps: tuple[DemoStep, ...] = ()
    badges: tuple[Callable[[Any], int], ...] = ()  # fn(user) -> count, summed beside "Notifications"
    receivers: tuple[tuple[Signal, Callable[..., Any]], ...] = ()  # (signal, receiver): flush only
    cli: tuple[click.Command, ...] = ()
    setup: Callable[[Flask], None] | None = None  # what is not a declaration: template filters, limiters...


@dataclass(frozen=True)
class Wiring:
    """Everything the installed areas contribute, merged (and sorted where order matters)."""

    areas: tuple[Area, ...]
    nav: tuple[NavItem, ...]
    home: Mapping[str, str]
    file_sections: tuple[FileSection, ...]
    demo_steps: tuple[DemoStep, ...]
    badges: tuple[Callable[[Any], int], ...]

    @classmethod
    def of(cls, areas: Iterable[Area]) -> Wiring:
        areas = tuple(areas)
        names = [a.name for a in areas]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"areas declared twice: {', '.join(duplicates)}")
        home: dict[str, str] = {}
        for area in areas:
            for role, endpoint in area.home.items():
                if role in home:
                    raise ValueError(f"two home pages for role {role!r}: {home[role]} and {endpoint}")
                home[role] = endpoint
        return cls(
            areas=areas,
            nav=tuple(sorted((i for a in areas for i in a.nav), key=lambda i: i.order)),
            home=home,
            file_sections=tuple(sorted((s for a in areas for s in a.file_sections), key=lambda s: s.order)),
            demo_steps=tuple(sorted((s for a in areas for s in a.demo_steps), key=lambda s: s.order)),
            badges=tuple(b for a in areas for b in a.badges),
        )

    def plus(self, *areas: Area) -> Wiring:
        """The same wiring with more areas' declarations (tests add a section or a step this way)."""
        return Wiring.of(self.areas + areas)

    def nav_for(self, role: str) -> list[NavItem]:
        return [item for item in self.nav if role in item.roles]


def install(app: Flask, areas: Iterable[Area]) -> Wiring:
    """Register each area on `app` (blueprint, CLI, signal receivers, setup) and keep their wiring on it."""
    import click

    areas = tuple(areas)
    built = Wiring.of(areas)
    for area in areas:
        if area.blueprint is not None:
            app.register_blueprint(area.blueprint, url_prefix=area.url_prefix)
        for command in area.cli:
            existing = app.cli.commands.get(command.name or "")
            if existing is None:
                app.cli.add_command(command)
            elif existing is not command and isinstance(existing, click.Group) and isinstance(command, click.Group):
                # two areas share a group name (`flask district set` is setup, `flask district refresh-rollups`
                # statistics): one group holds the commands of both
                for sub in command.commands.values():
                    existing.add_command(sub)
        for signal, receiver in area.receivers:
            signal.connect(receiver, weak=False)  # blinker keeps one connection per receiver, however many apps
        if area.setup is not None:
            area.setup(app)
    app.extensions[WIRING_KEY] = built
    return built


def wiring(app: Flask | None = None) -> Wiring:
    """The wiring of `app` (default: the current app)."""
    return (app or current_app).extensions[WIRING_KEY]
