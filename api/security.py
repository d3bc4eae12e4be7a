"""Roles, API keys and signed share links.

Roles, from most to least trusted:

``analyst``
    everything: imports, analyses, incident points including sensitive ones;
``partner``
    hotspots, aggregates and non-sensitive incident points;
``public``
    aggregates only, with counts below ``public_min_count`` suppressed.
    A request without a key is ``public``.

API keys (``hsk_…``) are random, shown once when created and stored only as a
SHA-256 hash. Share links carry an opaque token: a random link id and an
HMAC-SHA256 signature made with the server secret, so a token cannot be
edited or forged; what a link may show (run, role, filters) and until when
is kept server-side, where the link can be revoked.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime

ROLES = ("public", "partner", "analyst")
KEY_PREFIX = "hsk_"


def now_utc() -> datetime:
    """Naive UTC now (the service tables store UTC without a zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def role_at_least(role: str, minimum: str) -> bool:
    return ROLES.index(role) >= ROLES.index(minimum)


def new_api_key() -> tuple[str, str, str]:
    """A new key: (key id, the key to hand out once, its hash to store)."""
    key_id = "key_" + secrets.token_hex(6)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key_id, key, hash_key(key)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_link_id() -> str:
    """A random link id (16 URL-safe characters), never starting with ``-``, which a
    command line would read as an option (``hotspots share revoke ID``)."""
    while True:
        link_id = _b64(secrets.token_bytes(12))
        if not link_id.startswith("-"):
            return link_id


def sign_link(link_id: str, secret: str) -> str:
    """The token for a share link: ``<link id>.<signature>``."""
    mac = hmac.new(secret.encode(), b"share-link:" + link_id.encode(), hashlib.sha256)
    return f"{link_id}.{_b64(mac.digest()[:18])}"


def verify_link(token: str, secret: str) -> str | None:
    """The link id of a genuine token, or ``None`` for a tampered or malformed one."""
    link_id, sep, _ = token.partition(".")
    if not sep or not link_id or len(token) > 200:
        return None
    try:
        _unb64(link_id)
    except (ValueError, TypeError):
        return None
    return link_id if hmac.compare_digest(sign_link(link_id, secret), token) else None
