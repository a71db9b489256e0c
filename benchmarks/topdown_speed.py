"""Top-down inference speed on CPU: eager PyTorch vs the same model in ONNX Runtime.

For each model and batch size: images/s of both runtimes (2 threads each, timed alternately in the
same loop so machine load hits both alike), the speed ratio, the MACs per second each reaches, and
the largest output difference (asserted below 1e-4). Prints a table, then one JSON line.

    .venv/bin/python benchmarks/topdown_speed.py                     # rtmpose-t/s/m, batch 1 and 16
    .venv/bin/python benchmarks/topdown_speed.py --models rtmpose-t --batches 1 --iters 5
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

# Idle threads of both runtimes yield instead of spinning. On a shared, oversubscribed CPU a spinning
# OpenMP barrier made eager PyTorch 10-50x slower (its 2 threads wait on each other while preempted);
# ORT gets the same policy (allow_spinning=0) below, so the comparison stays like for like.
# Set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from posekit.inference.onnx_export import export_onnx  # noqa: E402
from posekit.models.complexity import count_macs  # noqa: E402
from posekit.models.zoo import build_model, get_entry  # noqa: E402

THREADS = 2
TOLERANCE = 1e-4


def _rescale_head(model: nn.Module) -> None:
    """Random weights: re-draw the head's conv and linears with torch's default (fan-in) init so the
    logits are O(1), and the 1e-4 agreement check is not met trivially by the head's tiny training
    init (std 0.001 / 0.01)."""
    for m in model.head.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.reset_parameters()


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # As OMP_WAIT_POLICY=PASSIVE for PyTorch: idle threads must not spin and starve the other runtime.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(name: str, batch: int, iters: int, warmup: int, workdir: Path) -> dict:
    torch.manual_seed(0)
    w, h = get_entry(name).input_size
    model = build_model(name).eval()
    _rescale_head(model)
    session = _session(export_onnx(model, (w, h), workdir / f"{name}.onnx"))
    images = torch.randn(batch, 3, h, w)
    feed = {"image": images.numpy()}

    def eager():
        with torch.inference_mode():
            return model(images)

    def onnx():
        return session.run(None, feed)

    diff = max(float(np.abs(a - b.numpy()).max()) for a, b in zip(onnx(), eager()))
    scale = max(float(t.abs().max()) for t in eager())
    assert diff < TOLERANCE, f"{name} batch {batch}: ONNX output differs from PyTorch by {diff:.2e}"
    for _ in range(warmup):
        eager(), onnx()
    times = {"eager": [], "onnx": []}
    for _ in range(iters):  # alternate, so a burst of load on the shared machine hits both
        times["eager"].append(_timed(eager))
        times["onnx"].append(_timed(onnx))
    macs = sum(count_macs(model, (w, h)).values())
    row = {"model": name, "batch": batch, "input_hw": [h, w], "gmacs_per_image": macs / 1e9,
           "max_abs_diff": diff, "output_max_abs": scale, "iters": iters}
    for runtime, samples in times.items():
        seconds = statistics.median(samples)
        row[f"{runtime}_images_per_s"] = batch / seconds
        row[f"{runtime}_gmacs_per_s"] = batch * macs / 1e9 / seconds
    row["onnx_speedup"] = row["onnx_images_per_s"] / row["eager_images_per_s"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["rtmpose-t", "rtmpose-s", "rtmpose-m"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16])
    parser.add_argument("--iters", type=int, default=20, help="timed calls at batch 1 (fewer at larger batches)")
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            for batch in args.batches:
                iters = max(3, args.iters // batch)
                rows.append(measure(name, batch, iters, warmup=1 if batch > 1 else 3, workdir=Path(tmp)))
    print(f"CPU: {platform.processor() or platform.machine()}, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}, torch {torch.__version__} ({THREADS} threads), "
          f"onnxruntime {ort.__version__} ({THREADS} intra-op threads); median of alternating timed calls")
    print(f"{'model':<10} {'batch':>5} {'GMACs/img':>9} {'eager img/s':>11} {'onnx img/s':>10} {'onnx/eager':>10} "
          f"{'eager GMAC/s':>12} {'onnx GMAC/s':>11} {'max|diff|':>9}")
    for r in rows:
        print(f"{r['model']:<10} {r['batch']:>5} {r['gmacs_per_image']:>9.3f} {r['eager_images_per_s']:>11.1f} "
              f"{r['onnx_images_per_s']:>10.1f} {r['onnx_speedup']:>10.2f} {r['eager_gmacs_per_s']:>12.1f} "
              f"{r['onnx_gmacs_per_s']:>11.1f} {r['max_abs_diff']:>9.1e}")
    print(json.dumps({"benchmark": "topdown_speed", "threads": THREADS, "rows": rows}))


if __name__ == "__main__":
    main()
