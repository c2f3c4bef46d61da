"""The opt-out engine (:class:`gateway.optout.engine.OptoutPolicy`), one module per step, and the one
way an opt-out or opt-in is recorded (:class:`gateway.optout.changes.OptoutChanges`)."""
