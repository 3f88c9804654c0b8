"""Command line for operators and checks.

    python -m screening list
    python -m screening show ID
    python -m screening score ID V1 V2 … [--groups left_behind,migrant] [--policy PATH] [--instruments DIR]

Answers are given in item order, ``-`` for an unanswered item, yes/no as 1/0 (``phqa``: items 1–9, then past-year
low mood, difficulty, past-month serious thoughts, ever attempted). ``score`` prints one JSON object: the Result
keys plus ``suggested_level`` and ``level_reasons``. Exit status: 0 for a scored form; 3 for a form that could
not be scored (incomplete, void: the JSON is still printed, with its warning level and the reason); 2 for bad
input (a message naming the item, an unknown instrument or an unknown care group naming the valid codes).
The policy is the file given with ``--policy``, by default the repository's ``config/warning_policy.yaml`` as
seen from the current directory (run it from the repository); the engine itself knows no default.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .errors import AnswerError, DefinitionError, UnknownInstrument
from .registry import get_instrument, list_instruments, use_instrument_dirs
from .scoring import score
from .warning import load_policy, suggest_level


def _parse_answer(token: str, item: int) -> int | None:
    if token == "-":
        return None
    try:
        return int(token)
    except ValueError:
        raise AnswerError(item, f"item {item}: {token!r} is not a number (use - for an unanswered item)") from None


EXIT_BAD_INPUT = 2
EXIT_NOT_SCORED = 3
DEFAULT_POLICY = "config/warning_policy.yaml"  # relative to the current directory: the repository's file


def result_json(instrument_id: str, answers: Sequence[int | None], groups: Sequence[str] = (),
                policy_path: str = DEFAULT_POLICY, grade: int | None = None, sex: str | None = None) -> dict[str, Any]:
    """What `score` prints, as a dict (the CLI and the tests share this)."""
    result = score(instrument_id, answers, grade=grade, sex=sex)
    level, reasons = suggest_level([result], groups, load_policy(policy_path))
    out = result.to_dict()
    out["suggested_level"] = level
    out["level_reasons"] = reasons
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screening", description="心苗 screening engine")
    parser.add_argument("--instruments", action="append", default=[], metavar="DIR",
                        help="also load the instrument definitions in DIR (repeatable)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="each instrument id, name and item count")
    p_show = sub.add_parser("show", help="one instrument's items, answer options and settings as JSON")
    p_show.add_argument("instrument")
    p_score = sub.add_parser("score", help="score one form and suggest a warning level")
    p_score.add_argument("instrument")
    p_score.add_argument("answers", nargs="*", help="answers in item order; - for unanswered")
    p_score.add_argument("--groups", default="", help="care groups, comma-separated (e.g. left_behind,migrant)")
    p_score.add_argument("--policy", default=DEFAULT_POLICY, help=f"warning policy file (default {DEFAULT_POLICY})")
    p_score.add_argument("--grade", type=int, help="the student's grade (norm-referenced instruments)")
    p_score.add_argument("--sex", choices=("male", "female"), help="the student's sex (norm-referenced instruments)")
    args = parser.parse_args(argv)
    use_instrument_dirs(args.instruments)

    try:
        if args.command == "list":
            for inst in list_instruments():
                extra = len(inst.items) - inst.scored_item_count
                count = f"{len(inst.items)} items"
                if extra:
                    count += f" ({inst.scored_item_count} scored + {extra} extra)"
                print(f"{inst.id}\t{inst.name['en']} / {inst.name['zh']}\t{count}")
            return 0
        if args.command == "show":
            json.dump(get_instrument(args.instrument).to_dict(), sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return 0
        get_instrument(args.instrument)
        answers = [_parse_answer(tok, i) for i, tok in enumerate(args.answers, start=1)]
        groups = [g.strip() for g in args.groups.split(",") if g.strip()]
        out = result_json(args.instrument, answers, groups, args.policy, args.grade, args.sex)
    except AnswerError as exc:
        print(f"error: {args.instrument}: {exc}", file=sys.stderr)
        return 2
    except (UnknownInstrument, DefinitionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(out, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    if not out["valid"]:
        print(f"warning: {args.instrument}: the form could not be scored ({out['reason']}); "
              f"suggested level {out['suggested_level']}", file=sys.stderr)
        return EXIT_NOT_SCORED
    return 0


if __name__ == "__main__":
    sys.exit(main())
