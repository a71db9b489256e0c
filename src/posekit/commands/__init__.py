"""One module per CLI verb: `add_parser(subparsers)` and `run(args) -> int`."""
from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(obj: Any) -> None:
    """The `--json` convention: one JSON object on the last line of stdout."""
    sys.stdout.write(json.dumps(obj, default=_default) + "\n")
    sys.stdout.flush()


def _default(obj: Any) -> Any:
    import numpy as np
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def resolve_device(name: str | None) -> str:
    """--device checked before any work (posekit.devices.check_device); default cuda when available."""
    from posekit.devices import check_device
    return check_device(name, "--device")
