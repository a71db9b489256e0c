"""No posekit loading path runs code from a file, and MMEngine runner checkpoints still convert."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from posekit.cli import main
from posekit.models.zoo import build_model

REPO = Path(__file__).resolve().parents[1]


def _crafted(path: Path, marker: Path) -> Path:
    """A checkpoint whose unpickling would create `marker` (open(marker, "w")) if anything ran it."""
    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state_dict": Exploit(), "strategy": Exploit(), "estimator": {}, "posekit_model": 1}, path)
    return path


def _one_line_error(capsys, rc: int, path: Path) -> str:
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(path) in err, err
    return err


def test_crafted_pickle_runs_nothing_on_any_loading_path(tmp_path, capsys):
    from posekit.experiment import load_pretrained
    from posekit.inference.api import load
    from posekit.models.higherhrnet import load_official_checkpoint

    marker = tmp_path / "marker"
    ckpt = _crafted(tmp_path / "evil.pth", marker)

    rc = main(["convert", "checkpoint", "mmpose", str(ckpt), str(tmp_path / "out.pt"), "--model", "rtmpose-t"])
    err = _one_line_error(capsys, rc, ckpt)
    assert "open" in err and "refus" in err  # names the global it would have called
    rc = main(["eval", str(REPO / "configs" / "demo_lsp.yaml"), "--checkpoint", str(ckpt)])
    _one_line_error(capsys, rc, ckpt)
    for load_path in (lambda: load(ckpt), lambda: load_pretrained(None, str(ckpt)),
                      lambda: load_official_checkpoint(None, ckpt)):
        with pytest.raises(ValueError, match="evil.pth") as info:
            load_path()
        assert len(str(info.value).splitlines()) == 1
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


def _fake_mmengine_objects(statistics_methods: bool = False) -> tuple[type, list[str]]:
    """A stand-in for mmengine's HistoryBuffer, importable only while the test pickles it, as a
    runner checkpoint's message_hub holds it; its __setstate__ would leave a trace if ever run. With
    statistics_methods, its instance keeps them (HistoryBuffer.min, ...) as mmengine's really does,
    which pickle protocol 2 (torch.save's) writes as builtins.getattr(cls, name)."""
    names = ["mmengine", "mmengine.logging", "mmengine.logging.history_buffer"]
    for name in names:
        sys.modules[name] = types.ModuleType(name)

    class HistoryBuffer:
        def __init__(self) -> None:
            self._log_history = np.arange(3.0)
            if statistics_methods:
                self.statistics_methods = {"min": HistoryBuffer.min, "mean": HistoryBuffer.mean}

        def __setstate__(self, state):
            raise AssertionError("mmengine object state was run")

        def min(self):
            raise AssertionError("statistics method was run")

        def mean(self):
            raise AssertionError("statistics method was run")

    HistoryBuffer.__module__ = "mmengine.logging.history_buffer"
    HistoryBuffer.__qualname__ = "HistoryBuffer"
    for method in (HistoryBuffer.min, HistoryBuffer.mean):
        method.__module__, method.__qualname__ = HistoryBuffer.__module__, f"HistoryBuffer.{method.__name__}"
    sys.modules["mmengine.logging.history_buffer"].HistoryBuffer = HistoryBuffer
    return HistoryBuffer, names


def test_runner_checkpoint_with_message_hub_converts(tmp_path):
    from posekit.models.official import load_mmpose_checkpoint

    torch.manual_seed(0)
    ema = build_model("rtmpose-t").state_dict()           # EMAHook swaps the averaged weights in here
    raw = {f"module.{k}": torch.zeros_like(v) for k, v in ema.items()}  # ...and the raw ones here
    buffer_cls, names = _fake_mmengine_objects()
    try:
        torch.save({
            "meta": {"epoch": 3, "iter": 300, "mmengine_version": "0.10.4", "cfg": "model = dict(...)",
                     "dataset_meta": {"sigmas": np.full(17, 0.05), "num_keypoints": np.int64(17)}},
            "state_dict": ema,
            "ema_state_dict": raw,
            "message_hub": {"log_scalars": {"train/loss": buffer_cls()}, "runtime_info": {"epoch": np.int64(3)},
                            "resumed_keys": {"epoch": True}},
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.004, "params": [0, 1]}]},
            "param_schedulers": [{"last_epoch": 3}],
        }, tmp_path / "epoch_3.pth")
    finally:
        for name in names:
            sys.modules.pop(name, None)
    model, info = load_mmpose_checkpoint(tmp_path / "epoch_3.pth", "rtmpose-t")
    assert info["keypoint_set"] == "coco17" and "mmengine" not in sys.modules
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, ema[key], msg=key)


def test_runner_checkpoint_referencing_other_code_is_refused(tmp_path):
    from posekit.models.official import load_mmpose_checkpoint

    names = ["evil_pkg"]
    sys.modules["evil_pkg"] = types.ModuleType("evil_pkg")

    class Payload:
        pass

    Payload.__module__, Payload.__qualname__ = "evil_pkg", "Payload"
    sys.modules["evil_pkg"].Payload = Payload
    try:
        torch.save({"state_dict": build_model("rtmpose-t").state_dict(), "meta": Payload()}, tmp_path / "x.pth")
    finally:
        for name in names:
            sys.modules.pop(name, None)
    with pytest.raises(ValueError, match=r"x\.pth: refusing to load: it references evil_pkg\.Payload"):
        load_mmpose_checkpoint(tmp_path / "x.pth", "rtmpose-t")


def test_runner_checkpoint_whose_message_hub_pickles_getattr_converts(tmp_path):
    from posekit.models.official import load_mmpose_checkpoint

    torch.manual_seed(0)
    state = build_model("rtmpose-t").state_dict()
    buffer_cls, names = _fake_mmengine_objects(statistics_methods=True)
    try:
        torch.save({"meta": {"epoch": 3}, "state_dict": state,
                    "message_hub": {"log_scalars": {"train/loss": buffer_cls()}}}, tmp_path / "epoch_3.pth")
    finally:
        for name in names:
            sys.modules.pop(name, None)
    assert "builtins.getattr" in torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "epoch_3.pth")
    model, _ = load_mmpose_checkpoint(tmp_path / "epoch_3.pth", "rtmpose-t")
    assert "mmengine" not in sys.modules
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)


def test_legacy_format_file_with_numpy_meta_converts(tmp_path):
    """MMPose's tools/misc/publish_model.py saves {meta, state_dict} in the legacy (non-zip) format;
    meta's dataset_meta holds numpy arrays."""
    from posekit.models.official import load_mmpose_checkpoint

    torch.manual_seed(0)
    state = build_model("rtmpose-t").state_dict()
    path = tmp_path / "rtmpose-t_published-0123abcd_20230101.pth"
    torch.save({"meta": {"dataset_meta": {"sigmas": np.full(17, 0.05, np.float32), "num_keypoints": 17,
                                          "flip_indices": np.arange(17)}}, "state_dict": state},
               path, _use_new_zipfile_serialization=False)
    model, info = load_mmpose_checkpoint(path)
    assert info["model"] == "rtmpose-t"
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], msg=key)


def test_legacy_format_file_referencing_other_code_is_refused(tmp_path):
    from posekit.models.official import load_mmpose_checkpoint

    marker = tmp_path / "marker"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    torch.save({"state_dict": build_model("rtmpose-t").state_dict(), "meta": {"a": np.zeros(2), "b": Exploit()}},
               tmp_path / "x.pth", _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match=r"x\.pth: refusing to load: it references (io|builtins)\.open"):
        load_mmpose_checkpoint(tmp_path / "x.pth", "rtmpose-t")
    assert not marker.exists()
