"""Where instruments come from: the shipped definitions in ``screening/instruments/`` plus any directories the
caller names with ``use_instrument_dirs(dirs)`` (a district's instruments it holds a licence for; the app reads
them from its setting XINMIAO_INSTRUMENT_DIRS in config/ and passes them at start).

Definitions are read and compiled once per process and cached (an instrument is the same questionnaire for every
app of a process); ``reload_instruments()`` drops the cache.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from .definition import Instrument, load_definition
from .errors import DefinitionError, UnknownInstrument

BUILTIN_DIR = Path(__file__).resolve().parent / "instruments"
_SUFFIXES = (".yaml", ".yml", ".json")

_lock = threading.Lock()
_cache: dict[str, Instrument] | None = None
_extra_dirs: tuple[Path, ...] = ()


def _directories() -> list[Path]:
    return [BUILTIN_DIR, *_extra_dirs]


def use_instrument_dirs(dirs: Iterable[str | Path]) -> None:
    """Also load the definitions in `dirs` (after the shipped ones); the cache is dropped when the list changes."""
    global _extra_dirs
    wanted = tuple(Path(d) for d in dirs)
    if wanted != _extra_dirs:
        with _lock:
            _extra_dirs = wanted
        reload_instruments()


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
                        raise DefinitionError(
                            f"{inst.path}: id: {inst_id!r} is already defined by {loaded[inst_id].path}")
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
    """Forget the cache (after a district adds a definition file)."""
    global _cache
    with _lock:
        _cache = None
