"""The discovery behind posekit's registries (codecs, models, losses, estimators, strategies).

Each of those packages registers what its modules define with a decorator (`@register_codec`,
`@register_model`, `@register_loss`, `@register_estimator`, `@register_strategy`) and, on the first
lookup, imports every module of the package: adding a method is adding files, with no central list
to edit. This module sits below every layer and imports posekit packages only by name, at run time.
"""
from __future__ import annotations

import importlib
import pkgutil


def import_modules(package: str) -> None:
    """Import every module of `package` (its subpackages are not walked); each registers on import."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.ispkg:
            importlib.import_module(f"{package}.{info.name}")
