"""The server's key for signed links (``incidents.share``): 32 random bytes in ``share.key``
in the data directory, created owner-only (0600) the first time a link is signed or checked,
and read from there by every process of the server.

The data directory is the SQLite database's; with PostgreSQL it is ``TOCSIN_DATA_DIR``
(``tocsin serve`` sets it to its ``--data-dir``, ``./data`` by default), and every server
process must see the same file. Without one (an in-memory database, PostgreSQL with no data
directory) there is no key: links are then plain (the API's incident URL, with a token).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from pathlib import Path

from sqlalchemy import Connection, Engine

from tocsin.store.schema import used_links

KEY_FILE = "share.key"
KEY_BYTES = 32
_cache: dict[Path, bytes] = {}  # by the key file's path
_known: dict[tuple[bool, str, str], bytes] = {}  # by (SQLite, file or directory, cwd)
_lock = threading.Lock()
log = logging.getLogger("tocsin.links")


def key_path(db: Engine | Connection) -> Path | None:
    """Where the key of this database's server lives, or None (an in-memory database)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database
        if not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database).resolve().parent / KEY_FILE
    directory = os.environ.get("TOCSIN_DATA_DIR")
    return Path(directory).resolve() / KEY_FILE if directory else None


def link_key(db: Engine | Connection) -> bytes | None:
    """The key (created, owner-only, when there is none yet), or None without a data
    directory. Every message's Open link is signed with it: once read, it is found again by
    the database's file or data directory (and the working directory a relative one is
    taken from), without a look at the file system."""
    url = db.engine.url
    sqlite = url.get_backend_name() == "sqlite"
    where = (url.database if sqlite else os.environ.get("TOCSIN_DATA_DIR")) or ""
    seen = (sqlite, where, "" if os.path.isabs(where) else os.getcwd())
    key = _known.get(seen)
    if key is None:
        key = _read(db)
        if key is not None:
            _known[seen] = key
    return key


def _read(db: Engine | Connection) -> bytes | None:
    path = key_path(db)
    if path is None:
        return None
    with _lock:
        if path in _cache:
            return _cache[path]
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            try:
                _create(path)
            except OSError:
                log.exception("cannot create the link key %s; links are not signed", path)
                return None
        try:
            key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):  # unreadable or not a key: links stay plain
            log.exception("the link key %s cannot be read; links are not signed", path)
            return None
        if len(key) < KEY_BYTES:
            log.error("the link key %s is too short; links are not signed", path)
            return None
        _cache[path] = key
        return key


def _create(path: Path) -> None:
    """Write a new key beside ``path`` and link it into place: a process that reads the key
    sees the whole of it or none, and when two create one at once, the first link wins."""
    temporary = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def used(conn: Connection, nonce: str) -> tuple[str, float] | None:
    """Who used the action link with this nonce, and when (None: not used)."""
    row = conn.execute(used_links.select().where(used_links.c.nonce == nonce)).first()
    return (row.used_by, float(row.used_at)) if row is not None else None


def use(conn: Connection, nonce: str, action: str, incident_id: int, who: str, now: float) -> None:
    """Mark the action link used, in the caller's transaction (the action commits with it)."""
    conn.execute(
        used_links.insert().values(
            nonce=nonce, action=action, incident_id=incident_id, used_by=who, used_at=now
        )
    )
