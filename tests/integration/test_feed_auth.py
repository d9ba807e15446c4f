"""MLLP feed authentication over real sockets on PostgreSQL: a feed is who the connection
is (client certificate or allow-listed address), not what MSH-3 claims, and may change
only what it is permitted to (results, removals, adt, merges)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.listener.service import InsecureBind, build_server, serve, tls_context
from monitor.runtime import Runtime
from monitor.runtime.drain import drain_inbox
from monitor.services.intake.feeds import bind_feed
from monitor.services.intake.rejects import retry_reject
from monitor.storage.tables import Patient, RejectRow, Result, Ward
from tests.conftest import run_async
from tests.hl7_builders import oru, ts
from tests.integration.stack import MLLP_END, MLLP_START, ack_code

START = (datetime.now(UTC) - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
NOW = datetime.now(UTC)


def adt_a02(patient: str, control: str, ward: str) -> str:
    return "\r".join([
        f"MSH|^~\\&|LIS|CITYGEN|SODMON|CITYGEN|{ts(START)}||ADT^A02^ADT_A02|{control}|P|2.5.1",
        f"EVN|A02|{ts(START)}",
        f"PID|1||{patient}^^^CITYGEN^MR||DOE^ALEX||19560412|F",
        f"PV1|1|I|{ward}^0412^01^CITYGEN"])


@dataclass
class Pki:
    ca: Path
    server: tuple[Path, Path]
    clients: dict[str, tuple[Path, Path]]


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def _issue(d: Path, name: str, cn: str, ca: tuple[Path, Path], *, san: str) -> tuple[Path, Path]:
    key, csr, crt, ext = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt", d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
             "-subj", f"/CN={cn}")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
             "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A throwaway CA, the listener's certificate, and feed certificates (CN = feed name);
    `rogue` is signed by another CA."""
    d = tmp_path_factory.mktemp("pki")
    cas = {}
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", d / f"{ca}.key",
                 "-out", d / f"{ca}.crt", "-days", "2", "-subj", f"/CN={ca}")
        cas[ca] = (d / f"{ca}.crt", d / f"{ca}.key")
    server = _issue(d, "server", "localhost", cas["ca"], san="DNS:localhost,IP:127.0.0.1")
    clients = {n: _issue(d, n, n, cas["ca"], san=f"DNS:{n}.feeds.test")
               for n in ("lis", "stranger")}
    clients["rogue"] = _issue(d, "rogue", "lis", cas["other-ca"], san="DNS:rogue.test")
    return Pki(cas["ca"][0], server, clients)


class Held:
    """A dispatcher that does nothing: the test drains the inbox itself, after the
    exchange (an in-process worker would race its drain)."""

    def process(self, inbox_id: int | None = None) -> None:
        pass

    def deliver(self, delivery_id: int) -> None:
        pass


@pytest.fixture
def rt(pg_engine: Engine, pg_migrated: str) -> Iterator[Runtime]:
    runtime = Runtime(Settings(database_url=pg_migrated, broker_url=""), _dispatcher=Held())
    yield runtime
    runtime.engine.dispose()


def exchange(rt: Runtime, messages: list[str], *, tls: ssl.SSLContext | None = None,
             client: ssl.SSLContext | None = None) -> list[tuple[str, str, str]]:
    """Send the messages in order on one connection; (MSA-1, MSA-2, the ACK) of each."""
    async def run() -> list[str]:
        server = await build_server(rt, tls=tls, window_s=0).start("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, ssl=client, server_hostname="localhost" if client else None)
            replies = []
            for m in messages:
                writer.write(MLLP_START + m.encode() + MLLP_END)
                await writer.drain()
                replies.append((await reader.readuntil(MLLP_END)).strip(
                    MLLP_START + MLLP_END).decode())
            writer.close()
            return replies

    return [(*ack_code(a), a) for a in run_async(run())]


def client_context(pki: Pki, name: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca)
    if name:
        context.load_cert_chain(*map(str, pki.clients[name]))
    return context


def server_context(pki: Pki) -> ssl.SSLContext:
    context = tls_context(str(pki.server[0]), str(pki.server[1]), str(pki.ca))
    assert context is not None
    return context


def tls_rt(pg_migrated: str, pki: Pki) -> Runtime:
    return Runtime(Settings(database_url=pg_migrated, broker_url="",
                            mllp_tls_cert=str(pki.server[0]), mllp_tls_key=str(pki.server[1]),
                            mllp_tls_client_ca=str(pki.ca)), _dispatcher=Held())


def results(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as s:
        return [(r.source_feed, r.value_raw, r.status) for r in
                s.scalars(select(Result).order_by(Result.id))]


def rejects(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as s:
        return [(r.source, r.reason) for r in s.scalars(select(RejectRow).order_by(RejectRow.id))]


def ward_of(engine: Engine, identifier: str) -> str | None:
    with Session(engine) as s:
        p = s.scalar(select(Patient).where(Patient.identifier == identifier))
        assert p is not None
        return None if p.ward_id is None else s.get_one(Ward, p.ward_id).code


RESULT = oru("MRN1", "1001", START, 120)
REMOVAL = oru("MRN1", "1001", START, 120, status="W", control_id="1001W")
MOVE = adt_a02("MRN1", "MOVE1", "ICU9")


def test_anonymous_removal_is_refused_and_the_result_stays(rt: Runtime, pg_engine: Engine) -> None:
    bind_feed(rt.uow(), "LIS", NOW, allow_ips=["127.0.0.1/32"])
    assert exchange(rt, [RESULT])[0][0] == "AA"
    bind_feed(rt.uow(), "LIS", NOW, allow_ips=["10.99.0.0/16"], allow={"removals", "adt"})
    # Now 127.0.0.1 is in no allow-list: this socket is anonymous, whatever its MSH-3 says.
    replies = exchange(rt, [REMOVAL, MOVE])
    assert [r[:2] for r in replies] == [("AR", "1001W"), ("AR", "MOVE1")]
    assert "unknown sender" in replies[0][2] and "ERR" in replies[0][2]
    assert [s for s, _ in rejects(pg_engine)] == ["hl7:unauthenticated"] * 2
    assert all("no feed is bound" in why for _, why in rejects(pg_engine))
    drain_inbox(rt)
    assert results(pg_engine) == [("hl7:LIS", "120", "final")]
    assert ward_of(pg_engine, "MRN1") == "MED4"


def test_a_results_only_feed_cannot_remove_or_move(rt: Runtime, pg_engine: Engine) -> None:
    bind_feed(rt.uow(), "LIS", NOW, allow_ips=["127.0.0.0/8"])
    replies = exchange(rt, [RESULT, REMOVAL, MOVE])
    assert [r[:2] for r in replies] == [("AA", "1001F"), ("AR", "1001W"), ("AR", "MOVE1")]
    assert "lacks the permission removals" in replies[1][2]
    assert "lacks the permission adt" in replies[2][2]
    assert [why for _, why in rejects(pg_engine)] == [
        "feed LIS lacks the permission removals (sodium-monitor feeds add --allow)",
        "feed LIS lacks the permission adt (sodium-monitor feeds add --allow)"]
    drain_inbox(rt)
    assert results(pg_engine) == [("hl7:LIS", "120", "final")]
    assert ward_of(pg_engine, "MRN1") == "MED4"


def test_plain_mllp_allow_ip_with_permissions_may_remove_and_move(
        rt: Runtime, pg_engine: Engine) -> None:
    bind_feed(rt.uow(), "LIS", NOW, allow_ips=["127.0.0.1/32"], allow={"removals", "adt"})
    assert [r[0] for r in exchange(rt, [RESULT, REMOVAL, MOVE])] == ["AA"] * 3
    drain_inbox(rt)
    assert [status for *_, status in results(pg_engine)] == ["final", "removed"]
    assert ward_of(pg_engine, "MRN1") == "ICU9"
    assert rejects(pg_engine) == []


def test_a_cert_bound_feed_can_remove_whatever_its_msh3(pg_engine: Engine, pg_migrated: str,
                                                       pki: Pki) -> None:
    rt = tls_rt(pg_migrated, pki)
    bind_feed(rt.uow(), "LIS", NOW, cert_cn="lis", allow={"removals"})
    borrowed = REMOVAL.replace("MSH|^~\\&|LIS|", "MSH|^~\\&|OTHERLAB|")
    replies = exchange(rt, [RESULT, borrowed], tls=server_context(pki),
                       client=client_context(pki, "lis"))
    assert [r[:2] for r in replies] == [("AA", "1001F"), ("AA", "1001W")]
    drain_inbox(rt)
    # Both under the connection's feed: the removal finds the result it removes.
    assert results(pg_engine) == [("hl7:LIS", "120", "final"), ("hl7:LIS", "120", "removed")]
    rt.engine.dispose()


def test_a_dns_san_names_the_feed_too(pg_engine: Engine, pg_migrated: str, pki: Pki) -> None:
    rt = tls_rt(pg_migrated, pki)
    bind_feed(rt.uow(), "LIS", NOW, cert_cn="lis.feeds.test")
    assert exchange(rt, [RESULT], tls=server_context(pki),
                    client=client_context(pki, "lis"))[0][0] == "AA"
    rt.engine.dispose()


def test_an_unknown_cn_gets_ar(pg_engine: Engine, pg_migrated: str, pki: Pki) -> None:
    rt = tls_rt(pg_migrated, pki)
    bind_feed(rt.uow(), "LIS", NOW, cert_cn="lis")
    reply = exchange(rt, [RESULT], tls=server_context(pki),
                     client=client_context(pki, "stranger"))[0]
    assert reply[:2] == ("AR", "1001F")
    assert "certificate stranger" in reply[2]
    assert [s for s, _ in rejects(pg_engine)] == ["hl7:unauthenticated"]
    rt.engine.dispose()


def test_the_client_ca_alone_closes_open_mode(pg_engine: Engine, pg_migrated: str,
                                              pki: Pki) -> None:
    """With SODIUM_MLLP_TLS_CLIENT_CA set and no feed bound yet, a valid certificate is
    still no feed: nothing is accepted on the strength of MSH-3."""
    rt = tls_rt(pg_migrated, pki)
    assert exchange(rt, [RESULT], tls=server_context(pki),
                    client=client_context(pki, "lis"))[0][0] == "AR"
    rt.engine.dispose()


@pytest.mark.parametrize("who", [None, "rogue"], ids=["no-certificate", "another-ca"])
def test_without_a_certificate_of_the_ca_no_connection(pg_engine: Engine, pg_migrated: str,
                                                       pki: Pki, who: str | None) -> None:
    rt = tls_rt(pg_migrated, pki)
    bind_feed(rt.uow(), "LIS", NOW, cert_cn="lis", allow={"removals"})
    with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
        exchange(rt, [REMOVAL], tls=server_context(pki), client=client_context(pki, who))
    assert results(pg_engine) == []
    # The refusal is kept: a reject row names the connection and why its handshake failed.
    [(source, reason)] = rejects(pg_engine)
    assert source == "hl7:unknown"
    assert reason.startswith("connection refused: TLS handshake failed (")
    with Session(pg_engine) as s:
        assert s.scalars(select(RejectRow.position)).one() == "MLLP connection from 127.0.0.1"
    rt.engine.dispose()


def test_loopback_without_feed_auth_keeps_open_mode(rt: Runtime, pg_engine: Engine) -> None:
    """The demo and the tests: nothing configured, loopback, named by MSH-3."""
    assert [r[0] for r in exchange(rt, [RESULT, REMOVAL])] == ["AA", "AA"]
    drain_inbox(rt)
    assert [(f, s) for f, _, s in results(pg_engine)] == [("hl7:LIS", "final"),
                                                          ("hl7:LIS", "removed")]


def test_a_non_loopback_bind_without_auth_refuses_to_start(rt: Runtime) -> None:
    with pytest.raises(InsecureBind, match="without feed authentication"):
        run_async(serve(rt, "0.0.0.0", 0, asyncio.Event()))


def test_insecure_allows_a_non_loopback_bind(rt: Runtime) -> None:
    async def start_and_stop() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(rt, "0.0.0.0", 0, stop, insecure=True))
        await asyncio.sleep(0.2)
        assert not task.done()
        stop.set()
        await task

    run_async(start_and_stop())


def test_an_allow_listed_feed_lets_it_bind(rt: Runtime) -> None:
    bind_feed(rt.uow(), "LIS", NOW, allow_ips=["10.1.2.0/24"])

    async def start_and_stop() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(serve(rt, "0.0.0.0", 0, stop))
        await asyncio.sleep(0.2)
        assert not task.done()
        stop.set()
        await task

    run_async(start_and_stop())


def test_retrying_a_refused_removal_does_not_apply_it(rt: Runtime, pg_engine: Engine) -> None:
    """`rejects retry` (CLI, admin page, API) must not bypass who the sender was."""
    bind_feed(rt.uow(), "LIS", NOW, allow_ips=["127.0.0.1/32"])
    assert [r[0] for r in exchange(rt, [RESULT, REMOVAL])] == ["AA", "AR"]
    with Session(pg_engine) as s:
        reject_id = s.scalars(select(RejectRow.id)).one()
    retry = retry_reject(rt.uow(), reject_id, rt.pipeline, NOW)
    assert (retry.outcome, retry.inbox_id) == ("rejected-again", None)
    assert "refused for its sender" in retry.detail
    drain_inbox(rt)
    assert results(pg_engine) == [("hl7:LIS", "120", "final")]
