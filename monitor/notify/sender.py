"""Send a delivery: claim it, send it through its channel, record the outcome.

Claiming is a conditional update, so two schedulers or a redelivered task never send the
same delivery twice at once; a receiver sees the same idempotency key on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
from contextlib import suppress
from datetime import datetime, timedelta

import httpx
from sqlalchemy import and_, or_, select, update

from monitor.config import Settings
from monitor.notify import content
from monitor.storage.repos import counters
from monitor.storage.tables import Delivery, NotificationChannel
from monitor.storage.uow import UnitOfWork

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)  # a sender that died mid-send frees its claim after this
# A delivery handed to the deliveries queue is not handed over again for this long: a
# black-holed channel that backs the queue up must not make the scheduler multiply tasks.
# Past it (the task was lost with the broker) it is due again.
QUEUED_LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
# Not yet sent and not given up: waiting for its time, handed to a queue, or being sent.
UNSENT = ("pending", "queued", "sending")


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s ... capped at 15 min."""
    return min(timedelta(seconds=5 * 2 ** (attempts - 1)), timedelta(minutes=15))


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def due(uow: UnitOfWork, now: datetime, limit: int = 200) -> list[int]:
    """Deliveries whose time has come: new, a retry past its back-off, a send or a queued
    task whose lease ran out."""
    return list(uow.session.scalars(
        select(Delivery.id).where(Delivery.state.in_(UNSENT), Delivery.next_attempt_at <= now)
        .order_by(Delivery.id).limit(limit)))


def mark_queued(uow: UnitOfWork, delivery_ids: list[int], now: datetime) -> list[int]:
    """Lease these due deliveries to the queue (the caller enqueues them after commit);
    returns those it leased, so two schedulers never hand over the same one."""
    if not delivery_ids:
        return []
    leased = uow.session.scalars(
        update(Delivery).where(Delivery.id.in_(delivery_ids), Delivery.state.in_(UNSENT),
                               Delivery.next_attempt_at <= now)
        .values(state="queued", next_attempt_at=now + QUEUED_LEASE)
        .returning(Delivery.id))
    return sorted(leased)


def claim(uow: UnitOfWork, delivery_id: int, now: datetime) -> bool:
    """Take one delivery for sending: a queued one at once (its task has arrived), any
    other once it is due. An attempt after its first counts a retry."""
    attempts = uow.session.scalar(
        update(Delivery).where(Delivery.id == delivery_id,
                               or_(Delivery.state == "queued",
                                   and_(Delivery.state.in_(UNSENT),
                                        Delivery.next_attempt_at <= now)))
        .values(state="sending", attempts=Delivery.attempts + 1,
                next_attempt_at=now + LEASE)
        .returning(Delivery.attempts))
    if attempts is not None and attempts > 1:
        counters.add(uow.session, counters.DELIVERY_RETRIES)
    uow.commit()
    return attempts is not None


def post_webhook(url: str, body: bytes, settings: Settings, headers: dict[str, str]) -> None:
    """POST within the delivery timeouts; a refusal, an error status or a timeout raises."""
    timeout = httpx.Timeout(settings.delivery_timeout,
                            connect=settings.delivery_connect_timeout)
    reply = httpx.post(url, content=body, timeout=timeout, headers=headers)
    reply.raise_for_status()


def _transmit(uow: UnitOfWork, d: Delivery, settings: Settings) -> None:
    channel = uow.session.get(NotificationChannel, d.channel_id) if d.channel_id else None
    if channel is None:
        return  # in-app: written is delivered
    if channel.kind == "webhook":
        body = content.webhook_body(uow.session, d, channel, settings.public_url)
        post_webhook(channel.target, body, settings, headers={
            "Content-Type": "application/json",
            "X-Sodium-Signature": signature(channel.secret or "", body),
            "Idempotency-Key": d.idempotency_key})
    elif channel.kind == "email":
        if not settings.smtp_host:
            raise RuntimeError("email channel but SODIUM_SMTP_HOST is not set")
        message = content.email(uow.session, d, channel, settings.smtp_from,
                                settings.public_url)
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                            timeout=settings.delivery_timeout)
        try:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
        finally:
            # Once DATA is accepted the message is delivered: a server that answers QUIT
            # oddly must not turn that into a retry (and a duplicate email).
            with suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()
    else:
        raise RuntimeError(f"unknown channel kind {channel.kind!r}")


def send(uow: UnitOfWork, delivery_id: int, settings: Settings,
         now: datetime) -> str:
    """One attempt at one delivery; returns sent / retry / failed / skipped."""
    with uow:
        if not claim(uow, delivery_id, now):
            return "skipped"
    with uow:
        d = uow.session.get(Delivery, delivery_id)
        assert d is not None
        try:
            _transmit(uow, d, settings)
        except Exception as error:  # any failure of the channel: retry with back-off
            failed = d.attempts >= MAX_ATTEMPTS
            d.state = "failed" if failed else "pending"
            d.next_attempt_at = None if failed else now + backoff(d.attempts)
            d.last_error = f"{type(error).__name__}: {error}"[:1000]
            log.warning("delivery %s attempt %s to %s failed: %s", d.id, d.attempts,
                        d.recipient, d.last_error)
            uow.commit()
            return "failed" if failed else "retry"
        d.state, d.sent_at, d.last_error = "sent", now, None
        log.info("delivery %s (%s) sent to %s on attempt %s", d.id, d.event, d.recipient,
                 d.attempts)
        uow.commit()
        return "sent"
