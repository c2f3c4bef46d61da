"""A dict that forgets its oldest entries: what the engine remembers per number or per message id."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class BoundedMap(OrderedDict[Any, Any]):
    """An insertion-ordered dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if len(self) > self.limit:
            self.popitem(last=False)
