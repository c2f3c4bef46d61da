"""The admin HTTP API: health, Prometheus metrics and the suppression list, in the proxy's process.

Starlette on uvicorn (``server.py``), run as one more task of the process (``[admin] listen``). Routes:

==========================================  ===============================================================
``GET /healthz``                            the process is up
``GET /readyz``                             the store commits, and every upstream of a bound account is up
``GET /metrics``                            Prometheus text format
``GET /v1/suppressions``                    list (``scope``, ``limit``, ``cursor``)
``POST /v1/suppressions``                   ``{"number", "scope", "reason"}``: opt a number out
``GET /v1/suppressions/{number}``           one number (``?scope=``) with its history
``DELETE /v1/suppressions/{number}``        lift an opt-out (``?scope=``; ``reason`` required)
``GET /v1/events``                          the audit log (``since``, ``until``, ``number``, ``type``, ...)
``GET /v1/lockouts``, ``DELETE``            the proxy's bind lockouts, and lifting them
``GET /v1/routes``                          the MT route table in order, and the MO routes
``GET /v1/upstreams``                       each upstream's health, throughput and binds
``GET /openapi.json``, ``GET /docs``        the OpenAPI 3.1 document and a plain HTML index of it
``/ui/...``                                 the compliance console (``gateway.ops.console``)
==========================================  ===============================================================

One module per job: ``context.py`` (what the API needs from the process), ``auth.py`` (bearer tokens),
``http.py`` (JSON errors, bodies, query values, cursors), ``routes.py`` (a route and its declared
description), ``health.py``, ``suppressions.py``, ``events.py`` (the handlers, each with its
declaration), ``openapi.py`` (the document built from the route list) and ``server.py`` (the route
table and uvicorn).
"""

from gateway.ops.admin.context import AdminContext, Readiness, ReadinessDetail
from gateway.ops.admin.openapi import openapi_document
from gateway.ops.admin.server import ROUTES, AdminServer

__all__ = ["ROUTES", "AdminContext", "AdminServer", "Readiness", "ReadinessDetail", "openapi_document"]
