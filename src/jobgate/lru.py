"""A least-recently-used cache bounded by what its entries cost, not only by how many there are.

Documents a client sends are cached by their text, so the client chooses what the cache holds:
a thousand distinct 10 KB documents, or one with a 95 KB operation name, would pin hundreds of
megabytes in an LRU bounded by entry count (a parsed document takes ~100 times its text).
Here every entry states its cost (an estimate of its bytes); the cache drops the least recently
used entries past ``max_cost`` and does not keep an entry dearer than ``max_entry_cost``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SizedLRU(Generic[K, V]):
    def __init__(self, *, max_cost: int, max_entry_cost: int) -> None:
        self.max_cost = max_cost
        self.max_entry_cost = min(max_entry_cost, max_cost)
        self.cost = 0
        self._entries: OrderedDict[K, tuple[V, int]] = OrderedDict()

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V, cost: int) -> None:
        """Keep ``value`` unless it alone costs more than an entry may."""
        if cost > self.max_entry_cost:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self.cost -= old[1]
        self._entries[key] = (value, cost)
        self.cost += cost
        while self.cost > self.max_cost:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.cost -= dropped

    def __len__(self) -> int:
        return len(self._entries)
