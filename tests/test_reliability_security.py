"""Security against a real `stopgate run` process (issue #6): credentials, bind throttling, session
limits, TLS on both legs with a CA made here, file modes, what the logs may contain, and the admin API's
locked suppression list."""

from __future__ import annotations

import hmac
import ssl
import stat
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.tls import TLSAttribute

from gateway.config import AccountConfig, passwords
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import EnquireLink, SubmitSm
from tests.live import ADMIN_TOKEN, Live, account, live_stack, upstream
from tests.stack import BASE, merge
from tools.ports import free_port
from tools.smpp_peer import PeerClosed, SmppPeer, connect_peer
from tools.smsc_sim import SimulatedSmsc

pytestmark = pytest.mark.anyio

S = CommandStatus
C = CommandId
NUMBER = "447700900401"


async def submit(esme: SmppPeer, text: bytes = b"hello", number: str = NUMBER) -> Any:
    return await esme.request(
        SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=text)
    )


async def bind_status(port: int, system_id: str, password: str, *, local_host: str | None = None) -> int:
    async with connect_peer(port, local_host=local_host) as esme:
        return int((await esme.bind(system_id, password, check=False)).command_status)


# --- passwords ------------------------------------------------------------------------------------


def test_passwords_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(passwords.hmac, "compare_digest", recording)
    plain = AccountConfig(system_id="a", password="s3cret", password_hash=None, upstream="u", scope="a")
    assert plain.verify_password("s3cret") and not plain.verify_password("s3creT")
    hashed = AccountConfig(
        system_id="a",
        password=None,
        password_hash=passwords.hash_password("s3cret", iterations=1000),
        upstream="u",
        scope="a",
    )
    passwords.clear_cache()
    assert hashed.verify_password("s3cret") and not hashed.verify_password("wrong")
    assert len(calls) == 4  # every comparison, plain or hashed, went through hmac.compare_digest


def hash_with_the_cli(password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", "hash-password", "--password", password],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_a_hashed_password_from_stopgate_hash_password_binds_end_to_end(tmp_path: Path) -> None:
    made = hash_with_the_cli("s3cret")
    assert made.returncode == 0, made.stderr
    hashed = made.stdout.strip()
    assert hashed.startswith("pbkdf2_sha256$200000$")
    acme = {k: v for k, v in BASE["account"][0].items() if k != "password"}
    override = {"account": [{**acme, "password_hash": hashed}, *BASE["account"][1:]]}
    async with live_stack(tmp_path, override) as live:
        assert "s3cret" not in live.config_path.read_text()
        assert await bind_status(live.port, "acme", "s3cret") == S.ESME_ROK
        assert await bind_status(live.port, "acme", "s3creT") == S.ESME_RINVPASWD
        assert await bind_status(live.port, "acme", "s3cret") == S.ESME_ROK  # verified from the cache
        assert "s3cret" not in live.log()


def test_hash_password_refuses_what_smpp_cannot_carry() -> None:
    for bad in ("ninechars", ""):
        made = hash_with_the_cli(bad)
        assert made.returncode == 2 and "1-8 printable ASCII" in made.stderr


async def test_the_8_octet_password_limit_applies_on_the_wire(tmp_path: Path) -> None:
    """A bind whose password field holds 9 octets before its NUL is refused as malformed (§4.1.1:
    password is a C-Octet String of at most 9 octets with the NUL), never compared."""
    async with live_stack(tmp_path, account(password="acmepw12")) as live:
        assert await bind_status(live.port, "acme", "acmepw12") == S.ESME_ROK  # 8 octets: fine
        body = b"acme\x00" + b"acmepw123\x00" + b"\x00" + b"\x34\x00\x00\x00"
        frame = struct.pack(">IIII", 16 + len(body), C.BIND_TRANSCEIVER, 0, 3) + body
        async with connect_peer(live.port) as esme:
            resp = await esme.exchange(frame, 3)
            assert (resp.command_id, resp.command_status) == (C.BIND_TRANSCEIVER_RESP, S.ESME_RINVPASWD)
            assert (await esme.request(EnquireLink())).command_status == S.ESME_ROK  # not a framing error


# --- bind throttling and session limits -----------------------------------------------------------


async def test_failed_binds_lock_the_source_out_with_backoff_per_ip(tmp_path: Path) -> None:
    security = {
        "max_failed_binds": 3,
        "failed_bind_window": 60.0,
        "lockout_seconds": 1.0,
        "max_lockout_seconds": 4.0,
    }
    async with live_stack(tmp_path, {"security": security}) as live:
        port = live.port
        statuses = [await bind_status(port, "acme", f"wrong{i}") for i in range(3)]
        assert statuses == [S.ESME_RINVPASWD] * 3
        locked_at = anyio.current_time()
        # Locked out: even the right password is refused, and the connection is closed.
        async with connect_peer(port) as esme:
            assert (await esme.bind("acme", "acmepw", check=False)).command_status == S.ESME_RBINDFAIL
            await esme.wait_closed(3)
        # Per source address: another client is not affected.
        assert await bind_status(port, "acme", "acmepw", local_host="127.0.0.2") == S.ESME_ROK
        # Wrong again while locked does not extend the lockout; it ends after lockout_seconds.
        await anyio.sleep(max(0.0, locked_at + 1.1 - anyio.current_time()))
        statuses = [await bind_status(port, "acme", f"again{i}") for i in range(3)]
        assert statuses == [S.ESME_RINVPASWD] * 3
        relocked_at = anyio.current_time()
        # The second lockout lasts twice as long (backoff).
        await anyio.sleep(max(0.0, relocked_at + 1.3 - anyio.current_time()))
        assert await bind_status(port, "acme", "acmepw") == S.ESME_RBINDFAIL
        await anyio.sleep(max(0.0, relocked_at + 2.2 - anyio.current_time()))
        assert await bind_status(port, "acme", "acmepw") == S.ESME_ROK
        log = live.log()
        assert log.count('"locked_out": true') == 2
        assert "wrong0" not in log and "acmepw" not in log


async def test_each_account_has_a_maximum_session_count(tmp_path: Path) -> None:
    async with live_stack(tmp_path, account(max_sessions=2)) as live:
        async with connect_peer(live.port) as first, connect_peer(live.port) as second:
            await first.bind("acme", "acmepw")
            await second.bind("acme", "acmepw")
            assert await bind_status(live.port, "acme", "acmepw") == S.ESME_RBINDFAIL
            assert await bind_status(live.port, "other", "otherpw") == S.ESME_ROK  # per account
            await first.abort()  # a dropped session frees its slot
            with anyio.fail_after(5):
                while await bind_status(live.port, "acme", "acmepw") != S.ESME_ROK:
                    await anyio.sleep(0.05)
            assert (await submit(second)).command_status == S.ESME_ROK
        # A refusal for the session limit is not a failed password: no lockout builds up.
        assert '"locked_out": true' not in live.log()


# --- TLS ------------------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A self-signed CA and a server certificate for 127.0.0.1 signed by it: (ca, cert, key)."""
    directory.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        f"{name}-ca.key",
        "-out",
        f"{name}-ca.pem",
        "-days",
        "2",
        "-subj",
        f"/CN={name} test CA",
        cwd=directory,
    )
    openssl(
        "req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", "/CN=127.0.0.1", cwd=directory
    )
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{name}-ca.pem",
        "-CAkey",
        f"{name}-ca.key",
        "-CAcreateserial",
        "-out",
        f"{name}.pem",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
        cwd=directory,
    )
    return directory / f"{name}-ca.pem", directory / f"{name}.pem", directory / f"{name}.key"


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_tls_listener_for_esmes_and_tls_to_the_upstream_with_a_self_signed_ca(tmp_path: Path) -> None:
    ca, cert, key = make_ca(tmp_path / "pki", "stopgate")
    tls_port = free_port()
    override = merge(
        upstream(tls=True, tls_ca=str(ca)),
        {
            "listen": {"tls_cert": str(cert), "tls_key": str(key), "tls_port": tls_port},
            "session": {"bind_timeout": 1.5},
        },
    )
    smsc = SimulatedSmsc(users={"proxy": "proxypw"}, ssl_context=server_context(cert, key))
    client = ssl.create_default_context(cafile=str(ca))
    async with live_stack(tmp_path, override, smsc=smsc) as live:
        async with connect_peer(tls_port, ssl_context=client) as esme:
            await esme.bind("acme", "acmepw")
            assert (await submit(esme, b"over TLS")).command_status == S.ESME_ROK
            (session,) = smsc.bound_sessions
            cipher = session.link.stream.extra(TLSAttribute.cipher)
            assert cipher  # the upstream leg is TLS too
        async with connect_peer(live.port) as plain:  # the plain listener still serves
            await plain.bind("acme", "acmepw")
        # Plain SMPP to the TLS port: no handshake, no answer, closed.
        async with connect_peer(tls_port) as confused:
            with pytest.raises((PeerClosed, TimeoutError)):
                await confused.bind("acme", "acmepw", timeout=3)
            await confused.wait_closed(3)
        # A TLS client that never finishes its handshake is dropped after bind_timeout.
        started = anyio.current_time()
        async with await anyio.connect_tcp("127.0.0.1", tls_port) as silent:
            with anyio.fail_after(5), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                await silent.receive()
        assert 1.3 < anyio.current_time() - started < 4.0
        # A client that does not trust the proxy's CA refuses to talk to it.
        with pytest.raises(ssl.SSLError):
            async with connect_peer(tls_port, ssl_context=ssl.create_default_context()):
                pass


async def test_the_upstream_certificate_is_verified(tmp_path: Path) -> None:
    ca, _, _ = make_ca(tmp_path / "trusted", "trusted")
    _, rogue_cert, rogue_key = make_ca(tmp_path / "rogue", "rogue")
    smsc = SimulatedSmsc(users={"proxy": "proxypw"}, ssl_context=server_context(rogue_cert, rogue_key))
    override = merge(upstream(tls=True, tls_ca=str(ca), bind_timeout=1.0), account())
    async with live_stack(tmp_path, override, smsc=smsc) as live:
        assert await bind_status(live.port, "acme", "acmepw") == S.ESME_RBINDFAIL
        assert smsc.bound_sessions == [] and smsc.counters["binds"] == 0
        assert "CERTIFICATE_VERIFY_FAILED" in live.log()


# --- files and logs -------------------------------------------------------------------------------


async def test_the_store_files_are_created_0600(tmp_path: Path) -> None:
    async with live_stack(tmp_path) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        assert (
            await live.smsc.deliver(source_addr=NUMBER, destination_addr="88088", text="STOP")
        ).command_status == 0
        for path in (
            live.db_path,
            live.db_path.with_name("stopgate.db-wal"),
            live.db_path.with_name("stopgate.db-shm"),
        ):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


async def traffic_for_the_logs(live: Live) -> None:
    """Everything that could leak: good and bad passwords, a message body, an MO STOP and a chatty MO."""
    assert await bind_status(live.port, "acme", "Wr0ngPw1") == S.ESME_RINVPASWD
    async with connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        assert (await submit(esme, b"SECRET-BODY-1234")).command_status == S.ESME_ROK
        smsc = live.smsc
        await smsc.deliver(source_addr=NUMBER, destination_addr="88088", text="STOP please now")
        await smsc.deliver(source_addr="447700900402", destination_addr="88088", text="my PIN is 4321")
        assert (await submit(esme, b"after STOP")).command_status == S.ESME_RSUBMITFAIL


@pytest.mark.parametrize(
    ("settings", "numbers_shown", "text_shown"),
    [
        ({}, True, False),  # the defaults: bodies hidden
        ({"mask_numbers": True}, False, False),
        ({"log_message_text": True}, True, True),
    ],
)
async def test_logs_never_hold_passwords_and_hold_bodies_and_numbers_only_as_configured(
    tmp_path: Path, settings: dict[str, bool], numbers_shown: bool, text_shown: bool
) -> None:
    async with live_stack(tmp_path, {"logging": {"level": "debug", **settings}}) as live:
        await traffic_for_the_logs(live)
        await anyio.sleep(0.3)  # the confirmation and the flush of queued events
        log = live.log()
    assert '"event": "opted out"' in log
    for secret in ("acmepw", "proxypw", "Wr0ngPw1", "SECRET-BODY", "my PIN is"):
        assert secret not in log, secret
    assert ("7700900401" in log) is numbers_shown
    if not numbers_shown:
        assert '"number": "+447*******01"' in log  # the line is there, masked
    assert ("STOP please now" in log) is text_shown
    if not text_shown:
        assert '"text": "<15 chars hidden>"' in log


# --- the admin API --------------------------------------------------------------------------------


async def test_the_suppression_list_is_never_reachable_without_a_token(tmp_path: Path) -> None:
    async with live_stack(tmp_path, admin=True) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        await live.smsc.deliver(source_addr=NUMBER, destination_addr="88088", text="STOP")
        for path in ("/v1/suppressions", f"/v1/suppressions/+{NUMBER}", "/v1/events"):
            for token in (None, "wrong-token", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
                resp = await live.admin(path, token=token)
                assert resp.status_code == 401, (path, token)
                assert NUMBER not in resp.text
        for method in ("POST", "DELETE"):
            resp = await live.admin(f"/v1/suppressions/+{NUMBER}", token=None, method=method)
            assert resp.status_code in (401, 405)
        listed = await live.admin("/v1/suppressions")
        assert listed.status_code == 200 and NUMBER in listed.text
        assert ADMIN_TOKEN not in live.log()


async def test_with_no_tokens_configured_the_api_stays_locked(tmp_path: Path) -> None:
    async with live_stack(tmp_path, admin=True) as live:
        live.data["admin"]["tokens"] = []
        path = live.config_path
        from tools.config_toml import to_toml

        path.write_text(to_toml(live.data))
        live.process.send_signal(1)  # SIGHUP: reload
        with anyio.fail_after(5):
            while (await live.admin("/v1/suppressions")).status_code != 401:
                await anyio.sleep(0.05)
        resp = await live.admin("/v1/suppressions")
        assert "no admin tokens are configured" in resp.json()["error"]
