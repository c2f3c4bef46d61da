"""Many typed numbers at once (``stopgate optouts import``): :func:`parse_user_number`, per shape.

A million-row import parsed row by row with libphonenumber takes over a minute. :class:`BulkNormalizer`
strips what people put around the digits and hands plain digit strings to the
:class:`~gateway.numbers.shapes.ShapeNormalizer`, which answers repeated shapes by concatenation with
exactly ``parse_user_number``'s results; anything else takes ``parse_user_number`` itself.
"""

from __future__ import annotations

import re

from gateway.numbers.parse import SEPARATORS, parse_user_number, region_code
from gateway.numbers.shapes import DEFAULT_TAILS, MAX_SHAPES, ShapeNormalizer

__all__ = ["BulkNormalizer"]

_FAST_TEXT = re.compile(r"\+?[0-9]+", re.ASCII)


class BulkNormalizer(ShapeNormalizer):
    """``parse_user_number(text, default_country)`` for many rows; same results, same exceptions.

    Raises :class:`ValueError` for an unknown ``default_country``. Thread-safety as
    :class:`~gateway.numbers.shapes.ShapeNormalizer`.
    """

    def __init__(
        self, default_country: str, *, tails: tuple[int, ...] = DEFAULT_TAILS, max_shapes: int = MAX_SHAPES
    ) -> None:
        super().__init__(region_code(default_country), tails=tails, max_shapes=max_shapes)

    def __call__(self, text: str) -> str:
        return self.normalize(text)

    def normalize(self, text: str) -> str:
        """E.164 for ``text``; raises :class:`gateway.numbers.parse.InvalidNumber` like parse_user_number."""
        s = text.strip()
        compact = s.translate(SEPARATORS)
        if _FAST_TEXT.fullmatch(compact) is None:
            self.exact += 1
            return parse_user_number(text, self.region)
        plus = s.startswith("+")
        digits = compact.lstrip("+")  # "(+44 ...)": the '+' is not first, parse_user_number drops it
        return self.normalize_digits(digits, plus, text)
