"""The ``stopgate`` command: one click group gathering every command (the console script)."""

from __future__ import annotations

import click

from gateway.ops.cli.config_commands import check_config, hash_password
from gateway.ops.cli.exports import audit
from gateway.ops.cli.optouts import optouts
from gateway.ops.cli.report import report
from gateway.ops.cli.routes import routes
from gateway.ops.cli.run import run


@click.group()
@click.version_option(package_name="stopgate", prog_name="stopgate", message="%(prog)s %(version)s")
def main() -> None:
    """Stopgate: SMPP 3.4 proxy with SMS opt-out compliance."""


for command in (run, check_config, hash_password, optouts, audit, report, routes):
    main.add_command(command)
