"""What the SQL backends (:mod:`gateway.store.sqlite`, :mod:`gateway.store.postgres`) share.

:mod:`.facade` implements the :class:`~gateway.store.base.Store` interface once (argument checks,
transaction framing, delegation); :mod:`.ports` says what a backend supplies (Protocols its modules
implement), :mod:`.dialect` how its SQL is spelled; :mod:`.queries` holds the reads and
:mod:`.selfservice` the consent, erasure, webhook cursor and web token statements, :mod:`.aggregates`
the console's counts and :mod:`.footers` the footers and confirmations sent, written once for both
dialects; :mod:`.scripts` finds a backend's numbered migrations. Model <-> column conversions
are in :mod:`gateway.store.rows`.
"""
