"""Policy, pure: the decisions a policy returns, keywords, MO reassembly, message text and footers
(no I/O and no clock: time is passed in)."""
