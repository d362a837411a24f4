"""The cache's storage: one SQLite database in WAL mode plus a folder of tuned artefacts.

Several processes may share it: SQLite serialises writers (each write is one short
transaction, readers never block), and artefact folders are built under a temporary name and
renamed into place, so a reader sees a whole artefact or none. Every value is content-addressed:
its key is the sha256 of everything that decides it, so an entry is never updated, only added.
"""
from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from harness.common.files import file_sha256

from .dirs import cache_root

DB_FILE = "cache.sqlite"
TUNED_DIR = "tuned"
CHARTS_DIR = "charts"
SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL,
    sha256 TEXT NOT NULL);
"""
_MANY = 500  # keys per SELECT: below SQLite's limit on bound parameters
_BUSY_SECONDS = 120  # how long a process waits for another's write before giving up


def _retry_while_locked(step: Callable[[], Any]) -> None:
    """Run a connection's setup step, waiting while another process holds the database.

    Switching a new database to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, when two processes open a new cache together."""
    deadline = time.monotonic() + _BUSY_SECONDS
    delay = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class NotCached(Exception):
    """Raised, instead of computing, by a cache that may only read (`Cache(computing=False)`): something a run
    needs is not in it."""


def digest(*parts: Any) -> str:
    """sha256 of the parts as canonical JSON: the address of a cache entry."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class Store:
    """Content-addressed entries (`kind`, `key`) → JSON value, and per-file hashes, in one database."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else cache_root()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def tuned_dir(self) -> Path:
        """The folder that holds tuned artefacts, one subfolder per tuning key."""
        return self.root / TUNED_DIR

    @property
    def charts_dir(self) -> Path:
        """The folder that holds the reports' charts, each named by a hash of what it is drawn from."""
        return self.root / CHARTS_DIR

    def _db(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():  # a connection never crosses a fork
            self.root.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.root / DB_FILE, timeout=_BUSY_SECONDS, isolation_level=None)
            _retry_while_locked(lambda: conn.execute("PRAGMA journal_mode=WAL"))
            conn.execute("PRAGMA synchronous=NORMAL")
            _retry_while_locked(lambda: conn.executescript(SCHEMA))
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def get_many(self, kind: str, keys: list[str]) -> dict[str, Any]:
        """The stored values of those `keys` that are present."""
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _MANY):
            chunk = unique[start:start + _MANY]
            rows = self._db().execute(
                f"SELECT key, value FROM entries WHERE kind = ? AND key IN ({','.join('?' * len(chunk))})",
                [kind, *chunk])
            found.update((k, json.loads(v)) for k, v in rows)
        return found

    def get(self, kind: str, key: str) -> Any | None:
        """One stored value, or None."""
        return self.get_many(kind, [key]).get(key)

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        """Store values in one transaction; an existing entry is kept (same key, same content)."""
        now = time.time()
        rows = [(kind, k, json.dumps(v, ensure_ascii=False), now) for k, v in items]
        if not rows:
            return
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR IGNORE INTO entries (kind, key, value, created) VALUES (?, ?, ?, ?)", rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def put(self, kind: str, key: str, value: Any) -> None:
        """Store one value."""
        self.put_many(kind, [(key, value)])

    def discard(self, kind: str, key: str) -> None:
        """Delete one entry: only for one whose content turned out damaged."""
        self._db().execute("DELETE FROM entries WHERE kind = ? AND key = ?", (kind, key))

    def get_or_compute(self, kind: str, key: str, compute: Callable[[], Any]) -> Any:
        """The value stored under `key`, or `compute()`'s, stored."""
        found = self.get(kind, key)
        if found is None:
            found = compute()
            self.put(kind, key, found)
        return found

    def file_sha256(self, path: str | Path) -> str:
        """sha256 of a file's bytes, remembered by (path, size, mtime, inode) so that a large weight
        file is read once, not on every run. For deciding keys only: a file changed in place with its
        time restored keeps its stamp, so bytes to be trusted are hashed as they are read."""
        path = Path(path).resolve()
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        row = self._db().execute("SELECT size, mtime_ns, inode, sha256 FROM file_hashes WHERE path = ?",
                                 (str(path),)).fetchone()
        if row is not None and tuple(row[:3]) == stamp:
            return row[3]
        sha = file_sha256(path)
        self._record(path, stamp, sha)  # the stamp from before reading: a file changed meanwhile rehashes
        return sha

    def remember(self, path: str | Path, sha256: str) -> None:
        """Record the hash of a file this process just wrote as a copy of one whose hash it knows, so that
        fingerprinting it later reads nothing (a restored full model can be many gigabytes)."""
        path = Path(path).resolve()
        st = path.stat()
        self._record(path, (st.st_size, st.st_mtime_ns, st.st_ino), sha256)

    def _record(self, path: Path, stamp: tuple[int, int, int], sha256: str) -> None:
        self._db().execute("INSERT OR REPLACE INTO file_hashes VALUES (?, ?, ?, ?, ?)", (str(path), *stamp, sha256))

    def counts(self) -> dict[str, int]:
        """Entries by kind (plus remembered file hashes)."""
        db = self._db()
        counts = dict(db.execute("SELECT kind, COUNT(*) FROM entries GROUP BY kind").fetchall())
        counts["file hashes"] = db.execute("SELECT COUNT(*) FROM file_hashes").fetchone()[0]
        return counts

    def clear(self, kinds: list[str] | None = None) -> int:
        """Delete the entries of `kinds` (default: every entry and file hash); returns how many went."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            if kinds is None:
                gone = db.execute("DELETE FROM entries").rowcount
                db.execute("DELETE FROM file_hashes")
            else:
                gone = sum(db.execute("DELETE FROM entries WHERE kind = ?", (k,)).rowcount for k in kinds)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return gone

    def close(self) -> None:
        """Close this process's connection (a later use reopens it)."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


def folder_bytes(path: Path) -> int:
    """Total size of the files under `path` (0 when it does not exist)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0
