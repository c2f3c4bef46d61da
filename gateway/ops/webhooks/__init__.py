"""Signed webhooks: every configured ``[[webhook]]`` follows the event log from a durable cursor.

- :mod:`.signing`: the ``Stopgate-Signature`` header (make and check).
- :mod:`.payload`: the JSON body of one event.
- :mod:`.delivery`: :class:`WebhookDelivery` (one webhook, in order, at least once, back-off, dead
  letters) and :class:`Webhooks` (all of them, as one task of the process).
"""

from gateway.ops.webhooks.delivery import WebhookDelivery, WebhookMetrics, Webhooks
from gateway.ops.webhooks.payload import event_body
from gateway.ops.webhooks.signing import SIGNATURE_HEADER, sign, verify

__all__ = [
    "SIGNATURE_HEADER",
    "WebhookDelivery",
    "WebhookMetrics",
    "Webhooks",
    "event_body",
    "sign",
    "verify",
]
