"""EHR key sets published at a URL (JWKS), fetched when needed and kept a few minutes, so
that a CDS Hooks call costs no fetch but a rotated key is picked up: a token whose kid the
kept set lacks fetches the set again (monitor.services.access.ehr_clients).

Anyone can send a token naming a registered issuer and a made-up kid, so such a refetch is
done at most once every REFETCH_EVERY_S for a URL; and a fetch is bounded in time and size
(a key set server that trickles or sends gigabytes must not hold the call or fill memory).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx

KEEP_S = 300.0
REFETCH_EVERY_S = 30.0  # a rotated-in key is found within this; a forged kid costs no more
TIMEOUT_S = 5.0  # for the whole fetch, not only for each read
LARGEST = 1_000_000  # bytes; a key set of public keys is a few kilobytes
_kept: dict[str, tuple[float, dict[str, Any]]] = {}
_refetched: dict[str, float] = {}  # when a set was last fetched again for a kid it lacked
_lock = threading.Lock()


def fetch_key_set(url: str, refresh: bool = False) -> dict[str, Any]:
    """The key set at `url`; OSError when it cannot be fetched or is not a JSON object.
    `refresh`: fetched again unless that was done in the last REFETCH_EVERY_S."""
    now = time.monotonic()
    with _lock:
        kept = _kept.get(url)
        if kept is not None and refresh:
            last = _refetched.get(url)
            if last is not None and now - last < REFETCH_EVERY_S:
                return kept[1]
            _refetched[url] = now
    if kept is not None and not refresh and now - kept[0] < KEEP_S:
        return kept[1]
    try:
        found = json.loads(_get(url, now + TIMEOUT_S))
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:  # InvalidURL: no HTTPError
        raise OSError(f"key set at {url} unavailable: {error}") from None
    if not isinstance(found, dict) or not isinstance(found.get("keys"), list):
        raise OSError(f"{url} holds no key set (a JSON object with \"keys\")")
    with _lock:
        _kept[url] = (now, found)
    return found


def _get(url: str, deadline: float) -> bytes:
    body = bytearray()
    with httpx.stream("GET", url, timeout=TIMEOUT_S, follow_redirects=False,
                      headers={"Accept": "application/json"}) as reply:
        reply.raise_for_status()
        for chunk in reply.iter_bytes():
            body += chunk
            if len(body) > LARGEST:
                raise OSError(f"key set at {url} too large (over {LARGEST} bytes)")
            if time.monotonic() > deadline:
                raise OSError(f"key set at {url} too slow (over {TIMEOUT_S:g} s)")
    return bytes(body)
