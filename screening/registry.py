"""Where instruments come from: the shipped definitions in ``screening/instruments/`` plus any directories a
district lists in ``XINMIAO_INSTRUMENT_DIRS`` (os.pathsep-separated) for instruments it holds a licence for.

Definitions are read and compiled once per process and cached; ``reload_instruments()`` drops the cache.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from .definition import Instrument, load_definition
from .errors import DefinitionError, UnknownInstrument

BUILTIN_DIR = Path(__file__).resolve().parent / "instruments"
ENV_DIRS = "XINMIAO_INSTRUMENT_DIRS"
_SUFFIXES = (".yaml", ".yml", ".json")

_lock = threading.Lock()
_cache: dict[str, Instrument] | None = None


def _directories() -> list[Path]:
    dirs = [BUILTIN_DIR]
    for part in os.environ.get(ENV_DIRS, "").split(os.pathsep):
        if part.strip():
            dirs.append(Path(part.strip()))
    return dirs


def load_directory(directory: str | Path) -> dict[str, Instrument]:
    """Load every definition file in one directory (sorted by file name); ids must be unique."""
    found: dict[str, Instrument] = {}
    for path in sorted(Path(directory).iterdir()):
        if path.suffix not in _SUFFIXES or path.name.startswith((".", "_")):
            continue
        inst = load_definition(path)
        if path.stem != inst.id:
            raise DefinitionError(f"{path.name}: id: {inst.id!r} must match the file name {path.stem!r}")
        found[inst.id] = inst
    return found


def _load_all() -> dict[str, Instrument]:
    global _cache
    cache = _cache
    if cache is not None:
        return cache
    with _lock:
        if _cache is None:
            loaded: dict[str, Instrument] = {}
            for directory in _directories():
                for inst_id, inst in load_directory(directory).items():
                    if inst_id in loaded:
                        raise DefinitionError(f"{inst.path}: id: {inst_id!r} is already defined by {loaded[inst_id].path}")
                    loaded[inst_id] = inst
            _cache = loaded
        return _cache


def get_instrument(instrument_id: str) -> Instrument:
    try:
        return (_cache or _load_all())[instrument_id]
    except KeyError:
        known = ", ".join(sorted(_load_all()))
        raise UnknownInstrument(f"unknown instrument {instrument_id!r}; known: {known}") from None


def list_instruments() -> list[Instrument]:
    return sorted(_load_all().values(), key=lambda inst: inst.id)


def reload_instruments() -> None:
    """Forget the cache (after a district adds a definition file, or in tests that set XINMIAO_INSTRUMENT_DIRS)."""
    global _cache
    with _lock:
        _cache = None
