"""The keys area: key rotation, audit-chain and erasure commands (CLI only: key operations have no web page)."""
from app.areas import Area

from .cli import register_cli

AREA = Area("keys", setup=register_cli)  # setup: `students erase` joins another area's `students` group if any
