"""Phone numbers: E.164 normalisation for opt-out records, from SMPP addresses and typed input.

* :mod:`~gateway.numbers.parse`: the rules and the exact path (libphonenumber's public API):
  :func:`parse_user_number`, :func:`is_replyable`, :func:`mask_number`.
* :mod:`~gateway.numbers.wire`: SMPP addresses on the submit path (:func:`normalize_number`,
  :func:`address_normalizer`).
* :mod:`~gateway.numbers.bulk`: CSV imports (:class:`BulkNormalizer`).
* :mod:`~gateway.numbers.shapes` and :mod:`~gateway.numbers.patterns`: the per-shape fast path both
  use, proven from the published metadata to give the exact path's answers.
"""

from gateway.numbers.bulk import BulkNormalizer
from gateway.numbers.parse import InvalidNumber, is_replyable, mask_number, parse_user_number
from gateway.numbers.wire import CACHE_SIZE, address_normalizer, normalize_number

__all__ = [
    "CACHE_SIZE",
    "BulkNormalizer",
    "InvalidNumber",
    "address_normalizer",
    "is_replyable",
    "mask_number",
    "normalize_number",
    "parse_user_number",
]
