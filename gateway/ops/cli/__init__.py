"""The ``stopgate`` command line (click).

- :mod:`.main`: the ``stopgate`` group, which gathers the commands below (the console script).
- :mod:`.run`: ``run``; :mod:`.config_commands`: ``check-config``, ``hash-password``.
- :mod:`.optouts`: ``optouts add|remove|status``, with ``optouts import`` from :mod:`.imports` and
  ``optouts export`` from :mod:`.exports` (which also has ``audit export``); :mod:`.report`: ``report``.
- :mod:`.security` (``security lockouts|unlock``) and :mod:`.upstreams` (``upstreams``) ask the running
  process through its admin API (:mod:`.admin_client`); :mod:`.routes`: ``routes check``.
- :mod:`.errors`, :mod:`.options`, :mod:`.output`, :mod:`.store`: what the commands share.

The operator commands read ``--config`` and work on the store named there, directly: a running proxy
picks changes up from the store's change feed within ``optout.feed_interval`` (0.25 s by default), and
a proxy started later loads them at start-up. Changes are recorded in the event log with channel
``cli`` (``import`` for bulk imports) and the operator's login name as ``operator``.

Scopes: ``--scope`` may be omitted when the config has a single scope. ``export``, ``audit export``
and ``report`` treat ``--scope`` as a filter (all scopes when omitted).

Exit status: 0 success (for ``status``: opted out), 1 ``status``: not opted out / ``import``: invalid
rows in atomic mode, nothing imported; 2 any error (bad number, unreadable file, invalid config, store
failure). Errors are one line on stderr, never a traceback.
"""
