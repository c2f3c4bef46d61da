"""The compliance console: server-rendered pages at ``/ui`` on the admin listener.

For the people who answer to the regulator: how and when a number opted out and whether it was
messaged afterwards, which campaign makes people opt out, and the audit trail as a file. One module
per job: ``context.py`` (what the console needs from the process), ``sessions.py`` (sessions and the
sign-in rate limit), ``web.py`` (forms, cookies, CSRF, headers, rendering), ``signin.py``,
``overview.py``, ``lookup.py``, ``suppressions.py``, ``audit.py``, ``upstreams.py`` (the pages) and
``routes.py`` (the route table). Templates are in ``templates/``; ``static/`` holds the stylesheet, the chart
script and uPlot (MIT, vendored from the npm registry with its licence, so the console works on a
network without internet and needs no front-end build).
"""

from gateway.ops.console.context import Commit, ConsoleContext
from gateway.ops.console.routes import ServeConsole, console_mount

__all__ = ["Commit", "ConsoleContext", "ServeConsole", "console_mount"]
