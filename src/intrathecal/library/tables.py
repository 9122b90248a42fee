"""Strict reading of parsed TOML tables: every key is expected, every error names its path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from intrathecal.units import InputError, Kind, parse, parse_percent


class Table:
    """A TOML table read key by key; ``finish()`` refuses keys nobody asked for (typos)."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise InputError(path, f"expected a table, got {type(data).__name__}")
        self._data: dict[str, Any] = data
        self.path = path
        self._seen: set[str] = set()

    def child_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def keys(self) -> list[str]:
        return list(self._data)

    def has(self, key: str) -> bool:
        return key in self._data

    def raw(self, key: str, default: object = None) -> object:
        self._seen.add(key)
        return self._data.get(key, default)

    def required(self, key: str) -> object:
        self._seen.add(key)
        if key not in self._data:
            raise InputError(self.child_path(key), "is required but missing")
        return self._data[key]

    def string(self, key: str, default: str | None = None) -> str:
        value = self.raw(key, default) if default is not None else self.required(key)
        if not isinstance(value, str):
            raise InputError(self.child_path(key), f"expected text, got {value!r}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.required(key)
        if not isinstance(value, bool):
            raise InputError(self.child_path(key), f"expected true or false, got {value!r}")
        return value

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.raw(key, default) if default is not None else self.required(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(self.child_path(key), f"expected a whole number, got {value!r}")
        return value

    def quantity(self, key: str, kind: Kind) -> float:
        return parse(self.required(key), self.child_path(key), kind)

    def percent(self, key: str) -> float:
        return parse_percent(self.required(key), self.child_path(key))

    def table(self, key: str) -> Table:
        return Table(self.required(key), self.child_path(key))

    def optional_table(self, key: str) -> Table | None:
        if key not in self._data:
            self._seen.add(key)
            return None
        return self.table(key)

    def tables(self, key: str) -> Iterator[Table]:
        """An array of tables (``[[key]]``); absent means none."""
        value = self.raw(key, [])
        if not isinstance(value, list):
            raise InputError(self.child_path(key), "expected an array of tables ([[...]])")
        for index, item in enumerate(value):
            yield Table(item, f"{self.child_path(key)}[{index}]")

    def items(self) -> Iterator[tuple[str, Table]]:
        """Every key of this table, each holding a sub-table."""
        for key in list(self._data):
            yield key, self.table(key)

    def string_list(self, key: str) -> list[str] | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(self.child_path(key), f"expected a list of text, got {value!r}")
        return list(value)

    def finish(self) -> None:
        unknown = sorted(set(self._data) - self._seen)
        if unknown:
            names = ", ".join(self.child_path(k) for k in unknown)
            raise InputError(names, "unknown key (a typo?); it is not part of the format")
