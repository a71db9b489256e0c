"""Official HigherHRNet and Simple Pose networks vs posekit, on the same weights and the same input.

For each official network (imported from the fetched official repositories, extracted with `git show`
into a temporary folder outside this repository, and used unchanged; Simple Pose's unused torchvision
import is stubbed): build it with random fixed-seed weights, save them in every form the official
training code writes, convert each file with posekit (`posekit.models.official.load_official`, format
and zoo model detected from the weights), run both networks on the same random image and print the
largest absolute difference over all outputs. One table row per file form, then one JSON line.

    .venv/bin/python benchmarks/official_equivalence.py [--json] [--write-keys DIR] [--mmpose-python PATH]

Official code: HRNet/HigherHRNet-Human-Pose-Estimation (`lib/models/pose_higher_hrnet.py`, the
`experiments/` yaml for the architecture, `lib/fp16_utils` for the FP16 wrapper and loss scaler) and
jialee93/Improved-Body-Parts (`models/posenet.py`, `models/layers_transposed.py`, the loss modules the
Network wrapper holds, `config/config.py`). --write-keys writes the official state-dict names and
shapes that tests/test_official_checkpoints.py checks posekit against.

MMPose (RTMPose, DWPose) with --mmpose-python: a side virtualenv's python with mmpose 1.3.2, mmdet
3.3.0, mmcv 2.1.0 (no compiled ops needed) and mmengine, never posekit's own environment. It runs
benchmarks/_mmpose_worker.py, which builds RTMPose-t/-m (COCO) and RTMPose-l (whole-body) with MMPose's
registry, writes each file form (published, runner checkpoint with EMA, DDP, DWPose stage-1 and stage-2
distiller) and MMPose's own outputs for each; each file is then converted with posekit (format, zoo
model and distiller part detected; the other parts asked for with `part`) and run on the same
already-normalised input (MMPose's data_preprocessor output), comparing the SimCC x/y logits.
"""
from __future__ import annotations

import argparse
import gzip
import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import types
import warnings
from pathlib import Path

import numpy as np
import torch
import yaml

from posekit.data.datasets import normalize_image
from posekit.models import convert_mmpose
from posekit.models.official import detect_format, load_official, read_checkpoint

MIRRORS = Path("/work/.mirror")
HIGHERHRNET_GIT = MIRRORS / "HRNet+HigherHRNet-Human-Pose-Estimation" / "repo"
SIMPLEPOSE_GIT = MIRRORS / "jialee93+Improved-Body-Parts" / "repo" / ".git"
HIGHERHRNET_FILES = ["lib/models/pose_higher_hrnet.py", "lib/fp16_utils/__init__.py", "lib/fp16_utils/fp16util.py",
                     "lib/fp16_utils/loss_scaler.py", "experiments/coco/higher_hrnet/w32_512_adam_lr1e-3.yaml",
                     "experiments/coco/higher_hrnet/w48_640_adam_lr1e-3.yaml",
                     "experiments/crowd_pose/higher_hrnet/w32_512_adam_lr1e-3.yaml"]
HRNET_BN_GAIN = (0.2, 0.6)
SIMPLEPOSE_FILES = ["models/__init__.py", "models/posenet.py", "models/layers_transposed.py", "models/loss_model.py",
                    "models/loss_model_parallel.py", "config/config.py"]


def extract(git_dir: Path, files: list[str], root: Path) -> str:
    """Write `files` at the snapshot's HEAD under root; returns the commit."""
    for name in files:
        text = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"HEAD:{name}"], check=True,
                              capture_output=True).stdout
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(text)
    return subprocess.run(["git", "--git-dir", str(git_dir), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


class Node(dict):
    """The yacs CfgNode the official code reads: items and attributes alike."""

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def as_node(value):
    return Node({k: as_node(v) for k, v in value.items()}) if isinstance(value, dict) else value


def randomize(model: torch.nn.Module, seed: int, bn_gain: tuple[float, float]) -> torch.nn.Module:
    """Random weights at a scale that keeps the outputs O(1-10) (the official N(0, 0.001) init would
    make them nearly zero and the comparison weak), and random BatchNorm statistics; BatchNorm gains
    uniform in bn_gain (HRNet's many residual sums need smaller ones)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
                fan_in = module.weight[0].numel()  # roughly; only the order of magnitude matters
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / fan_in ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
            elif isinstance(module, torch.nn.BatchNorm2d):
                gain = torch.rand(module.weight.shape, generator=gen)
                module.weight.copy_(gain * (bn_gain[1] - bn_gain[0]) + bn_gain[0])
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
                module.num_batches_tracked.fill_(1000)
    return model.eval()


def flat(outputs) -> list[torch.Tensor]:
    return [t for item in outputs for t in (flat(item) if isinstance(item, (list, tuple)) else [item])]


def max_diff(a, b) -> tuple[float, float]:
    a, b = flat(a), flat(b)
    assert len(a) == len(b) and all(x.shape == y.shape for x, y in zip(a, b)), "output structure differs"
    return (max(float((x - y).abs().max()) for x, y in zip(a, b)), max(float(x.abs().max()) for x in a))


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def write_keys(path: Path, state: dict) -> None:
    lines = [f"{k} {'x'.join(map(str, v.shape)) or '-'}" for k, v in state.items()]
    with gzip.GzipFile(path, "wb", mtime=0) as f:  # mtime 0: the same bytes on every run
        f.write(("\n".join(lines) + "\n").encode())


def convert(path: Path) -> tuple[torch.nn.Module, str, str]:
    model, weights = load_official(path)
    return model.eval(), detect_format(read_checkpoint(path)), weights.model


def higherhrnet_rows(root: Path, size: int, widths: list[int], keys_dir: Path | None) -> list[dict]:
    lib = root / "hhr" / "lib"
    spec = importlib.util.spec_from_file_location("official_pose_higher_hrnet", lib / "models" / "pose_higher_hrnet.py")
    official = importlib.util.module_from_spec(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)  # its `is '*'`, in code this script never runs
        spec.loader.exec_module(official)
    sys.path.insert(0, str(lib))  # the loss scaler must pickle as fp16_utils.loss_scaler, as in a real run
    fp16util = importlib.import_module("fp16_utils.fp16util")
    loss_scaler = importlib.import_module("fp16_utils.loss_scaler")
    experiments = {32: "experiments/coco/higher_hrnet/w32_512_adam_lr1e-3.yaml",
                   48: "experiments/coco/higher_hrnet/w48_640_adam_lr1e-3.yaml"}
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    x = normalize_image(image)[None]  # RGB, ImageNet mean/std: the official input too
    rows = []
    for width in widths:
        cfg = as_node(yaml.safe_load((root / "hhr" / experiments[width]).read_text()))
        net = randomize(official.PoseHigherResolutionNet(cfg), width, HRNET_BN_GAIN)
        if keys_dir and width == 32:
            write_keys(keys_dir / "higherhrnet_w32_coco17.txt.gz", net.state_dict())
            crowd = as_node(yaml.safe_load((root / "hhr" / "experiments/crowd_pose/higher_hrnet/"
                                            "w32_512_adam_lr1e-3.yaml").read_text()))
            write_keys(keys_dir / "higherhrnet_w32_crowdpose14.txt.gz",
                       official.PoseHigherResolutionNet(crowd).state_dict())
        half = fp16util.network_to_half(randomize(official.PoseHigherResolutionNet(cfg), width, HRNET_BN_GAIN))
        fp16_ref = half[1].float().eval()  # the same FP16-rounded weights, run in float32
        with torch.no_grad():
            reference, fp16_reference = net(x), fp16_ref(x)
        adam = torch.optim.Adam(net.parameters())
        forms = {
            "bare state dict (published 512 models, model_best, final_state)": (net.state_dict(), reference),
            "checkpoint.pth.tar (DataParallel)": ({
                "epoch": 12, "model": "pose_higher_hrnet", "state_dict": torch.nn.DataParallel(net).state_dict(),
                "best_state_dict": net.state_dict(), "perf": 0.25, "optimizer": adam.state_dict()}, reference),
            "FP16 wrapper: '1.' keys, float16 convs (published 640 models)": (half.state_dict(), fp16_reference),
            "FP16 checkpoint.pth.tar (DataParallel, loss scaler)": ({
                "epoch": 12, "model": "pose_higher_hrnet", "state_dict": torch.nn.DataParallel(half).state_dict(),
                "best_state_dict": half.state_dict(), "perf": 0.25,
                # FP16_Optimizer.state_dict()'s layout (the class itself needs CUDA to construct)
                "optimizer": {"loss_scaler": loss_scaler.DynamicLossScaler(), "dynamic_loss_scale": True,
                              "overflow": False, "first_closure_call_this_step": True,
                              "optimizer_state_dict": adam.state_dict(),
                              "fp32_from_fp16": [[p.detach().float() for p in half.parameters()]]}}, fp16_reference),
        }
        rows += compare_forms(root, f"HigherHRNet-W{width}", forms, x, size)
    sys.path.remove(str(lib))
    return rows


def simplepose_rows(root: Path, size: int, keys_dir: Path | None) -> list[dict]:
    ibp = root / "ibp"
    stub = types.ModuleType("torchvision")  # posenet.py imports densenet and never uses it
    stub.models = types.ModuleType("torchvision.models")
    stub.models.densenet = types.ModuleType("torchvision.models.densenet")
    sys.modules.update({"torchvision": stub, "torchvision.models": stub.models,
                        "torchvision.models.densenet": stub.models.densenet})
    sys.path.insert(0, str(ibp))
    posenet = importlib.import_module("models.posenet")
    config = importlib.import_module("config.config")
    opt, canonical = config.TrainingOpt(), config.CanonicalConfig()
    network = posenet.Network(opt, canonical, bn=True, dist=True)  # as train_distributed.py builds it
    randomize(network, 5, (0.5, 1.5))
    if keys_dir:
        write_keys(keys_dir / "simplepose_imhn_coco17.txt.gz", network.posenet.state_dict())
    image = np.random.default_rng(1).integers(0, 256, (size, size, 3), dtype=np.uint8)  # BGR, as cv2 reads
    official_input = torch.from_numpy(image.astype(np.float32) / 255)[None]  # N, H, W, C in [0, 1], BGR
    with torch.no_grad():
        reference = network.posenet(official_input)
    sgd = torch.optim.SGD(network.parameters(), lr=1e-4, momentum=0.9)
    forms = {
        "{'weights': Network.state_dict() ('posenet.'), ...} (train_*.py)": ({
            "weights": torch.nn.DataParallel(network).module.state_dict(), "optimizer_weight": sgd.state_dict(),
            "train_loss": 123.4, "epoch": 52}, reference),
        "bare PoseNet state dict": (network.posenet.state_dict(), reference),
    }
    # posekit feeds ImageNet-normalised RGB; the converted model maps it back to BGR / 255 itself.
    rows = compare_forms(root, "Simple Pose IMHN", forms, normalize_image(np.ascontiguousarray(image[..., ::-1]))[None],
                         size)
    model, _, _ = convert(root / "Simple Pose IMHN-0.pth")
    model.input_format = "imagenet_rgb"  # the bare network, fed the official input itself
    with torch.no_grad():
        diff, scale = max_diff(reference, model(official_input.permute(0, 3, 1, 2)))
    rows.append({"network": "Simple Pose IMHN", "form": "network alone, on the official BGR / 255 input",
                 "detected": "simplepose", "zoo": "simplepose-imhn", "input": size, "max_abs_diff": diff,
                 "max_abs_output": scale, "weights_equal": True})
    sys.path.remove(str(ibp))
    return rows


def compare_forms(root: Path, network: str, forms: dict, x: torch.Tensor, size: int) -> list[dict]:
    """Save each form, convert it with posekit, and compare outputs; forms that convert to weights
    identical to an earlier form's reuse that form's forward pass."""
    rows, done = [], []
    for index, (form, (content, reference)) in enumerate(forms.items()):
        path = root / f"{network}-{index}.pth"
        torch.save(content, path)
        model, detected, zoo = convert(path)
        state = model.state_dict()
        same = next((r for s, r in done if same_state(s, state)), None)
        if same is None:
            with torch.no_grad():
                diff, scale = max_diff(reference, model(x))
            same = {"max_abs_diff": diff, "max_abs_output": scale}
            done.append((state, same))
        rows.append({"network": network, "form": form, "detected": detected, "zoo": zoo, "input": size,
                     **same, "weights_equal": True})
    return rows


MMPOSE_FORMS = {
    "published": "published {meta, state_dict} (publish_model.py)",
    "runner": "runner epoch_N.pth (EMA, message_hub, optimizer)",
    "ddp": "{meta, state_dict} with 'module.' keys (DDP)",
    "dwpose-s1": "DWPose stage-1 distiller (runner file)",
    "dwpose-s2": "DWPose stage-2 distiller (runner file)",
}
MMPOSE_NOT_RUN = ("not run: pass --mmpose-python PATH, the python of a side virtualenv with mmpose 1.3.2, mmdet 3.3.0, "
                  "mmcv 2.1.0 and mmengine (docs/official_checkpoints.md has the recipe)")


def mmpose_rows(python: str) -> tuple[list[dict], dict]:
    """Run _mmpose_worker.py in `python` (MMPose's side), convert each file it wrote with posekit and
    compare the SimCC logits on the worker's input. Returns (rows, summary)."""
    worker = Path(__file__).with_name("_mmpose_worker.py")
    with tempfile.TemporaryDirectory(prefix="posekit-mmpose-") as tmp:
        out = Path(tmp)
        start = time.time()
        done = subprocess.run([python, str(worker), str(out)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{worker.name} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        worker_seconds = time.time() - start
        rows, summary = compare_mmpose(out)
    return rows, {**summary, "worker_seconds": round(worker_seconds, 1)}


def compare_mmpose(out: Path) -> tuple[list[dict], dict]:
    """posekit on each file of the worker's folder `out` vs MMPose's outputs there."""
    manifest = json.loads((out / "manifest.json").read_text())
    arrays = dict(np.load(out / "outputs.npz"))
    x = torch.from_numpy(arrays["inputs"])
    # MMPose's data_preprocessor (BGR in, bgr_to_rgb, ImageNet mean/std) vs posekit's normalisation
    ours = torch.stack([normalize_image(im) for im in arrays["image"]])
    preprocess_diff = float((ours - x).abs().max())
    rows = []
    for item in manifest["files"]:
        path = out / item["file"]
        model, weights = load_official(path, part=item["part"])
        checkpoint = read_checkpoint(path)
        part = item["part"] or (convert_mmpose.distiller_part(checkpoint)[0]
                                if convert_mmpose.is_distiller(checkpoint) else None)
        with torch.no_grad():
            got = model.eval()(x)
        reference = (torch.from_numpy(arrays[f"{item['reference']}_x"]),
                     torch.from_numpy(arrays[f"{item['reference']}_y"]))
        diff, scale = max_diff(reference, got)
        rows.append({"network": item["network"], "form": MMPOSE_FORMS[item["form"]],
                     "part": (part if item["part"] else f"{part} (default)") if part else "-",
                     "detected": detect_format(checkpoint), "zoo": weights.model,
                     "input": f"{x.shape[2]}x{x.shape[3]}", "max_abs_diff": diff, "max_abs_output": scale,
                     "zoo_as_mmpose": weights.model == item["zoo"], "part_as_mmpose": part == item["deploys"],
                     "keypoint_set": weights.keypoint_set})
    summary = {**manifest["versions"], "configs_match_shipped": manifest["configs_match_shipped"],
               "raw_vs_averaged_max_abs_diff": manifest["raw_vs_averaged_max_abs_diff"],
               "preprocess_max_abs_diff": preprocess_diff}
    return rows, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--higherhrnet-git", type=Path, default=HIGHERHRNET_GIT)
    parser.add_argument("--simplepose-git", type=Path, default=SIMPLEPOSE_GIT)
    parser.add_argument("--hrnet-size", type=int, default=256, help="input side for HigherHRNet (multiple of 32)")
    parser.add_argument("--simplepose-size", type=int, default=128, help="input side for Simple Pose (multiple of 64)")
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 48], choices=[32, 48])
    parser.add_argument("--write-keys", type=Path, metavar="DIR", help="write the official names and shapes here")
    parser.add_argument("--json", action="store_true", help="only the JSON line")
    parser.add_argument("--mmpose-python", metavar="PATH",
                        help="python of a side virtualenv with mmpose 1.3.2 (runs benchmarks/_mmpose_worker.py)")
    args = parser.parse_args()
    torch.manual_seed(0)
    start = time.time()
    if args.write_keys:
        args.write_keys.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="posekit-official-") as tmp:
        root = Path(tmp)
        commits = {
            "HRNet/HigherHRNet-Human-Pose-Estimation": extract(args.higherhrnet_git, HIGHERHRNET_FILES, root / "hhr"),
            "jialee93/Improved-Body-Parts": extract(args.simplepose_git, SIMPLEPOSE_FILES, root / "ibp")}
        rows = higherhrnet_rows(root, args.hrnet_size, args.widths, args.write_keys)
        rows += simplepose_rows(root, args.simplepose_size, args.write_keys)
    mm_rows, mmpose = mmpose_rows(args.mmpose_python) if args.mmpose_python else ([], MMPOSE_NOT_RUN)
    if not args.json:
        print(f"{'network':<18} {'form':<66} {'zoo model':<17} {'input':>5} {'max |diff|':>10} {'max |out|':>9}")
        for r in rows:
            print(f"{r['network']:<18} {r['form']:<66} {r['zoo']:<17} {r['input']:>5} "
                  f"{r['max_abs_diff']:>10.3g} {r['max_abs_output']:>9.3g}")
        if mm_rows:
            print(f"\nMMPose {mmpose['mmpose']} vs posekit: SimCC x/y logits, input {mm_rows[0]['input']} (HxW), B=2")
            print(f"{'network':<20} {'form':<50} {'part':<17} {'zoo model':<10} {'max |diff|':>10} {'max |out|':>9}")
            for r in mm_rows:
                print(f"{r['network']:<20} {r['form']:<50} {r['part']:<17} {r['zoo']:<10} "
                      f"{r['max_abs_diff']:>10.3g} {r['max_abs_output']:>9.3g}")
    rows += mm_rows
    worst = max(r["max_abs_diff"] for r in rows)
    as_mmpose = all(r["zoo_as_mmpose"] and r["part_as_mmpose"] for r in mm_rows)
    print(json.dumps({"rows": rows, "official_commits": commits, "worst_max_abs_diff": worst,
                      "mmpose": mmpose, **({"mmpose_zoo_and_parts_as_mmpose": as_mmpose} if mm_rows else {}),
                      "within_1e-5": worst <= 1e-5, "torch": torch.__version__,
                      "seconds": round(time.time() - start, 1)}))
    return 0 if worst <= 1e-5 and as_mmpose else 1


if __name__ == "__main__":
    sys.exit(main())
