"""心苗 screening engine: instrument definitions as data, exact scoring, explained warning levels.

Pure Python (standard library + a YAML reader): no Flask, no SQLAlchemy, no database, no environment. The
caller says where the policy and any extra instrument directories are (the app: config/, app/policies.py).

    >>> from screening import load_policy, score, suggest_level
    >>> r = score("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    >>> r.total, r.band, r.positive
    (8, 'mild', False)
    >>> suggest_level([r], ["left_behind"], load_policy("config/warning_policy.yaml"))[0]
    'care'
"""
from .definition import Band, Instrument, Item, load_definition
from .errors import AnswerError, DefinitionError, UnknownCareGroup, UnknownInstrument
from .registry import get_instrument, list_instruments, load_directory, reload_instruments, use_instrument_dirs
from .scoring import Result, SubscaleResult, score
from .warning import LEVELS, RANK, CareGroup, LevelInfo, Policy, load_policy, policy_from_dict, suggest_level

__all__ = [
    "LEVELS", "RANK", "AnswerError", "Band", "CareGroup", "DefinitionError", "Instrument", "Item", "LevelInfo",
    "Policy", "Result", "SubscaleResult", "UnknownCareGroup", "UnknownInstrument", "get_instrument", "list_instruments",
    "load_definition", "load_directory", "load_policy", "policy_from_dict", "reload_instruments", "score",
    "suggest_level", "use_instrument_dirs",
]
