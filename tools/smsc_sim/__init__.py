"""A simulated SMSC for tests, the demo and benchmarks.

In-process (tests)::

    async with running_smsc(users={"proxy": "proxypw"}, receipts=True) as smsc:
        ...  # point an ESME (or the proxy) at ("127.0.0.1", smsc.port)
        [rec] = await smsc.wait_for_submits(1, timeout=5)
        resp = await smsc.deliver(source_addr="447700900401", destination_addr="88088", text="STOP")

As a process (demo, benchmarks)::

    python -m tools.smsc_sim --host 127.0.0.1 --port 2776 --control-port 2777 --users proxy:proxypw
    python -m tools.smsc_ctl --port 2777 deliver --from 447700900401 --to 88088 --text STOP
    python -m tools.smsc_sim --selftest          # throughput check: 50,000 submit_sm, window 64

Fault injection (:meth:`SimulatedSmsc.throttle_next`, :meth:`~SimulatedSmsc.fail_next`,
:meth:`~SimulatedSmsc.generic_nack_next`, :meth:`~SimulatedSmsc.stall`,
:meth:`~SimulatedSmsc.respond_delay`, :meth:`~SimulatedSmsc.refuse_binds`,
:meth:`~SimulatedSmsc.unbind_all`, :meth:`~SimulatedSmsc.disconnect_all`) works in-process and through
the optional line-based JSON control port (see :data:`CONTROL_COMMANDS`).

The modules, one job each:

* :mod:`~tools.smsc_sim.model`: what it holds: sessions, received submits (``Received``), names;
* :mod:`~tools.smsc_sim.core`: answering binds and requests, recording them, the waits tests use;
* :mod:`~tools.smsc_sim.faults`: the armed faults and the answers they replace;
* :mod:`~tools.smsc_sim.receipts`: delivery receipts, their text and their send queue;
* :mod:`~tools.smsc_sim.timers`: the FIFO of due items behind delayed responses and receipts;
* :mod:`~tools.smsc_sim.server`: TCP/TLS serving, MO delivery, unbinding and dropping sessions;
* :mod:`~tools.smsc_sim.control`: the JSON control port;
* :mod:`~tools.smsc_sim.cli` and :mod:`~tools.smsc_sim.selftest`: ``python -m tools.smsc_sim``.
"""

from tools.smsc_sim.cli import main, parse_users
from tools.smsc_sim.control import CONTROL_COMMANDS
from tools.smsc_sim.core import submit_sm_resp
from tools.smsc_sim.model import NoReceiverError, Received, Session
from tools.smsc_sim.receipts import format_receipt
from tools.smsc_sim.server import SimulatedSmsc, running_smsc

__all__ = [
    "CONTROL_COMMANDS",
    "NoReceiverError",
    "Received",
    "Session",
    "SimulatedSmsc",
    "format_receipt",
    "main",
    "parse_users",
    "running_smsc",
    "submit_sm_resp",
]
