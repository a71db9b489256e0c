"""The registries behind posekit's extension points (codecs, models, losses, estimators, strategies).

Each of those packages keeps one `Registry`; its modules register what they define with a decorator
(`@register_codec`, `@register_model`, `@register_loss`, `@register_estimator`, `@register_strategy`)
and, on the first lookup, the registry imports every module of its package: adding a method is adding
files, with no central list to edit. This module sits below every layer and imports posekit packages
only by name, at run time.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")


def import_modules(package: str) -> None:
    """Import every module of `package` (its subpackages are not walked); each registers on import."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.ispkg:
            importlib.import_module(f"{package}.{info.name}")


class Registry(Generic[T]):
    """Named entries of one kind, filled by the modules of `package` as they are imported.

    `registry[key]` raises KeyError listing the registered keys; callers that answer a config key
    turn it into a ConfigError naming that key.
    """

    def __init__(self, kind: str, package: str, key_name: Callable[[Any], str] = str):
        self.kind = kind
        self.package = package
        self._key_name = key_name  # how a key is printed (enum keys print their .name)
        self._entries: dict[Any, T] = {}
        self._loaded = False

    def add(self, key: Any, entry: T) -> T:
        """Register `entry` under `key` (a later registration replaces it); returns the entry."""
        self._entries[key] = entry
        return entry

    def decorator(self, key: Any) -> Callable[[T], T]:
        """A decorator registering what it decorates under `key` and returning it unchanged."""
        return lambda entry: self.add(key, entry)

    def load(self) -> None:
        """Import every module of the package once, so each has registered what it defines. The flag is
        set only after the walk: a lookup made while a module is being imported walks the package again
        (importlib returns the modules already imported), as it did before any was loaded."""
        if not self._loaded:
            import_modules(self.package)
            self._loaded = True

    def names(self) -> list[str]:
        """The registered keys as printed, sorted (imports the package's modules first)."""
        self.load()
        return sorted(self._key_name(k) for k in self._entries)

    def __getitem__(self, key: Any) -> T:
        self.load()
        if key not in self._entries:
            raise KeyError(f"unknown {self.kind} '{self._key_name(key)}'; available: {', '.join(self.names())}")
        return self._entries[key]

    def __iter__(self) -> Iterator[Any]:
        self.load()
        return iter(sorted(self._entries, key=self._key_name))
