"""Every audit action the code writes has a translated label (app/audit/labels.py), so the audit page never
shows `case.entry_added` alone.

The actions are read from the code: the literal action of each `append_event(db, actor, "…")`,
`vault.reveal(student, "…")`, `vault.reveal_many(students, "…")` and of the helpers that pass an action on.
A call whose action is not a literal must be listed in DYNAMIC with the values it can take; a new one fails
until it is.
"""
from __future__ import annotations

import ast
from pathlib import Path

from app.audit.labels import ACTION_LABELS, AREA_LABELS

ROOT = Path(__file__).resolve().parents[2]

# function name -> index of the positional action argument
ACTION_ARG = {"append_event": 2, "reveal": 1, "reveal_many": 1, "_attach_students": 3, "_count_failure": 3,
              "Summary": 0, "_event": 2}

# (file, the action expression) -> the actions it can be: where a call passes on a variable or an f-string
DYNAMIC = {
    ("app/admin/service.py", "action"): {"user.enabled", "user.disabled"},
    ("app/admin/grants.py", "action"): set(),  # _event's parameter: its callers' literals are read
    ("app/auth/service.py", "action"): set(),  # _count_failure's parameter: its callers' literals are read
    ("app/auth/service.py", "f'auth.{reason}'"): {"auth.logout", "auth.logout_locked", "auth.idle"},
    ("app/care/queries.py", "action"): set(),  # _attach_students' parameter: its callers' literals are read
    ("app/care/warning_lifecycle.py", "f'warning.{action}'"): {"warning.raised", "warning.lowered",
                                                                "warning.confirmed"},
    ("app/screenings/submission.py", "summary.action"): set(),  # Summary(...)'s first argument, read
    ("models/vault.py", "action"): set(),  # reveal/reveal_many pass on their callers' literals, read
}


def _calls():
    for path in sorted([*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("models").rglob("*.py")]):
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if name not in ACTION_ARG:
                continue
            idx = ACTION_ARG[name]
            arg = node.args[idx] if len(node.args) > idx else None
            for kw in node.keywords:
                if kw.arg == "action":
                    arg = kw.value
            yield rel, node.lineno, arg


def written_actions() -> dict[str, str]:
    found: dict[str, str] = {}
    dynamic_seen = set()
    unknown = []
    for rel, lineno, arg in _calls():
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            found.setdefault(arg.value, f"{rel}:{lineno}")
            continue
        key = (rel, ast.unparse(arg) if arg is not None else "None")
        if key not in DYNAMIC:
            unknown.append(f"{rel}:{lineno}: {key[1]}")
            continue
        dynamic_seen.add(key)
        for action in DYNAMIC[key]:
            found.setdefault(action, f"{rel}:{lineno}")
    assert unknown == [], "audit actions that are not literals; list their values in DYNAMIC:\n" + "\n".join(unknown)
    assert dynamic_seen == set(DYNAMIC), f"stale DYNAMIC entries: {set(DYNAMIC) - dynamic_seen}"
    return found


def test_every_action_written_by_the_code_has_a_label():
    actions = written_actions()
    assert len(actions) > 60  # the reader found the calls
    missing = sorted(f"{where}: {action}" for action, where in actions.items() if action not in ACTION_LABELS)
    assert missing == [], "audit actions without a label in app/audit/labels.py:\n" + "\n".join(missing)


def test_every_label_is_of_an_action_the_code_writes_and_every_area_is_named():
    actions = written_actions()
    assert sorted(set(ACTION_LABELS) - set(actions)) == []
    assert {a.split(".", 1)[0] for a in ACTION_LABELS} <= set(AREA_LABELS)


def test_the_labels_are_in_chinese(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh"):
        untranslated = [a for a, label in ACTION_LABELS.items() if str(label) == label._args[0]]  # noqa: SLF001
    assert untranslated == []
