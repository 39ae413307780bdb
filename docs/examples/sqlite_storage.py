import sqlite3
import time
from contextlib import contextmanager

from flask_adobe_oauth.storage import ServerSideStorage


class SQLiteStorage(ServerSideStorage):
    """Tokens in a SQLite table; the session cookie holds only a random key."""

    def __init__(self, path):
        super().__init__()
        self.path = path
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS adobe_tokens (key TEXT PRIMARY KEY, value TEXT, expires REAL)"
            )

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=5)
        try:
            with db:  # commits, or rolls back on an error
                yield db
        finally:
            db.close()

    def _read(self, key):
        with self._db() as db:
            row = db.execute(
                "SELECT value FROM adobe_tokens WHERE key = ? AND expires > ?", (key, time.time())
            ).fetchone()
        return row[0] if row else None

    def _write(self, key, value, ttl):
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO adobe_tokens VALUES (?, ?, ?)", (key, value, time.time() + ttl)
            )

    def _remove(self, *keys):
        with self._db() as db:
            db.executemany("DELETE FROM adobe_tokens WHERE key = ?", [(key,) for key in keys])
