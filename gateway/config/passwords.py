"""Account password hashing and verification.

Accounts in the configuration carry either a plain ``password`` or a ``password_hash`` in the
format ``pbkdf2_sha256$<iterations>$<salt_b64>$<hash_b64>`` (standard base64, padding optional).
Generate one with ``stopgate hash-password``.

:func:`verify_password` is CPU-heavy for hashed passwords (200,000 PBKDF2 iterations by default) the
first time a given (hash, password) pair is seen, so call it from a worker thread
(``anyio.to_thread.run_sync``) rather than on the event loop. Repeated verification of the same pair
is answered from a small bounded cache, so an ESME that reconnects often does not cost 200k
iterations per bind.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
from collections import OrderedDict

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 200_000
#: Upper bound on iterations accepted in a configured hash, so a typo cannot stall every bind.
MAX_ITERATIONS = 10_000_000
SALT_BYTES = 16
HASH_FORMAT = "pbkdf2_sha256$<iterations>$<salt_b64>$<hash_b64>"

#: Entries per cache (successful and failed verifications are cached separately, so a flood of
#: wrong passwords cannot evict the entries of legitimate clients).
CACHE_SIZE = 1024

# The cache is keyed by HMAC-SHA256 of the (hash, password) pair under a per-process random key:
# a memory dump then reveals nothing that allows cracking the password faster than PBKDF2 would.
_cache_key = os.urandom(32)
_cache_lock = threading.Lock()
_good: OrderedDict[bytes, None] = OrderedDict()
_bad: OrderedDict[bytes, None] = OrderedDict()


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded.encode("ascii"), validate=True)


def hash_password(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """Hash ``password`` as ``pbkdf2_sha256$<iterations>$<salt_b64>$<hash_b64>``."""
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be a positive integer, got {iterations!r}")
    if iterations > MAX_ITERATIONS:
        raise ValueError(f"iterations must be at most {MAX_ITERATIONS}, got {iterations}")
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    if not salt:
        raise ValueError("salt must not be empty")
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64encode(salt)}${_b64encode(digest)}"


def parse_password_hash(hashed: str) -> tuple[int, bytes, bytes]:
    """Split a hash into (iterations, salt, digest).

    Raises ``ValueError`` saying what is wrong if it is malformed; the message never contains the
    hash itself.
    """
    if not isinstance(hashed, str):
        raise ValueError(f"expected a string in the format {HASH_FORMAT!r}")
    parts = hashed.split("$")
    if len(parts) != 4:
        raise ValueError(f"expected 4 '$'-separated fields in the format {HASH_FORMAT!r}")
    algorithm, iterations_text, salt_text, digest_text = parts
    if algorithm != ALGORITHM:
        raise ValueError(f"unsupported algorithm {algorithm!r} (only {ALGORITHM!r} is supported)")
    if not iterations_text.isascii() or not iterations_text.isdigit():
        raise ValueError("iterations field is not a positive integer")
    iterations = int(iterations_text)
    if not 1 <= iterations <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be between 1 and {MAX_ITERATIONS}")
    try:
        salt = _b64decode(salt_text)
        digest = _b64decode(digest_text)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("salt or hash field is not valid base64") from None
    if not salt:
        raise ValueError("salt field is empty")
    if len(digest) < 16:
        raise ValueError("hash field is too short (expected a 32-byte PBKDF2-SHA256 digest)")
    return iterations, salt, digest


def _cache_lookup(key: bytes) -> bool | None:
    with _cache_lock:
        if key in _good:
            _good.move_to_end(key)
            return True
        if key in _bad:
            _bad.move_to_end(key)
            return False
    return None


def _cache_store(key: bytes, ok: bool) -> None:
    cache = _good if ok else _bad
    with _cache_lock:
        cache[key] = None
        cache.move_to_end(key)
        while len(cache) > CACHE_SIZE:
            cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every cached verification result (for tests, or after a config reload)."""
    with _cache_lock:
        _good.clear()
        _bad.clear()


def verify_password(password: str, *, plain: str | None, hashed: str | None) -> bool:
    """Check ``password`` against exactly one of a plain or a hashed stored password.

    Comparison is constant-time in both cases. Returns False if neither is configured or the hash
    is malformed (config loading rejects malformed hashes, so that only happens for hand-built
    objects). Raises ``ValueError`` if both are given.
    """
    if plain is not None and hashed is not None:
        raise ValueError("give either plain or hashed, not both")
    if plain is not None:
        return hmac.compare_digest(password.encode("utf-8"), plain.encode("utf-8"))
    if hashed is None:
        return False
    key = hmac.new(
        _cache_key,
        hashed.encode("utf-8") + b"\x00" + password.encode("utf-8"),
        hashlib.sha256,
    ).digest()
    cached = _cache_lookup(key)
    if cached is not None:
        return cached
    try:
        iterations, salt, expected = parse_password_hash(hashed)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8"), salt, iterations, dklen=len(expected)
    )
    ok = hmac.compare_digest(actual, expected)
    _cache_store(key, ok)
    return ok

