"""Reliability scenarios against a real ``stopgate run`` process, with measurements.

The tests in ``tests/test_reliability_*.py`` run these with small counts; ``python -m tools.reliability``
runs them at full size and prints the figures recorded in ``docs/RELIABILITY.md``::

    python -m tools.reliability cycles --count 1000     # connect/bind/disconnect: fds, tasks, RSS flat
    python -m tools.reliability idle --count 1000       # never-binding connections: memory, bind timeout
    python -m tools.reliability crash --count 2000      # STOP burst + kill -9: opt-outs lost
    python -m tools.reliability all

Each command starts the simulated SMSC in this process and Stopgate as a subprocess (``python -m gateway
run``) with a generated config in a temporary directory, so nothing else needs to be running.
Measurements come from ``/proc/<pid>`` (open fds, RSS) and the admin API's ``stopgate_tasks`` gauge.

:mod:`~tools.reliability.measure` reads a process; :mod:`~tools.reliability.scenarios` drives one;
:mod:`~tools.reliability.stack` starts the simulator and Stopgate; :mod:`~tools.reliability.cli` is the
command line.
"""

from tools.reliability.measure import (
    ProcStats,
    Snapshot,
    proc_stats,
    scrape_metrics,
    settled_stats,
    snapshot,
    wait_for,
)
from tools.reliability.scenarios import (
    SHORT_CODE,
    BurstResult,
    IdleResult,
    burst_numbers,
    connect_cycles,
    hold_idle_connections,
    lost_optouts,
    stop_burst,
    suppressed_in_file,
)
from tools.reliability.stack import Running, running_stopgate, sim_and_stopgate

__all__ = [
    "SHORT_CODE",
    "BurstResult",
    "IdleResult",
    "ProcStats",
    "Running",
    "Snapshot",
    "burst_numbers",
    "connect_cycles",
    "hold_idle_connections",
    "lost_optouts",
    "proc_stats",
    "running_stopgate",
    "scrape_metrics",
    "settled_stats",
    "sim_and_stopgate",
    "snapshot",
    "stop_burst",
    "suppressed_in_file",
    "wait_for",
]
