"""Fuzz the sans-IO SMPP core (after h11's ``fuzz/afl-server.py``): ``python -m tools.fuzz_smpp``.

    python -m tools.fuzz_smpp --count 100000 --seed 1
    python -m tools.fuzz_smpp --atheris            # coverage-guided, when atheris is installed
    python -m tools.fuzz_smpp --hex 0000001000000015...   # replay one input in every scenario

Exit status 0 when every input behaved; 1 after printing the first crashing input as hex.
"""

from __future__ import annotations

import argparse
import random
import sys
import traceback
from collections.abc import Sequence

from tools.fuzz_smpp.driver import Report, fuzz_one, print_report, run
from tools.fuzz_smpp.scenarios import SCENARIOS


def _run_atheris(argv: Sequence[str]) -> int:  # pragma: no cover - needs atheris
    import atheris

    rng = random.Random(0)
    report = Report()

    def test_one_input(data: bytes) -> None:
        scenario = list(SCENARIOS)[data[0] % len(SCENARIOS)] if data else "smsc/open"
        try:
            fuzz_one(data, rng, report, scenario)
        except Exception:
            print(f"input hex: {data.hex()}", flush=True)
            raise

    atheris.Setup([sys.argv[0], *argv], test_one_input)
    atheris.Fuzz()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs to run (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing with atheris")
    parser.add_argument("--hex", help="run one input given as hex (to replay a crash) and exit")
    args, rest = parser.parse_known_args(argv)

    if args.hex is not None:
        report = Report(seed=args.seed)
        data = bytes.fromhex(args.hex)
        for scenario in SCENARIOS:
            try:
                fuzz_one(data, random.Random(args.seed), report, scenario)
            except Exception:
                print(f"CRASH in scenario {scenario}")
                print(f"input hex: {data.hex()}")
                traceback.print_exc()
                return 1
        print("no crash in any scenario")
        return 0

    if args.atheris:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed; falling back to seeded random fuzzing", file=sys.stderr)
        else:  # pragma: no cover
            return _run_atheris(rest)

    report = run(args.count, args.seed, progress=lambda n: print(f"... {n}", file=sys.stderr, flush=True))
    print_report(report)
    if report.crash is not None:
        print(report.crash.trace, file=sys.stderr)
        return 1
    return 0
