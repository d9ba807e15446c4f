"""Server-Sent Events: the board learns of new and changed alerts without a reload.
Each event is filtered to what the signed-in user may see."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from monitor.engine.fluids import AQUARESIS_WARNING, fluid_numbers
from monitor.notify.content import where
from monitor.runtime import Runtime
from monitor.services.access.scope import Principal, visible_alert
from monitor.services.dashboards.hub import CHANNEL, LocalHub
from monitor.services.dashboards.views import count_unacknowledged
from monitor.storage.tables import Alert, Patient, Ward
from monitor.web.deps import RuntimeDep
from monitor.web.security import CallerDep, NotSignedIn, caller
from monitor.web.templating import RULE_NAMES

router = APIRouter(include_in_schema=False)
# A keep-alive comment this often; at each, and before each event, the stream checks that
# its session (or token) still holds: a stream ends within this long of logout or expiry.
KEEPALIVE_S = 5.0


def _still_allowed(request: Request, rt: Runtime) -> bool:
    try:
        caller(request, rt)
    except (NotSignedIn, HTTPException):
        return False
    return True


async def _messages(rt: Runtime) -> AsyncIterator[str | None]:
    """Payloads as they come; None now and then to keep the connection alive. The first
    item, "", says the subscription is in place: nothing published after it is missed."""
    hub = rt.hub
    if isinstance(hub, LocalHub):
        queue = hub.subscribe()
        yield ""
        try:
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield None
        finally:
            hub.unsubscribe(queue)
    else:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(rt.settings.broker_url)
        pubsub = client.pubsub()
        await pubsub.subscribe(CHANNEL)
        yield ""
        try:
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                   timeout=KEEPALIVE_S)
                yield None if message is None else message["data"].decode()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.unsubscribe(CHANNEL)
                await client.aclose()


def _visible(rt: Runtime, who: Principal, payload: dict[str, Any]) -> list[dict[str, Any]]:
    shown = []
    with rt.uow() as uow:
        # What waits now, for the tab title of whichever page is open.
        waiting = count_unacknowledged(uow, who)
        for alert_id in payload.get("alerts", []):
            a = visible_alert(uow, who, int(alert_id))
            if a is None:
                continue
            patient = uow.session.get(Patient, a.patient_id)
            ward = uow.session.get(Ward, patient.ward_id) if patient and patient.ward_id \
                else None
            # The words the page announces and a desktop notification shows: masked as
            # notifications are (ward, bed, rule, severity; never the name or the MRN),
            # since a notification shows on a locked screen.
            place = where(ward.code if ward else None, patient.bed if patient else None)
            shown.append({"id": a.id, "rule": a.rule, "severity": a.severity,
                          "lifecycle": a.lifecycle, "unacknowledged": waiting,
                          "text": f"{a.severity.upper()}: {RULE_NAMES.get(a.rule, a.rule)} "
                                  f"({_numbers(a)}) \u00b7 {place}"})
    return shown


@router.get("/events")
async def events(request: Request, rt: RuntimeDep, c: CallerDep) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        source = _messages(rt)
        await anext(source)  # subscribed: only now is the page told it is live
        yield f": connected {datetime.now(UTC).isoformat()}\n\nevent: ready\ndata: {{}}\n\n"
        async for text in source:
            if await request.is_disconnected():
                break
            if not await asyncio.to_thread(_still_allowed, request, rt):
                yield "event: signed-out\ndata: {}\n\n"  # logged out or expired
                break
            if text is None:
                yield ": keep-alive\n\n"
                continue
            for item in await asyncio.to_thread(_visible, rt, c.who, json.loads(text)):
                yield f"event: alert\ndata: {json.dumps(item)}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _numbers(a: Alert) -> str:
    if a.rule == AQUARESIS_WARNING:
        return fluid_numbers(a.value_mmol_l, a.window_hours)
    return f"Na {a.value_mmol_l:g}"
