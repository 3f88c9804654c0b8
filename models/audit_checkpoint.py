"""Signed checkpoints of the audit chain: the chain anchored outside the database.

The hash chain (models/audit.py) shows that no event was edited or removed *between* the first event and the
head. It cannot show that the head itself was not rewound — delete the last events and set the head back, or
empty both tables — because nothing inside the database remembers what the head was. A checkpoint does:

    {"v": 1, "at": "<UTC ISO time>", "count": N, "seq": <last seq>, "head": "<hash of that event>",
     "key": <master key version>, "mac": "<HMAC-SHA-256 hex>"}

`count` is how many linked events the chain held, `seq` the chain position (`chain_seq`) of its last event and
`head` that event's hash; events not linked yet are not part of a checkpoint. The MAC covers every other field
(canonical JSON) under `KeyRing.purpose_key("audit-checkpoint", key)`, derived from the master key (HKDF,
`info = xinmiao/purpose/v1/audit-checkpoint`): whoever holds the database but not the master key cannot write
or edit a checkpoint. The app writes them to a sink outside the database (app/audit/checkpoints.py: a file of
JSON lines, optionally syslog).

`compare` checks a chain against checkpoints: fewer events than a checkpoint recorded, an event at a
checkpointed seq whose hash differs, a different number of events up to that seq, a bad MAC, checkpoints out of
order. It reads only counts and hashes of stored events (`chain_tip`, `hashes_at`), never how they were
appended, so it is independent of the append protocol.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .audit import GENESIS, AuditEvent
from .crypto import CryptoError, KeyRing

PURPOSE = "audit-checkpoint"
FORMAT = 1
_FIELDS = ("v", "at", "count", "seq", "head", "key")


class CheckpointError(Exception):
    """A checkpoint line that is not one, or whose signature does not verify."""


@dataclass(frozen=True)
class Tip:
    """The chain as stored: how many events, the last one's seq and hash (0, 0, GENESIS when empty)."""

    count: int
    seq: int
    head: str


@dataclass(frozen=True)
class Checkpoint:
    at: datetime
    count: int
    seq: int
    head: str
    key: int
    mac: str = ""

    def fields(self) -> dict[str, Any]:
        return {"v": FORMAT, "at": self.at.isoformat(), "count": self.count, "seq": self.seq, "head": self.head,
                "key": self.key}

    def line(self) -> str:
        """The JSON line written to the sink (without the newline)."""
        return json.dumps({**self.fields(), "mac": self.mac}, sort_keys=True, separators=(",", ":"))


def _mac(keyring: KeyRing, fields: dict[str, Any], version: int) -> str:
    key, _ = keyring.purpose_key(PURPOSE, version)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hmac.new(key, canonical.encode("ascii"), hashlib.sha256).hexdigest()


def sign(keyring: KeyRing, tip: Tip, at: datetime) -> Checkpoint:
    """A checkpoint of `tip`, signed under the current master key version."""
    unsigned = Checkpoint(at=at, count=tip.count, seq=tip.seq, head=tip.head, key=keyring.current_version)
    return replace(unsigned, mac=_mac(keyring, unsigned.fields(), unsigned.key))


def parse(keyring: KeyRing, line: str) -> Checkpoint:
    """A checkpoint line, checked: its fields and its MAC. CheckpointError says what is wrong."""
    try:
        data = json.loads(line)
    except ValueError:
        raise CheckpointError("is not JSON") from None
    if not isinstance(data, dict) or set(data) != {*_FIELDS, "mac"}:
        raise CheckpointError("does not have the fields of a checkpoint")
    if data["v"] != FORMAT:
        raise CheckpointError(f"has an unknown format {data['v']!r}")
    try:
        at = datetime.fromisoformat(data["at"])
        count, seq, key = (int(data[k]) for k in ("count", "seq", "key"))
        head, mac = str(data["head"]), str(data["mac"])
        if not all(type(data[k]) is int for k in ("count", "seq", "key")) or min(count, seq) < 0:
            raise ValueError
    except (TypeError, ValueError):
        raise CheckpointError("has a malformed field") from None
    if at.tzinfo is None:
        raise CheckpointError("has a time without a time zone")
    checkpoint = Checkpoint(at=at, count=count, seq=seq, head=head, key=key, mac=mac)
    try:
        expected = _mac(keyring, checkpoint.fields(), key)
    except CryptoError:
        raise CheckpointError(f"is signed with master key version {key}, which the key ring does not hold") from None
    if not hmac.compare_digest(expected, mac):
        raise CheckpointError("has a signature that does not match: a forged or edited checkpoint")
    return checkpoint


def chain_tip(session: Session) -> Tip:
    """The stored chain's last linked event and the number of linked events up to it, read in one consistent way:
    the newest linked event first, then the count of events up to its position (later links do not change it)."""
    last = session.execute(select(AuditEvent.chain_seq, AuditEvent.hash).where(AuditEvent.chain_seq.is_not(None))
                           .order_by(AuditEvent.chain_seq.desc()).limit(1)).first()
    if last is None:
        return Tip(0, 0, GENESIS)
    seq, head = last
    count = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.chain_seq <= seq)) or 0
    return Tip(int(count), int(seq), str(head))


def hashes_at(session: Session, seqs: Iterable[int], batch: int = 1000) -> dict[int, str]:
    wanted = sorted(set(seqs))
    out: dict[int, str] = {}
    for i in range(0, len(wanted), batch):
        chunk = wanted[i:i + batch]
        out.update((int(s), str(h)) for s, h in session.execute(
            select(AuditEvent.chain_seq, AuditEvent.hash).where(AuditEvent.chain_seq.in_(chunk))))
    return out


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based line of the sink, 0 for the chain as a whole
    message: str


def compare(session: Session, checkpoints: Sequence[tuple[int, Checkpoint]]) -> list[Problem]:
    """What is wrong with the stored chain given the (line number, checkpoint) pairs, oldest first; [] if it
    agrees with every one of them. The newest checkpoint is also checked for the number of events up to its seq;
    the others for the hash at their seq (the hash chain ties every earlier event to a matching head)."""
    problems: list[Problem] = []
    if not checkpoints:
        return problems
    for (_, before), (line, after) in zip(checkpoints, checkpoints[1:], strict=False):
        if after.count < before.count or after.seq < before.seq:
            problems.append(Problem(line, f"checkpoint of {after.at.isoformat()} ({after.count} events) is older "
                                          f"than the checkpoint before it ({before.count} events)"))
    tip = chain_tip(session)
    line, latest = checkpoints[-1]
    if tip.count < latest.count:
        what = "the audit log is empty" if tip.count == 0 else f"the chain holds {tip.count} events"
        problems.append(Problem(line, f"{what} but the checkpoint of {latest.at.isoformat()} recorded "
                                      f"{latest.count}: events were deleted (tail truncated or log wiped)"))
    found = hashes_at(session, [cp.seq for _, cp in checkpoints if cp.count])
    for number, cp in checkpoints:
        if not cp.count:
            continue
        stored = found.get(cp.seq)
        if stored is None:
            problems.append(Problem(number, f"event {cp.seq}, the head of the checkpoint of {cp.at.isoformat()} "
                                            f"({cp.count} events), is missing"))
        elif stored != cp.head:
            problems.append(Problem(number, f"event {cp.seq} does not have the hash checkpointed at "
                                            f"{cp.at.isoformat()}: the chain was rewritten"))
    if latest.count:
        upto = session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.chain_seq <= latest.seq)) or 0
        if upto != latest.count and tip.count >= latest.count:
            problems.append(Problem(line, f"{upto} events up to event {latest.seq}, but the checkpoint of "
                                          f"{latest.at.isoformat()} recorded {latest.count}"))
    return problems


def extends(tip: Tip, previous: Checkpoint, session: Session) -> bool:
    """Whether the chain now stored still contains the state `previous` recorded (same hash at its seq, at least
    as many events): the scheduler writes a new checkpoint only then, so a rewound chain is never anchored."""
    if tip.count < previous.count or tip.seq < previous.seq:
        return False
    if not previous.count:
        return True
    return hashes_at(session, [previous.seq]).get(previous.seq) == previous.head
