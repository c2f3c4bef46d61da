"""What the number lookup's "Webhooks" column costs (issue 17), as ratios to the plain lookup.

On the console bench's SQLite store (:func:`tools.bench_console.build`, reused with ``--keep``), it
times ``GET /ui/numbers`` for one number with no webhook configured, with one (``crm``, subscribed to
every event type, past the whole log) and with a second (``ledger``, also past it, with
:data:`~gateway.ops.console.deliveries.DEAD_LETTER_SCAN` dead letters older than the number's events:
the most the page reads). The three configs share one store and one signed-in client, take turns
run by run (so a load spike on a shared machine hits all three alike), and each is fetched once
untimed first.

    python -m tools.bench_console_webhooks --suppressions 1000000 --events 5000000 --keep /tmp/b.db
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

from gateway.config import Config, parse_config
from gateway.config.integrations import WEBHOOK_EVENTS
from gateway.ops.admin import AdminServer
from gateway.ops.console.deliveries import DEAD_LETTER_SCAN
from gateway.store import DeadLetter, Store
from gateway.store.sqlite import SQLiteStore
from tools.bench_console import build
from tools.bench_console_common import console_arguments
from tools.console_client import admin_context, sign_in

TOKEN = "bench-token"
LOOKUP = "/ui/numbers?number=07700000042"  # an imported number with a few events of each kind
WEBHOOKS = [
    {"name": name, "url": f"http://127.0.0.1:9/{name}", "secret": "k", "events": list(WEBHOOK_EVENTS)}
    for name in ("crm", "ledger")
]
#: A cursor past any event the bench builds.
PAST_ALL = 10**15
CASES = ("no webhook", "webhook crm", f"webhooks crm and ledger ({DEAD_LETTER_SCAN:,} dead letters)")


async def seed(store: Store) -> None:
    """crm and ledger past the whole log; ledger dead-lettered the first DEAD_LETTER_SCAN events."""
    if (await store.webhook_state("crm")).cursor == PAST_ALL:
        return  # a kept store seeded before
    now = datetime.now(UTC)
    for i in range(1, DEAD_LETTER_SCAN + 1):
        dead = DeadLetter(webhook="ledger", event_id=i, ts=now, error="HTTP 500")
        assert await store.advance_webhook("ledger", i - 1, i, dead)
    assert await store.advance_webhook("ledger", DEAD_LETTER_SCAN, PAST_ALL)
    assert await store.advance_webhook("crm", 0, PAST_ALL)


async def timed(path: Path, runs: int) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "admin": {"listen": "127.0.0.1:0", "tokens": [TOKEN]},
        "upstream": [{"name": "sim", "host": "127.0.0.1", "port": 2775, "system_id": "p", "password": "p"}],
        "account": [{"system_id": "acme", "password": "pw", "upstream": "sim", "scope": "acme"}],
    }
    configs = [parse_config({**raw, "webhook": WEBHOOKS[:n]}, path.parent) for n in (0, 1, 2)]
    current: list[Config] = [configs[0]]
    async with SQLiteStore(path, pragmas={"cache_size": -262144}) as store:
        await seed(store)
        context = admin_context(store, lambda: current[0])
        app = AdminServer(context).asgi
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://admin", timeout=60
        ) as client:
            await sign_in(client, TOKEN)
            times: dict[str, list[float]] = {case: [] for case in CASES}
            for run in range(runs + 1):
                for case, config in zip(CASES, configs, strict=True):
                    current[0] = config
                    t0 = time.perf_counter()
                    resp = await client.get(LOOKUP)
                    took = (time.perf_counter() - t0) * 1000
                    assert resp.status_code == 200, resp.text[:500]
                    assert (config.webhooks == ()) != ('crm <span class="state">' in resp.text), case
                    if run:  # the first round warms the caches
                        times[case].append(took)
    base = statistics.median(times[CASES[0]])
    return {
        case: {
            "median_ms": round(statistics.median(t), 1),
            "max_ms": round(max(t), 1),
            "ratio_to_no_webhook": round(statistics.median(t) / base, 2),
        }
        for case, t in times.items()
    }


def main() -> None:
    parser = console_arguments("python -m tools.bench_console_webhooks", __doc__.splitlines()[0], runs=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "console-bench.db"
        if not path.exists():
            took = build(path, args.suppressions, args.events)
            print(
                f"built {args.suppressions:,} suppressions / {args.events:,} events in {took:.1f} s",
                flush=True,
            )
        print(f"store {path}", flush=True)
        for name, value in anyio.run(timed, path, args.runs).items():
            print(f"  number lookup, {name}: {value}")


if __name__ == "__main__":
    main()
