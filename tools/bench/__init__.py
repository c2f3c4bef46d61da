"""The throughput benchmark, ``python -m tools.bench`` (see :mod:`tools.bench.cli` for what it runs and
reports), and the pieces :mod:`tools.loadgen` and :mod:`tools.bench_core` share with it.

The modules, one job each:

* :mod:`~tools.bench.mixes`: the message mixes, accounts, destination numbers and pre-encoded frames;
* :mod:`~tools.bench.stats`: percentiles and medians;
* :mod:`~tools.bench.procfs`: ``/proc`` accounting of a process and of the machine;
* :mod:`~tools.bench.stores`: building, caching and copying stores of N suppressed numbers;
* :mod:`~tools.bench.proxy_config`: the benchmarked proxy's config file;
* :mod:`~tools.bench.optout_check`: is a new opt-out refused at once (a blocking ESME);
* :mod:`~tools.bench.pyspy`: where the proxy's CPU went, from py-spy's collapsed stacks;
* :mod:`~tools.bench.environment`: the machine and code a run measured;
* :mod:`~tools.bench.services`: the child processes (simulator, proxy);
* :mod:`~tools.bench.runs`: one measured load generator run;
* :mod:`~tools.bench.summary`: medians over repetitions, store costs;
* :mod:`~tools.bench.store_run`: everything measured on one store size;
* :mod:`~tools.bench.report`: the table and the targets;
* :mod:`~tools.bench.cli`: the command line.

Nothing is imported here, so the load generator (a process of its own) loads only what it uses.
"""
