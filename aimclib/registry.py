"""Registries of named strategies (balancers, allocation strategies).

A :class:`Registry` is a sequence of the registered names, in registration order (what
validation, ``argparse`` choices, widgets and figure legends take), with the entries
themselves looked up by name. A new strategy is one entry registered where its kind is
defined (or from a user's own code): nothing else lists the names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from .errors import ParameterError, UnknownNameError

T = TypeVar("T")


class Registry(Sequence, Generic[T]):
    """Named entries of one kind (each has a ``name`` attribute), in registration order."""

    def __init__(self, kind: str, entries: Sequence[T] = ()):
        self.kind = kind
        self._entries: dict[str, T] = {}
        for e in entries:
            self.register(e)

    def register(self, entry: T) -> T:
        """Add ``entry`` under ``entry.name``; a name is registered once."""
        name = getattr(entry, "name", None)
        if not isinstance(name, str) or not name:
            raise ParameterError(f"a {self.kind} needs a non-empty string name, got {name!r}")
        if name in self._entries:
            raise ParameterError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        """Remove ``name`` (a strategy registered for a while, e.g. by a test)."""
        self.entry(name)
        del self._entries[name]

    def entry(self, name: str) -> T:
        """The entry registered as ``name``."""
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: "
                                   f"{', '.join(self._entries)}") from None

    def __getitem__(self, index):
        return list(self._entries)[index]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries)

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in self._entries

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
