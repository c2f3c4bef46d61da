"""Fuzz the sans-IO SMPP core (after h11's ``fuzz/afl-server.py``).

Invariant: any byte string given to :func:`gateway.smpp.codec.decode` either parses into a PDU or raises
:class:`ProtocolError`, and any byte string fed to a :class:`Connection` (in either role, in every session
state, whole or in chunks) only produces events and queued bytes; the core never raises. On top of that
the checks below hold for every input:

* a decoded PDU re-encodes to the same frame (``encode``), decodes again to an equal PDU from its fields
  (``encode_fields``), and a decoded *request* re-encodes from its fields byte for byte;
* the submit_sm/deliver_sm fast path gives the same result as the table-driven decoder;
* a ProtocolError for a frame whose header is readable names that header's command_id and sequence
  number, and is fatal exactly when command_length disagrees with the frame;
* every byte the core queues by itself (error responses, generic_nack) is a valid frame;
* feeding the same bytes whole or in chunks gives the same events and the same final state.

Inputs are mutations of valid PDUs of every command (bit flips, interesting bytes, truncations, length
field corruption, command_id swaps, inserted and deleted bytes, random TLVs, splices) plus random bytes.

    python -m tools.fuzz_smpp --count 100000 --seed 1
    python -m tools.fuzz_smpp --atheris            # coverage-guided, when atheris is installed

Exit status 0 when every input behaved; 1 after printing the first crashing input as hex.

:mod:`~tools.fuzz_smpp.corpus` makes the inputs, :mod:`~tools.fuzz_smpp.scenarios` the connections,
:mod:`~tools.fuzz_smpp.checks` holds the invariants, :mod:`~tools.fuzz_smpp.driver` runs them and
:mod:`~tools.fuzz_smpp.cli` is the command line.
"""

from tools.fuzz_smpp.checks import InvariantError, check_connection, check_decode
from tools.fuzz_smpp.cli import main
from tools.fuzz_smpp.corpus import SEEDS, generate, seed_pdus
from tools.fuzz_smpp.driver import Crash, Report, fuzz_one, print_report, run
from tools.fuzz_smpp.scenarios import SCENARIOS

__all__ = [
    "SCENARIOS",
    "SEEDS",
    "Crash",
    "InvariantError",
    "Report",
    "check_connection",
    "check_decode",
    "fuzz_one",
    "generate",
    "main",
    "print_report",
    "run",
    "seed_pdus",
]
