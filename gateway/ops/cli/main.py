"""The ``stopgate`` command: one click group gathering every command (the console script)."""

from __future__ import annotations

import click

from gateway.ops.cli.config_commands import check_config, hash_password
from gateway.ops.cli.consent import consent
from gateway.ops.cli.exports import audit
from gateway.ops.cli.optouts import optouts
from gateway.ops.cli.redact import audit_redact
from gateway.ops.cli.report import report
from gateway.ops.cli.routes import routes
from gateway.ops.cli.run import run
from gateway.ops.cli.security import security
from gateway.ops.cli.store_commands import store
from gateway.ops.cli.upstreams import upstreams
from gateway.ops.cli.webhooks import webhooks


@click.group()
@click.version_option(package_name="stopgate", prog_name="stopgate", message="%(prog)s %(version)s")
def main() -> None:
    """Stopgate: SMPP 3.4 proxy with SMS opt-out compliance."""


for command in (run, check_config, hash_password, optouts, audit, report, store, security, routes):
    main.add_command(command)
main.add_command(webhooks)
main.add_command(upstreams)
main.add_command(consent)
audit.add_command(audit_redact)
