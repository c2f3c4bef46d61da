"""Signed-in sessions and the sign-in rate limit, as plain objects with the clock passed in.

A session is a random id in an HttpOnly cookie mapped to the token *name* it was opened with; the
role is read from the config on every request, so a reload that removes a token or changes its
role or value ends or changes the session at once. Sessions live in the process: a restart signs
everyone out, which is the safe direction.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.config import AdminConfig, AdminToken

#: A session ends this long after sign-in, whatever happens.
MAX_AGE = 8 * 3600.0
#: ... or after this long without a request.
IDLE_TIMEOUT = 30 * 60.0
#: Sessions kept at most (the oldest is dropped first).
MAX_SESSIONS = 1000
#: Wrong tokens accepted per client address within :data:`FAILURE_WINDOW` before it must wait.
MAX_FAILURES = 5
FAILURE_WINDOW = 300.0
#: Client addresses whose failures are remembered at most.
MAX_CLIENTS = 10_000

Clock = Callable[[], float]


def fingerprint(token: AdminToken) -> str:
    """What identifies a token's secret without keeping it: a changed token ends its sessions."""
    secret = token.token_hash if token.token_hash is not None else token.token or ""
    return hashlib.sha256(f"{token.role}\0{secret}".encode()).hexdigest()


@dataclass(slots=True)
class Session:
    name: str
    #: The fingerprint of the token signed in with (see :func:`fingerprint`).
    token: str
    #: Sent back with every form and compared on every POST.
    csrf: str
    started: float
    seen: float


@dataclass(frozen=True, slots=True)
class Signed:
    """A valid session and the token it stands for, as the config says now."""

    id: str
    session: Session
    token: AdminToken

    @property
    def operator(self) -> str:
        """Who the audit log says acted."""
        return f"api:{self.token.name}"

    @property
    def can_change(self) -> bool:
        return self.token.role == "admin"


@dataclass
class Sessions:
    """Open sessions by id, bounded, expiring on age and idleness."""

    clock: Clock = time.monotonic
    _open: OrderedDict[str, Session] = field(default_factory=OrderedDict)

    def start(self, token: AdminToken) -> str:
        """A new session for ``token``; its id goes into the cookie."""
        now = self.clock()
        sid = secrets.token_urlsafe(32)
        self._open[sid] = Session(token.name, fingerprint(token), secrets.token_urlsafe(24), now, now)
        while len(self._open) > MAX_SESSIONS:
            self._open.popitem(last=False)
        return sid

    def find(self, sid: str | None, admin: AdminConfig) -> Signed | None:
        """The live session ``sid`` with its token, or None (and it is forgotten if it expired)."""
        if not sid:
            return None
        session = self._open.get(sid)
        if session is None:
            return None
        now = self.clock()
        token = next((t for t in admin.credentials if t.name == session.name), None)
        if (
            now - session.started > MAX_AGE
            or now - session.seen > IDLE_TIMEOUT
            or token is None
            or fingerprint(token) != session.token
        ):
            del self._open[sid]
            return None
        session.seen = now
        return Signed(sid, session, token)

    def end(self, sid: str) -> None:
        self._open.pop(sid, None)

    def __len__(self) -> int:
        return len(self._open)


@dataclass
class SignInLimiter:
    """At most :data:`MAX_FAILURES` wrong tokens per client address in :data:`FAILURE_WINDOW`."""

    clock: Clock = time.monotonic
    max_failures: int = MAX_FAILURES
    window: float = FAILURE_WINDOW
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before trying again (0: it may try now)."""
        failures = self._failures.get(client)
        if failures is None:
            return 0.0
        now = self.clock()
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        if not failures:
            del self._failures[client]
            return 0.0
        if len(failures) < self.max_failures:
            return 0.0
        return self.window - (now - failures[0])

    def failed(self, client: str) -> None:
        failures = self._failures.setdefault(client, deque(maxlen=self.max_failures))
        self._failures.move_to_end(client)
        failures.append(self.clock())
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
