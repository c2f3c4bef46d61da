"""Developer tools: the simulated SMSC, the demo, the benchmarks, the reliability runs and the fuzzers.

Each is a program of its own (``python -m tools.<name>``), and some are also what the tests drive:

* ``smsc_sim`` (with its client ``smsc_ctl``): the upstream SMSC of the demo, the benchmarks and the
  end-to-end tests;
* ``smpp_peer``: a raw SMPP peer (an ESME or a fake SMSC that does what it is told);
* ``stopgate_process``, ``ports``, ``config_toml``: starting ``stopgate run`` as a process on a written
  config and free ports;
* ``reliability``, ``fuzz_smpp``, ``fuzz_session``: the scenarios and fuzzers the suite runs small.

They stay here rather than in ``tests/`` because the full-size runs (``make run``, ``make bench``,
``python -m tools.reliability``, the fuzzers) are the same code as the tests' bounded runs: the
figures in the docs are measured by what CI checks. Support only the tests need (the in-process stack,
the smpplib ESME, the test config) lives in ``tests/``. Dependencies point one way: tests import tools,
tools never import tests.
"""
