"""Wiring: settings -> engine, sessions, pipeline and dispatcher. Nothing at import time."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.engine.policy import load_policy
from monitor.ingest.terminology import Terminology
from monitor.runtime.dispatchers import CeleryDispatcher, Dispatcher, InProcessDispatcher
from monitor.services.dashboards.hub import LocalHub, RedisPublisher
from monitor.services.intake.pipeline import Pipeline
from monitor.storage.db import make_engine, session_factory
from monitor.storage.uow import UnitOfWork


@dataclass
class Runtime:
    settings: Settings
    _dispatcher: Dispatcher | None = field(default=None, repr=False)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def pipeline(self) -> Pipeline:
        policy = load_policy(self.settings.policy)
        return Pipeline(policy=policy, tz=self.settings.zone,
                        notify_max_age=self.settings.notify_max_age,
                        suspect_comments=self.settings.suspect_comments,
                        max_results=self.settings.max_results_per_message,
                        authorities=self.settings.authority_aliases,
                        terms=Terminology.of(self.settings.icd10_systems,
                                             policy.social_history),
                        medication_map=self.settings.medication_codes)

    @cached_property
    def hub(self) -> LocalHub | RedisPublisher:
        """Where alert changes are announced to the live dashboards."""
        url = self.settings.broker_url
        return RedisPublisher(url) if url.startswith(("redis://", "rediss://")) else LocalHub()

    def uow(self) -> UnitOfWork:
        """A unit of work whose follow-ups reach this runtime's dispatcher and hub."""
        return UnitOfWork(self.sessions, deliver=lambda delivery_id: self.dispatcher.deliver(
            delivery_id), publish=lambda payload: self.hub.publish(payload))

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            if self.settings.embedded:
                self._dispatcher = InProcessDispatcher(self)
            else:
                self._dispatcher = CeleryDispatcher(self.settings.broker_url)
        return self._dispatcher
