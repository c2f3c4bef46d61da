"""`make run`: the simulated SMSCs, a real `stopgate run` in front of them, and a short walkthrough.

1. starts a simulated SMSC for each distinct local address among the config's upstreams (127.0.0.1,
   localhost, ::1; the first upstream's when none is local), each with its control port on the next
   port up (any free port when that one is another simulator's), and prints them,
2. starts `stopgate run --config FILE` as its own process,
3. binds an ESME (smpplib, the same third-party client the tests use) as the first marketing account,
   sends a message, has the SMSC its submits go to (the first upstream of its route) deliver "STOP"
   from the subscriber, and sends again,
4. keeps everything running, with the demo's ESME still bound (it prints what it receives), so you can
   inject MOs and point your own ESME at the proxy; Ctrl-C stops both.

Inject an MO yourself while it runs:
    python -m tools.smsc_ctl --port 2777 deliver --from 447700900401 --to 88088 --text STOP

Every run works on the same store: the walkthrough's subscriber is one of a pool of 1,000 fictional
numbers that is not opted out yet (earlier runs' STOPs are kept, as the store is meant to).
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
import httpx
import smpplib.client
import smpplib.consts
import structlog

from gateway.config import AccountConfig, Config, load_config
from gateway.ops.logs import configure_logging
from gateway.ops.route_view import check_route
from gateway.store.model import Channel, Event, EventType
from gateway.store.sqlite import SQLiteStore
from tools.smsc_sim import SimulatedSmsc

#: Fictional UK mobiles (Ofcom's drama range): the walkthrough's subscriber is one of these.
POOL = [f"447700900{n:03d}" for n in range(1000)]
SHORT_CODE = "88088"


#: Addresses a simulator can listen on for an upstream.
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class SimPlan:
    """One simulator to start: where, which upstreams it stands for, who may bind."""

    host: str
    port: int
    #: 0: any free port (the next port up is another simulator's).
    control_port: int
    upstreams: tuple[str, ...]
    users: dict[str, str]


def plan_sims(config: Config) -> list[SimPlan]:
    """One simulator per distinct local (host, port) of the upstreams, in config order."""
    upstreams = list(config.upstreams.values())
    local = [u for u in upstreams if u.host in LOCAL_HOSTS] or upstreams[:1]
    by_address: dict[tuple[str, int], list[str]] = {}
    users: dict[tuple[str, int], dict[str, str]] = {}
    for upstream in local:
        address = (upstream.host, upstream.port)
        by_address.setdefault(address, []).append(upstream.name)
        users.setdefault(address, {})[upstream.system_id] = upstream.password
    taken = {port for _, port in by_address}
    plans = []
    for (host, port), names in by_address.items():
        control = port + 1 if port + 1 not in taken else 0
        taken.add(control)
        plans.append(SimPlan(host, port, control, tuple(names), users[(host, port)]))
    return plans


def sim_of(sims: dict[str, SimulatedSmsc], config: Config, subscriber: str) -> SimulatedSmsc:
    """The simulator the demo account's submits to ``subscriber`` go to first."""
    account = demo_account(config)
    first = check_route(config, account.system_id, f"+{subscriber}")["upstreams"][0]
    return sims.get(first) or next(iter(sims.values()))


def demo_account(config: Config) -> AccountConfig:
    return next(a for a in config.accounts.values() if a.traffic == "marketing" and a.password)


async def pick_subscriber(config: Config) -> str:
    """A pool number not opted out in the demo account's scope (the store keeps earlier runs' STOPs);
    when every one is, the demo lifts its own opt-out of one (its own state, recorded as such)."""
    scope = demo_account(config).scope
    candidates = random.sample(POOL, len(POOL))
    async with SQLiteStore(config.storage.path) as store:
        for number in candidates:
            if await store.get_suppression(scope, f"+{number}") is None:
                return number
        number = candidates[0]
        await store.opt_in(
            Event(
                type=EventType.ADMIN_REMOVE,
                number=f"+{number}",
                scope=scope,
                channel=Channel.CLI,
                operator="demo",
                reason="demo: every pool number was opted out by earlier runs",
            )
        )
        return number


def say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def bind_client(config: Config, port: int) -> smpplib.client.Client:
    account = demo_account(config)
    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    client.set_message_received_handler(
        lambda pdu, **_: print(f"    ESME received deliver_sm: {pdu.short_message!r}", flush=True)
    )
    client.set_error_pdu_handler(lambda pdu: None)
    client.connect()
    client.bind_transceiver(system_id=account.system_id, password=account.password)
    return client


def stay_bound(client: smpplib.client.Client) -> None:
    """Keep the ESME bound and answering (enquire_link, deliver_sm) until the demo stops: the
    README's next step injects an MO, and the SMSC needs a bound receiver to deliver it."""

    def listen() -> None:
        try:
            client.listen()
        except Exception:  # the proxy went away (Ctrl-C): nothing left to answer
            return

    threading.Thread(target=listen, name="demo-esme", daemon=True).start()


def walkthrough(
    config: Config,
    port: int,
    smsc: SimulatedSmsc,
    portal: anyio.from_thread.BlockingPortal,
    subscriber: str,
) -> smpplib.client.Client:
    """The ESME side, blocking (smpplib), run in a worker thread; returns the client, still bound."""
    account = demo_account(config)
    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    answers: list[object] = []
    client.set_message_sent_handler(lambda pdu, **_: answers.append(pdu))
    client.set_message_received_handler(
        lambda pdu, **_: print(f"    ESME received deliver_sm: {pdu.short_message!r}")
    )
    client.set_error_pdu_handler(lambda pdu: None)
    client.connect()
    client.bind_transceiver(system_id=account.system_id, password=account.password)
    say(f"ESME bound to Stopgate on 127.0.0.1:{port} as {account.system_id!r}")

    def send(text: str) -> object:
        before = len(answers)
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="ACME",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr=subscriber,
            short_message=text.encode(),
        )
        while len(answers) == before:
            client.read_once()
        return answers[-1]

    resp = send("Spring sale: 20% off everything today!")
    say(f"submit_sm relayed: status {resp.status}, SMSC message_id {resp.message_id!r}")  # type: ignore[attr-defined]
    if resp.status:  # type: ignore[attr-defined]
        raise WalkthroughFailed(f"the first submit was refused with status 0x{resp.status:08x}")  # type: ignore[attr-defined]
    print(f"    the SMSC received: {smsc.received[-1].text!r}  (footer added by Stopgate)")
    say(f"the subscriber +{subscriber} texts STOP to {SHORT_CODE}")
    # The proxy forwards the MO to this ESME and relays our answer: read it while the SMSC waits.
    future = portal.start_task_soon(
        lambda: smsc.deliver(source_addr=subscriber, destination_addr=SHORT_CODE, text="STOP")
    )
    client.read_once()  # the MO, forwarded to the ESME
    status = future.result(timeout=10)
    print(
        f"    deliver_sm_resp to the SMSC: status {status.command_status} (after the opt-out was committed)"
    )
    portal.call(anyio.sleep, 0.3)
    print(f"    the SMSC received the confirmation: {smsc.received[-1].text!r}")
    resp = send("Last chance: sale ends tonight!")
    say(f"the next marketing submit is refused: status 0x{resp.status:08x} (ESME never reaches the SMSC)")  # type: ignore[attr-defined]
    client.set_message_sent_handler(lambda pdu, **_: None)
    return client


class WalkthroughFailed(Exception):
    """The walkthrough met something other than what it shows (the proxy's log says why)."""


async def wait_ready(config: Config, process: anyio.abc.Process) -> None:
    """Until ``/readyz`` answers 200: in pooled mode the proxy accepts ESMEs before its own binds to
    the SMSCs are up, and a walkthrough submit then would be refused ESME_RMSGQFUL."""
    if not config.admin.enabled:
        return
    url = f"http://{config.admin.listen}/readyz"
    async with httpx.AsyncClient(timeout=2.0) as client:
        while process.returncode is None:
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await anyio.sleep(0.1)


async def main(config_path: Path, walk: bool) -> int:
    config = load_config(config_path)
    configure_logging(config.logging)
    plans = plan_sims(config)
    smscs = [
        SimulatedSmsc(
            host=plan.host,
            port=plan.port,
            users=plan.users,
            control_port=plan.control_port,
            log=structlog.get_logger("smsc_sim").bind(upstream=",".join(plan.upstreams)),
        )
        for plan in plans
    ]
    sims = {name: sim for plan, sim in zip(plans, smscs, strict=True) for name in plan.upstreams}
    subscriber = await pick_subscriber(config) if walk else POOL[0]
    smsc = sim_of(sims, config, subscriber)
    async with anyio.create_task_group() as tg:
        for each in smscs:
            await tg.start(each.serve)
        for plan, each in zip(plans, smscs, strict=True):
            say(
                f"simulated SMSC for {', '.join(plan.upstreams)} on {plan.host}:{each.port} "
                f"(control port {each.control_port})"
            )
        process = await anyio.open_process(
            [sys.executable, "-m", "gateway", "run", "--config", str(config_path)], stdout=None, stderr=None
        )
        try:
            with anyio.fail_after(20):
                while True:
                    try:
                        await (await anyio.connect_tcp(config.listen.host, config.listen.port)).aclose()
                        break
                    except OSError:
                        if process.returncode is not None:
                            print("stopgate exited; see its log above", file=sys.stderr)
                            return 1
                        await anyio.sleep(0.1)
                await wait_ready(config, process)
            if walk:
                async with anyio.from_thread.BlockingPortal() as portal:
                    try:
                        client = await anyio.to_thread.run_sync(
                            walkthrough, config, config.listen.port, smsc, portal, subscriber
                        )
                    except WalkthroughFailed as exc:
                        print(f"stopgate: demo: {exc}; see the log above", file=sys.stderr)
                        return 1
            else:
                client = await anyio.to_thread.run_sync(bind_client, config, config.listen.port)
            stay_bound(client)
            say(
                f"Compliance console: http://{config.admin.listen}/ui/ (sign in with the admin token "
                f"{next((t.token for t in config.admin.credentials if t.token), 'from [admin] tokens')!r})"
            )
            say(
                f"Stopgate listens on {config.listen.host}:{config.listen.port}, the simulated SMSC "
                f"of the walkthrough on {smsc.port} (control port {smsc.control_port}); the demo's ESME "
                f"stays bound as {demo_account(config).system_id!r} and prints what it receives. Try:\n"
                f"    .venv/bin/python -m tools.smsc_ctl --port {smsc.control_port} deliver "
                f"--from 447700900401 --to {SHORT_CODE} --text STOP\n"
                "Ctrl-C to stop."
            )
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    break
        finally:
            with anyio.CancelScope(shield=True):
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                    with anyio.move_on_after(10):
                        await process.wait()
                    if process.returncode is None:
                        process.kill()
                for each in smscs:
                    await each.stop()
        tg.cancel_scope.cancel()
    return 0


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("config/example.toml"))
    parser.add_argument("--no-walkthrough", action="store_true", help="only start the SMSC and the proxy")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.config, not args.no_walkthrough))


if __name__ == "__main__":
    cli()
