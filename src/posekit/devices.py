"""Device names checked before any work, for the CLI's --device and the Python API's device=: a
one-line error for a name torch does not know or a CUDA device this machine cannot give, instead of
torch's assertion deep inside the first .to(device)."""
from __future__ import annotations


def check_device(name: str | None, option: str = "--device") -> str:
    """`name` if this machine can run on it; None: cuda when available, else cpu. `option` is how the
    caller spells the setting (`--device`, `device=`), so the message speaks the caller's language."""
    import torch
    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"

    def spelled(value: str) -> str:
        return f"{option} {value}" if option.startswith("--") else f"{option}'{value}'"

    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"{spelled(str(name))}: not a device name (cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise ValueError(f"{spelled(str(name))}: {why}; use {spelled('cpu')}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"{spelled(str(name))}: only {torch.cuda.device_count()} CUDA device(s) visible")
    return str(name)
