"""Benchmark ``stopgate optouts import``: N distinct UK mobile numbers, imported, then imported again.

    python -m tools.bench_import --rows 1000000            # national format ("07xxx xxxxxx")
    python -m tools.bench_import --rows 1000000 --format e164

Runs the real command (``python -m gateway optouts import``) as a subprocess against a fresh store in
a temporary directory and prints wall time and rows/s for each run. The first run inserts every row;
the second finds them all present and changes nothing.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.config_toml import simulator_upstream, to_toml

#: The command needs a valid config; nothing connects to the upstream.
CONFIG = to_toml(
    {
        "storage": {"path": "bench.db"},
        "admin": {"enabled": False},
        "upstream": [simulator_upstream(2776)],
        "account": [{"system_id": "acme", "password": "acmepw", "upstream": "sim", "scope": "acme"}],
    }
)

#: UK mobile ranges (07 + these two digits are allocated to mobile networks; libphonenumber accepts them).
_MOBILE_BLOCKS = ("71", "72", "73", "74", "75", "77", "78", "79")


def write_csv(path: Path, rows: int, fmt: str, seed: int = 1) -> None:
    """``rows`` distinct, valid UK mobile numbers under a ``number`` header."""
    rng = random.Random(seed)
    seen: set[int] = set()
    with path.open("w", encoding="ascii") as fh:
        fh.write("number\n")
        written = 0
        while written < rows:
            block = rng.choice(_MOBILE_BLOCKS)
            rest = rng.randrange(10**8)
            key = int(block) * 10**8 + rest
            if key in seen:
                continue
            seen.add(key)
            digits = f"{block}{rest:08d}"  # 10 digits after the trunk 0
            if fmt == "e164":
                fh.write(f"+44{digits}\n")
            else:
                fh.write(f"0{digits[:4]} {digits[4:]}\n")
            written += 1


def run_import(config: Path, csv_path: Path) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "gateway", "optouts", "import", str(csv_path), "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"import failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, proc.stdout.strip()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("national", "e164"), default="national")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args(argv)

    directory = Path(tempfile.mkdtemp(prefix="stopgate-bench-"))
    config = directory / "stopgate.toml"
    config.write_text(CONFIG, encoding="utf-8")
    csv_path = directory / "numbers.csv"
    started = time.perf_counter()
    write_csv(csv_path, args.rows, args.format)
    print(
        f"generated {args.rows:,} {args.format} numbers in {time.perf_counter() - started:.1f}s ({csv_path})"
    )
    for label in ("import", "re-import"):
        elapsed, output = run_import(config, csv_path)
        print(f"{label:>9}: {elapsed:6.1f}s  {args.rows / elapsed:10,.0f} rows/s  | {output}")
    if not args.keep:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
