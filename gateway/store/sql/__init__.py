"""What the SQL backends (:mod:`gateway.store.sqlite`, :mod:`gateway.store.postgres`) share.

:mod:`.ports` says what a backend supplies (Protocols), :mod:`.dialect` how its SQL is spelled,
:mod:`.queries` the reads written once for both dialects, :mod:`.selfservice` the consent, erasure,
webhook cursor and web token statements written once.
"""
