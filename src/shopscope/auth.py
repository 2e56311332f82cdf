"""Users, roles, sessions and API tokens, kept in ``auth.sqlite`` inside the workspace.

SQLite rather than the analytics store: the DuckDB file allows one writer process, and
user management (``shopscope user add``) must work while the server runs. Passwords are
argon2id hashes; session ids and API tokens are random and stored only as SHA-256 hashes.
There is no default account: the first admin is created with the CLI.
"""

from __future__ import annotations

import builtins  # UserStore.list shadows the builtin inside the class
import hashlib
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from shopscope.errors import ShopscopeError

Role = Literal["admin", "analyst", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "analyst", "viewer")
RANK = {"viewer": 0, "analyst": 1, "admin": 2}
AUTH_FILE = "auth.sqlite"
SESSION_SECONDS = 8 * 3600
# Login rate limits, counted over FAILURE_WINDOW (the rule is documented in docs/api.md):
MAX_FAILURES = 5  # per (user name, client address): refused even with the right password
MAX_CLIENT_FAILURES = 50  # per client address, any user name (password spraying) ...
MAX_USER_FAILURES = 20  # ... per user name, any address (a distributed attack on one user)
# ... but those two refuse only pairs that never signed in: a user who signed in from
# this address within KNOWN_SECONDS keeps signing in with the right password.
KNOWN_SECONDS = 30 * 24 * 3600
FAILURE_WINDOW = 15 * 60
#: Signed-in sessions and API tokens kept in memory (see :class:`_AuthCache`).
AUTH_CACHE_SIZE = 1024
AUTH_CACHE_SECONDS = 300.0
AUTH_CHECK_SECONDS = 0.1  # how soon the server sees another process's auth.sqlite change
_hasher = PasswordHasher()

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, role TEXT NOT NULL,
    lang TEXT NOT NULL DEFAULT 'en', created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY, username TEXT NOT NULL, csrf TEXT NOT NULL,
    expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT, token_hash TEXT UNIQUE NOT NULL,
    username TEXT NOT NULL, name TEXT NOT NULL, created_at REAL NOT NULL,
    revoked_at REAL);
CREATE TABLE IF NOT EXISTS login_failures (username TEXT, client TEXT, at REAL);
CREATE TABLE IF NOT EXISTS login_successes (
    username TEXT, client TEXT, at REAL, PRIMARY KEY (username, client));
CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class AuthError(ShopscopeError, PermissionError):
    exit_code = 7


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    lang: str = "en"

    def can(self, role: Role) -> bool:
        """True when this user's role is at least ``role``."""
        return RANK[self.role] >= RANK[role]


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


@dataclass(frozen=True)
class TokenInfo:
    id: int
    username: str
    name: str
    created_at: float
    revoked: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < 10:
        raise AuthError("password too short", hint="use at least 10 characters")


class _AuthCache:
    """Who a session id or an API token is, in memory, so that a request costs no SQLite
    query: at most AUTH_CACHE_SIZE entries (least recently used out), each trusted for
    AUTH_CACHE_SECONDS and never past its session's expiry, keyed by the secret's SHA-256.
    Unknown secrets are not kept (a stream of random tokens cannot evict the real ones).

    A commit to auth.sqlite empties it: this process's changes (logout, new password,
    revoked token, removed user) at once, other processes' (``shopscope user passwd`` or
    ``token revoke`` in a shell) at the next :meth:`check`, which reads SQLite's ``PRAGMA
    data_version`` (it moves whenever another connection commits). The served app checks
    every AUTH_CHECK_SECONDS on a thread of its own; a look-up checks by itself only when
    the last check is older than twice that. Checking on every hit would cost more than
    the query it saves: the pragma lets go of the GIL, and getting it back behind a busy
    query thread can hold up the event loop for milliseconds.
    """

    def __init__(self, path: Path, size: int = AUTH_CACHE_SIZE,
                 seconds: float = AUTH_CACHE_SECONDS) -> None:
        self.path, self.size, self.seconds = path, size, seconds
        self.entries: OrderedDict[str, tuple[float, Session | User]] = OrderedDict()
        self._lock = threading.Lock()  # the entries
        self._ask_lock = threading.Lock()  # the connection below
        self._watch: sqlite3.Connection | None = None
        self._seen: int | None = None
        self._checked = float("-inf")  # time.monotonic() of the last check

    def check(self) -> int | None:
        """Read the file's commit counter (empties the entries when it moved); None when
        the file is busy, and then nothing is kept until a check succeeds."""
        try:
            with self._ask_lock:
                if self._watch is None:
                    # timeout 0: a writer holding the file means "busy", not a wait
                    self._watch = sqlite3.connect(self.path, timeout=0,
                                                  check_same_thread=False)
                (version,) = self._watch.execute("PRAGMA data_version").fetchone()
        except sqlite3.Error:
            version = None
        with self._lock:
            if version is None or version != self._seen:
                self.entries.clear()
                self._seen = version
            self._checked = time.monotonic()
        return version

    def get(self, key: str, exact: bool = True) -> tuple[Session | User | None, int | None]:
        """The entry of ``key`` (or None) and, on a miss with ``exact``, the version to
        hand to :meth:`put` after reading the database."""
        if time.monotonic() - self._checked > 2 * AUTH_CHECK_SECONDS:
            self.check()
        with self._lock:
            hit = self.entries.get(key)
            if hit is not None and hit[0] > time.time():
                self.entries.move_to_end(key)
                return hit[1], None
            self.entries.pop(key, None)
        return None, self.check() if exact else None

    def put(self, key: str, value: Session | User, version: int | None,
            until: float | None = None) -> None:
        """Keep ``value``, read from the database after :meth:`get` returned ``version``:
        not if anything was committed since (a logout meanwhile must not be undone)."""
        if version is None or self.check() != version:
            return
        with self._lock:
            if self._seen != version:
                return
            self.entries[key] = (min(until or float("inf"), time.time() + self.seconds), value)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()


class UserStore:
    """Users, sessions and tokens of one workspace.

    Session and token look-ups are answered from memory while auth.sqlite is unchanged
    (:class:`_AuthCache`); any change to users, sessions or tokens empties that memory.
    """

    def __init__(self, workspace_path: str | Path) -> None:
        self.path = Path(workspace_path) / AUTH_FILE
        with self._db() as db:
            db.executescript(_SCHEMA)
        self._known = _AuthCache(self.path)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        try:
            with db:  # commit on success, roll back on error
                yield db
        finally:
            db.close()

    def check_sessions(self) -> None:
        """Notice changes other processes made to users, sessions and tokens (the served
        app calls this every AUTH_CHECK_SECONDS, see :class:`_AuthCache`)."""
        self._known.check()

    def _changed(self) -> None:
        # The commit has moved data_version already, which empties the cache at the next
        # look-up; clearing here as well does not depend on that.
        self._known.clear()

    # -- users ------------------------------------------------------------------------
    def add(self, username: str, password: str, role: Role = "viewer", lang: str = "en") -> User:
        if role not in ROLES:
            raise AuthError(f"unknown role {role!r}", hint=f"roles are: {', '.join(ROLES)}")
        plain = username.replace("_", "").replace(".", "").replace("-", "")
        if not username or not plain.isalnum():
            raise AuthError(f"invalid user name {username!r}",
                            hint="use letters, digits, '.', '-' or '_'")
        check_password_strength(password)
        try:
            with self._db() as db:
                db.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?)",
                           (username, _hasher.hash(password), role, lang, time.time()))
        except sqlite3.IntegrityError:
            raise AuthError(f"user {username!r} exists",
                            hint="choose another name or use `shopscope user passwd`") from None
        return User(username, role, lang)

    def get(self, username: str) -> User | None:
        with self._db() as db:
            row = db.execute("SELECT username, role, lang FROM users WHERE username = ?",
                             (username,)).fetchone()
        return User(*row) if row else None

    def list(self) -> list[User]:
        with self._db() as db:
            rows = db.execute("SELECT username, role, lang FROM users ORDER BY username").fetchall()
        return [User(*r) for r in rows]

    def remove(self, username: str) -> None:
        with self._db() as db:
            n = db.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            db.execute("UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                       (time.time(), username))
        self._changed()
        if not n:
            raise AuthError(f"no user {username!r}", hint="see `shopscope user list`")

    def set_password(self, username: str, password: str) -> None:
        """New password: ends the user's sessions, revokes their API tokens (a changed
        password often means a leaked one) and clears their failed logins."""
        check_password_strength(password)
        with self._db() as db:
            n = db.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                           (_hasher.hash(password), username)).rowcount
            db.execute("DELETE FROM sessions WHERE username = ?", (username,))
            db.execute("UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                       (time.time(), username))
            db.execute("DELETE FROM login_failures WHERE username = ?", (username,))
        self._changed()
        if not n:
            raise AuthError(f"no user {username!r}", hint="see `shopscope user list`")

    def set_lang(self, username: str, lang: str) -> None:
        with self._db() as db:
            db.execute("UPDATE users SET lang = ? WHERE username = ?", (lang, username))
        self._changed()

    # -- login ------------------------------------------------------------------------
    def limit_reason(self, username: str, client: str) -> str | None:
        """Why a sign-in of ``username`` from ``client`` is refused now, or None:

        - ``"pair"``: MAX_FAILURES failures for this user from this address;
        - ``"address"`` / ``"user"``: MAX_CLIENT_FAILURES failures from this address (any
          user) or MAX_USER_FAILURES for this user (any address), unless this user signed
          in from this address within KNOWN_SECONDS. An attacker can thus neither guess
          freely nor lock out a user who signs in correctly from their usual address.
        """
        now = time.time()
        with self._db() as db:
            db.execute("DELETE FROM login_failures WHERE at < ?", (now - FAILURE_WINDOW,))
            db.execute("DELETE FROM login_successes WHERE at < ?", (now - KNOWN_SECONDS,))
            (pair,) = db.execute(
                "SELECT count(*) FROM login_failures WHERE username = ? AND client = ?",
                (username, client)).fetchone()
            if pair >= MAX_FAILURES:
                return "pair"
            (by_client,) = db.execute("SELECT count(*) FROM login_failures WHERE client = ?",
                                      (client,)).fetchone()
            (by_user,) = db.execute("SELECT count(*) FROM login_failures WHERE username = ?",
                                    (username,)).fetchone()
            if by_client < MAX_CLIENT_FAILURES and by_user < MAX_USER_FAILURES:
                return None
            known = db.execute(
                "SELECT 1 FROM login_successes WHERE username = ? AND client = ?",
                (username, client)).fetchone()
        if known:
            return None
        return "address" if by_client >= MAX_CLIENT_FAILURES else "user"

    def rate_limited(self, username: str, client: str) -> bool:
        return self.limit_reason(username, client) is not None

    def authenticate(self, username: str, password: str, client: str = "") -> User:
        """The user, if the password is right; raises AuthError otherwise, and when rate
        limited (see :meth:`limit_reason`)."""
        if self.rate_limited(username, client):
            raise AuthError("too many failed logins", hint="wait 15 minutes and try again")
        with self._db() as db:
            row = db.execute("SELECT password_hash, role, lang FROM users WHERE username = ?",
                             (username,)).fetchone()
        ok = False
        if row:
            try:
                ok = _hasher.verify(row[0], password)
            except (VerificationError, InvalidHashError):
                ok = False
        else:
            _hasher.hash(password)  # same cost as a real check: no user enumeration by timing
        with self._db() as db:
            if not ok:
                db.execute("INSERT INTO login_failures VALUES (?, ?, ?)",
                           (username, client, time.time()))
            else:  # a known pair from now on; its own typos are forgiven
                db.execute("INSERT OR REPLACE INTO login_successes VALUES (?, ?, ?)",
                           (username, client, time.time()))
                db.execute("DELETE FROM login_failures WHERE username = ? AND client = ?",
                           (username, client))
        if not ok:
            raise AuthError("wrong user name or password")
        return User(username, row[1], row[2])

    # -- server secrets ---------------------------------------------------------------
    def secret(self, name: str) -> bytes:
        """A random per-workspace secret (created on first use, kept in auth.sqlite): keys
        the login form's CSRF token and customer pseudonyms."""
        with self._db() as db:
            db.execute("INSERT OR IGNORE INTO secrets VALUES (?, ?)",
                       (name, secrets.token_hex(32)))
            (value,) = db.execute("SELECT value FROM secrets WHERE name = ?",
                                  (name,)).fetchone()
        return bytes.fromhex(value)

    # -- sessions ---------------------------------------------------------------------
    def create_session(self, user: User) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                       (_digest(sid), user.username, csrf, time.time() + SESSION_SECONDS))
        return sid, Session(user, csrf)

    def session(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        key = "s:" + _digest(sid)
        known, version = self._known.get(key)
        if isinstance(known, Session):
            return known
        with self._db() as db:
            row = db.execute(
                "SELECT u.username, u.role, u.lang, s.csrf, s.expires_at FROM sessions s "
                "JOIN users u ON u.username = s.username WHERE s.id_hash = ? "
                "AND s.expires_at > ?", (key[2:], time.time())).fetchone()
        if not row:
            return None
        session = Session(User(row[0], row[1], row[2]), row[3])
        self._known.put(key, session, version, until=row[4])
        return session

    def known_session(self, sid: str) -> Session | None:
        """The session of ``sid`` if it is in memory (no SQLite query); None: ask
        :meth:`session`."""
        known, _ = self._known.get("s:" + _digest(sid), exact=False)
        return known if isinstance(known, Session) else None

    def end_session(self, sid: str | None) -> None:
        if sid:
            with self._db() as db:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", (_digest(sid),))
            self._changed()

    # -- API tokens -------------------------------------------------------------------
    def create_token(self, username: str, name: str) -> tuple[str, TokenInfo]:
        token = "ssk_" + secrets.token_urlsafe(32)
        now = time.time()
        with self._db() as db:
            cur = db.execute(
                "INSERT INTO tokens (token_hash, username, name, created_at) VALUES (?, ?, ?, ?)",
                (_digest(token), username, name, now))
        return token, TokenInfo(int(cur.lastrowid or 0), username, name, now, False)

    def tokens(self, username: str | None = None) -> builtins.list[TokenInfo]:
        sql = "SELECT id, username, name, created_at, revoked_at IS NOT NULL FROM tokens"
        args: tuple = ()
        if username:
            sql += " WHERE username = ?"
            args = (username,)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        return [TokenInfo(r[0], r[1], r[2], r[3], bool(r[4])) for r in rows]

    def revoke_token(self, token_id: int, username: str | None = None) -> bool:
        sql = "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        args: tuple = (time.time(), token_id)
        if username:
            sql += " AND username = ?"
            args += (username,)
        with self._db() as db:
            revoked = db.execute(sql, args).rowcount > 0
        self._changed()
        return revoked

    def token_user(self, token: str) -> User | None:
        key = "t:" + _digest(token)
        known, version = self._known.get(key)
        if isinstance(known, User):
            return known
        with self._db() as db:
            row = db.execute(
                "SELECT u.username, u.role, u.lang FROM tokens t JOIN users u "
                "ON u.username = t.username WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                (key[2:],)).fetchone()
        if not row:
            return None
        user = User(*row)
        self._known.put(key, user, version)
        return user

    def known_token_user(self, token: str) -> User | None:
        """The user of ``token`` if it is in memory (no SQLite query); None: ask
        :meth:`token_user`."""
        known, _ = self._known.get("t:" + _digest(token), exact=False)
        return known if isinstance(known, User) else None
