"""EHR key sets published at a URL (JWKS), fetched when needed and kept a few minutes, so
that a CDS Hooks call costs no fetch but a rotated key is picked up: a token whose kid the
kept set lacks fetches the set again (monitor.services.access.ehr_clients)."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

KEEP_S = 300.0
TIMEOUT_S = 5.0
_kept: dict[str, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()


def fetch_key_set(url: str, refresh: bool = False) -> dict[str, Any]:
    """The key set at `url`; OSError when it cannot be fetched or is not a JSON object."""
    now = time.monotonic()
    with _lock:
        kept = _kept.get(url)
    if kept is not None and not refresh and now - kept[0] < KEEP_S:
        return kept[1]
    try:
        reply = httpx.get(url, timeout=TIMEOUT_S, follow_redirects=False,
                          headers={"Accept": "application/json"})
        reply.raise_for_status()
        found = reply.json()
    except (httpx.HTTPError, ValueError) as error:
        raise OSError(f"key set at {url} unavailable: {error}") from None
    if not isinstance(found, dict) or not isinstance(found.get("keys"), list):
        raise OSError(f"{url} holds no key set (a JSON object with \"keys\")")
    with _lock:
        _kept[url] = (now, found)
    return found
