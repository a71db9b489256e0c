"""MMPose 1.3.2's own RTMPose / DWPose networks and checkpoint files, for official_equivalence.py.

Runs in a side virtualenv with mmpose 1.3.2, mmdet 3.3.0, mmcv 2.1.0 (no compiled ops) and mmengine;
never imports posekit. For each case it builds the networks with MMPose's registry from the model dicts
below (copied from MMPose's configs, cited at each), draws random fixed-seed weights, writes every file
form MMPose's tools write, and computes the reference outputs the way MMPose deploys each file.

    python _mmpose_worker.py OUT_DIR

OUT_DIR/manifest.json: {"versions", "configs_match_shipped", "files": [{"network", "form", "file",
"part" (to ask posekit for; null: its default), "deploys" (the distiller part the reference is),
"reference", "zoo" (the RTMPose size), "keypoints"}], "raw_vs_averaged_max_abs_diff": {network: how far
the runner file's raw weights (ema_state_dict) put the logits from the averaged ones (state_dict)}}.
OUT_DIR/outputs.npz: "image" (B, H, W, 3 RGB uint8), "inputs" (B, 3, H, W: MMPose's data_preprocessor
applied to the BGR image, as MMPose's pipeline hands it over) and "<reference>_x" / "<reference>_y"
(SimCC logits of the network in tensor mode on "inputs").

Forms: "published" is MMPose's tools/misc/publish_model.py applied to the runner checkpoint ({"meta",
"state_dict"}, legacy non-zip serialisation); "runner" is what MMEngine's Runner.save_checkpoint writes
with the RTMPose configs' EMAHook (ExpMomentumEMA): meta, state_dict (the averaged weights),
message_hub (MessageHub.state_dict(): HistoryBuffer objects, numpy values), optimizer (OptimWrapper),
param_schedulers, ema_state_dict (the raw weights, `module.` keys); "ddp" is the published form with a
`module.` prefix. The DWPose distiller files are runner checkpoints of MMPose's DWPoseDistiller (EMA
too: the DWPose configs inherit the RTMPose config's EMAHook).

References, all computed by MMPose from the written file: single networks by mmpose.apis.init_model
(config, file) and the model's tensor-mode forward; a distiller's student (stage 1) and merged network
(stage 2) by MMPose's tools/misc/pth_transfer.py (with --two_dis for stage 2) and init_model on its
output; the parts no MMPose tool extracts (stage-1 teacher, stage-2 student and teacher) by loading the
file into DWPoseDistiller with mmengine's load_checkpoint and running that part; the stage-2 merged
reference is also checked against DWPoseDistiller's own two_dis path (teacher.extract_feat ->
student.head), bit for bit.

mmcv is installed without compiled ops: `mmcv.ops` (and its submodules) are replaced, in this process
only, by a module whose every name is an inert placeholder class, so that mmpose's and mmdet's registries
import; no layer of RTMPose uses an mmcv op (a placeholder raises if ever instantiated). torchvision is
not installed; a stub provides the one name mmpose imports at module level (transforms.ToPILImage).
"""
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import time
import types
from pathlib import Path

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # MMEngine's and MMPose's own torch.load calls


class _OpPlaceholder:
    def __init__(self, *args, **kwargs):
        raise RuntimeError(f"{type(self).__name__}: mmcv compiled op stubbed in this worker")


def _ops_getattr(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return type(name, (_OpPlaceholder,), {"__module__": "mmcv.ops"})


class _StubOps(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """`mmcv.ops` and `mmcv.ops.*` as modules of placeholders (mmcv installed without compiled ops)."""

    def find_spec(self, fullname, path, target=None):
        if fullname == "mmcv.ops" or fullname.startswith("mmcv.ops."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = types.ModuleType(spec.name)
        module.__path__ = []
        module.__getattr__ = _ops_getattr
        return module

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _StubOps())
if importlib.util.find_spec("torchvision") is None:
    _tv = types.ModuleType("torchvision")
    _tv.__path__ = []
    _tv.transforms = types.ModuleType("torchvision.transforms")
    _tv.transforms.ToPILImage = type("ToPILImage", (), {})
    sys.modules.update({"torchvision": _tv, "torchvision.transforms": _tv.transforms})

import glob

import mmcv
import mmdet
import mmdet.models  # noqa: F401  (registers CSPNeXt in the mmdet scope, as the configs ask)
import mmengine
import mmpose
import mmpose.engine  # noqa: F401  (registers ExpMomentumEMA, the RTMPose configs' EMA)
import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.hooks import EMAHook
from mmengine.logging import MessageHub
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import load_checkpoint, save_checkpoint, weights_to_cpu
from mmpose.apis import init_model
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

MMPOSE_ROOT = Path(mmpose.__file__).parent / ".mim"  # configs/ and tools/ as pip installs them
BATCH, HEIGHT, WIDTH = 2, 256, 192
# deepen_factor, widen_factor, backbone output channels (the head's in_channels), per RTMPose size
SIZES = {"t": (0.167, 0.375, 384), "m": (0.67, 0.75, 768), "l": (1.0, 1.0, 1024), "x": (1.33, 1.25, 1280)}
DATA_PREPROCESSOR = dict(type="PoseDataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         bgr_to_rgb=True)
# The configs each model dict mirrors (under MMPose's configs/), and checked against when pip shipped them.
CONFIGS = {("t", 17): "body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py",
           ("m", 17): "body_2d_keypoint/rtmpose/coco/rtmpose-m_8xb256-420e_coco-256x192.py",
           ("l", 17): "body_2d_keypoint/rtmpose/coco/rtmpose-l_8xb256-420e_coco-256x192.py",
           ("l", 133): "wholebody_2d_keypoint/rtmpose/coco-wholebody/rtmpose-l_8xb64-270e_coco-wholebody-256x192.py",
           ("x", 133): "wholebody_2d_keypoint/rtmpose/ubody/rtmpose-x_8xb64-270e_coco-ubody-wholebody-256x192.py"}
PRETRAINED = {"t": "cspnext-tiny_udp-aic-coco_210e-256x192-cbed682d_20230130.pth",
              "m": "cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth",
              "l": "cspnext-l_udp-aic-coco_210e-256x192-273b7631_20230130.pth",
              "x": "cspnext-x_udp-body7_210e-384x288-d28b58e6_20230529.pth"}


def rtmpose_model(size: str, keypoints: int) -> dict:
    """The `model` dict of MMPose's RTMPose configs (CONFIGS), 256x192: the COCO ones
    (configs/body_2d_keypoint/rtmpose/coco/rtmpose-{t,m,l}_8xb256-420e_coco-256x192.py) and the
    whole-body ones (configs/wholebody_2d_keypoint/rtmpose/coco-wholebody/rtmpose-l_8xb64-270e_coco-
    wholebody-256x192.py, .../ubody/rtmpose-x_8xb64-270e_coco-ubody-wholebody-256x192.py) differ only
    in these factors, the keypoint count and the pretrained backbone (init_cfg; never loaded here:
    init_model clears it and init_weights is not called)."""
    deepen, widen, channels = SIZES[size]
    codec = dict(type="SimCCLabel", input_size=(WIDTH, HEIGHT), sigma=(4.9, 5.66), simcc_split_ratio=2.0,
                 normalize=False, use_dark=False)
    return dict(
        type="TopdownPoseEstimator",
        data_preprocessor=DATA_PREPROCESSOR,
        backbone=dict(
            _scope_="mmdet", type="CSPNeXt", arch="P5", expand_ratio=0.5, deepen_factor=deepen, widen_factor=widen,
            out_indices=(4, ), channel_attention=True, norm_cfg=dict(type="SyncBN"), act_cfg=dict(type="SiLU"),
            init_cfg=dict(type="Pretrained", prefix="backbone.", checkpoint="https://download.openmmlab.com/mmpose/"
                          "v1/projects/rtmposev1/" + PRETRAINED[size])),
        head=dict(
            type="RTMCCHead", in_channels=channels, out_channels=keypoints, input_size=codec["input_size"],
            in_featuremap_size=tuple([s // 32 for s in codec["input_size"]]),
            simcc_split_ratio=codec["simcc_split_ratio"], final_layer_kernel_size=7,
            gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2, dropout_rate=0., drop_path=0., act_fn="SiLU",
                         use_rel_bias=False, pos_enc=False),
            loss=dict(type="KLDiscretLoss", use_target_weight=True, beta=10., label_softmax=True),
            decoder=codec),
        test_cfg=dict(flip_test=True))


def distiller_model(teacher_cfg: str, student_cfg: str, fea_channels: tuple[int, int] | None) -> dict:
    """DWPoseDistiller's `model` dict: stage 1 (fea_channels = (student, teacher): FeaLoss + KDLoss 0.1),
    as configs/wholebody_2d_keypoint/dwpose/ubody/s1_dis/dwpose_x_dis_l_coco-ubody-256x192.py and the
    DWPose repository's configs/distiller/body_2d_keypoint/s1_dis/rtmpose_l_dis_{t,m}__body_coco-256x192.py;
    stage 2 (None: two_dis, KDLoss 1), as .../s2_dis/dwpose_l-ll_coco-ubody-256x192.py and the DWPose
    repository's s2_dis/rtmpose_{t-tt,m-mm}__body_coco-256x192.py. teacher_pretrained is left out (its
    weights are drawn here)."""
    methods = [dict(methods=[dict(type="KDLoss", name="loss_logit", use_this=True,
                                  weight=1 if fea_channels is None else 0.1)])]
    extra = dict(two_dis=True)
    if fea_channels is not None:
        methods.insert(0, dict(methods=[dict(type="FeaLoss", name="loss_fea", use_this=True,
                                              student_channels=fea_channels[0], teacher_channels=fea_channels[1],
                                              alpha_fea=0.00007)]))
        extra = {}
    return dict(type="DWPoseDistiller", teacher_cfg=teacher_cfg, student_cfg=student_cfg, distill_cfg=methods,
                data_preprocessor=DATA_PREPROCESSOR, **extra)


def plain(value):
    """Config values compared as plain JSON-like data (tuples as lists)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def shipped_model_dict(size: str, keypoints: int) -> dict | None:
    path = MMPOSE_ROOT / "configs" / CONFIGS[(size, keypoints)]
    return plain(Config.fromfile(str(path)).model.to_dict()) if path.exists() else None


def randomize(estimator: torch.nn.Module, seed: int, x: torch.Tensor) -> None:
    """Weights at a scale that keeps features O(1), random BatchNorm statistics, every other parameter
    (GAU offsets and scales, ScaleNorm gains) moved off its initial value; then the SimCC classifiers
    (head.cls_x, head.cls_y) scaled so the largest logit on x is 5 (a random GAU's raw logits run to
    thousands, where float32 rounding alone is 1e-4)."""
    gen = torch.Generator().manual_seed(seed)
    done = set()
    with torch.no_grad():
        for module in estimator.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) / module.weight[0].numel() ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
                done.update({id(module.weight), id(module.bias)})
            elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
                module.num_batches_tracked.fill_(1000)
                done.update({id(module.weight), id(module.bias)})
        for param in estimator.parameters():
            if id(param) not in done:
                param.add_(torch.randn(param.shape, generator=gen) * 0.1)
        if hasattr(estimator, "head"):
            estimator.eval()
            for layer, logits in zip((estimator.head.cls_x, estimator.head.cls_y), estimator(x, None, mode="tensor")):
                layer.weight.mul_(5 / logits.abs().max())  # no bias: RTMCCHead's classifiers have none


def train_steps(model: torch.nn.Module, trained: str, hook: EMAHook, seed: int, steps: int = 3) -> None:
    """What training leaves behind for the checkpoint: the weights under `trained` moved (by 5% each
    step), the EMA copy updated after each step (EMAHook.after_train_iter) as late in a long run, where
    ExpMomentumEMA's momentum has decayed to 0.0002: the averaged weights stay near the drawn ones and
    the raw ones differ from them by several percent."""
    gen = torch.Generator().manual_seed(seed)
    hook.ema_model.steps.fill_(100000)
    runner = types.SimpleNamespace(iter=1000, epoch=10)
    with torch.no_grad():
        for _ in range(steps):
            for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
                if name.startswith(trained) and tensor.is_floating_point():
                    tensor.mul_(1 + 0.05 * torch.randn(tensor.shape, generator=gen))
            hook.after_train_iter(runner, 0)


def runner_checkpoint(model: torch.nn.Module, trained: str, cfg_model: dict, dataset_meta: dict, path: Path,
                      seed: int, epoch: int) -> None:
    """Write what MMEngine's Runner.save_checkpoint writes for `model` trained with the RTMPose configs'
    optimizer (AdamW), schedulers (LinearLR warm-up, CosineAnnealingLR) and EMAHook (ExpMomentumEMA,
    momentum 0.0002, update_buffers)."""
    hook = EMAHook(ema_type="ExpMomentumEMA", momentum=0.0002, update_buffers=True)
    hook.before_run(types.SimpleNamespace(model=model))
    train_steps(model, trained, hook, seed)
    params = [p for n, p in model.named_parameters() if n.startswith(trained)]
    optim_wrapper = OptimWrapper(torch.optim.AdamW(params, lr=4e-3, weight_decay=0.), clip_grad=dict(max_norm=1.))
    for p in params:
        p.grad = torch.zeros_like(p)
    optim_wrapper.step()
    schedulers = [LinearLR(optim_wrapper, start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),
                  CosineAnnealingLR.build_iter_from_epoch(optim_wrapper, eta_min=4e-3 * 0.05, begin=epoch // 2,
                                                         end=epoch, T_max=epoch // 2, by_epoch=True, epoch_length=10)]
    for scheduler in schedulers:
        scheduler.step()
    hub = MessageHub.get_instance(f"posekit-check-{path.stem}")
    for step in range(3):
        hub.update_scalar("train/loss", 0.1 * (3 - step))
        hub.update_scalar("train/lr", optim_wrapper.get_lr()["lr"][0])
        hub.update_scalar("train/acc_pose", np.float64(0.5 + 0.1 * step))
    hub.update_info("epoch", epoch)
    hub.update_info("iter", epoch * 10)
    hub.update_info("max_epochs", epoch)
    meta = dict(epoch=epoch, iter=epoch * 10, cfg=Config(dict(model=cfg_model, default_scope="mmpose")).pretty_text,
                seed=21, experiment_name=path.stem, time=time.strftime("%Y%m%d_%H%M%S"),
                mmengine_version=mmengine.__version__, dataset_meta=dataset_meta)
    checkpoint = {"meta": meta, "state_dict": weights_to_cpu(model.state_dict()), "message_hub": hub.state_dict(),
                  "optimizer": optim_wrapper.state_dict(),
                  "param_schedulers": [s.state_dict() for s in schedulers]}
    hook.before_save_checkpoint(None, checkpoint)  # averaged weights into state_dict, raw ones to ema_state_dict
    save_checkpoint(checkpoint, str(path))


def publish(runner_file: Path, out_file: Path) -> Path:
    """MMPose's tools/misc/publish_model.py: keep meta and state_dict, save non-zip, rename with the hash."""
    spec = importlib.util.spec_from_file_location("publish_model", MMPOSE_ROOT / "tools/misc/publish_model.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.process_checkpoint(str(runner_file), str(out_file))
    for _ in range(100):  # it renames with a detached `mv`
        found = glob.glob(str(out_file.with_suffix("")) + "-*_*.pth")
        if found and not out_file.exists():
            return Path(found[0])
        time.sleep(0.1)
    raise RuntimeError(f"publish_model.py left no {out_file.stem}-HASH_DATE.pth")


def pth_transfer(dis_file: Path, out_file: Path, two_dis: bool) -> Path:
    """MMPose's tools/misc/pth_transfer.py (DWPose distiller -> RTMPose file)."""
    spec = importlib.util.spec_from_file_location("pth_transfer", MMPOSE_ROOT / "tools/misc/pth_transfer.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    tool.change_model(types.SimpleNamespace(dis_path=str(dis_file), output_path=str(out_file), two_dis=two_dis))
    return out_file


def deployed(cfg_model: dict, file: Path, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """MMPose's inference path: init_model(config, checkpoint) (SyncBN reverted, weights by mmengine's
    load_checkpoint), then the network in tensor mode (backbone + head, SimCC logits)."""
    model = init_model(Config(dict(model=cfg_model, default_scope="mmpose")), str(file), device="cpu")
    with torch.no_grad():
        return model(x, None, mode="tensor")


def build(cfg_model: dict) -> torch.nn.Module:
    init_default_scope("mmpose")
    return revert_sync_batchnorm(MODELS.build(ConfigDict(cfg_model)))


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    init_default_scope("mmpose")
    metas = {17: parse_pose_metainfo(dict(from_file=str(MMPOSE_ROOT / "configs/_base_/datasets/coco.py"))),
             133: parse_pose_metainfo(dict(from_file=str(MMPOSE_ROOT / "configs/_base_/datasets/coco_wholebody.py")))}
    image = np.random.default_rng(0).integers(0, 256, (BATCH, HEIGHT, WIDTH, 3), dtype=np.uint8)  # RGB
    preprocessor = MODELS.build(DATA_PREPROCESSOR)
    batch = {"inputs": [torch.from_numpy(np.ascontiguousarray(im[..., ::-1].transpose(2, 0, 1))) for im in image],
             "data_samples": [PoseDataSample() for _ in image]}  # BGR, C x H x W: what LoadImage/PackPoseInputs give
    x = preprocessor(batch, training=False)["inputs"]
    outputs = {"image": image, "inputs": x.numpy()}
    files, matches, raw_diff = [], {}, {}

    def record(network, form, file, part, deploys, reference, logits, zoo, keypoints):
        outputs[f"{reference}_x"], outputs[f"{reference}_y"] = (t.numpy() for t in logits)
        files.append(dict(network=network, form=form, file=file.name, part=part, deploys=deploys,
                          reference=reference, zoo=zoo, keypoints=keypoints))

    cases = [  # network, size, keypoints, seed, the stage-1 teacher's size
        ("RTMPose-t COCO", "t", 17, 1, "l"),
        ("RTMPose-m COCO", "m", 17, 2, "l"),
        ("RTMPose-l whole-body", "l", 133, 3, "x")]
    for network, size, keypoints, seed, teacher_size in cases:
        tag = f"{size}{keypoints}"
        cfg_model = rtmpose_model(size, keypoints)
        for s in (size, teacher_size):
            shipped = shipped_model_dict(s, keypoints)  # None where pip shipped no configs
            matches[CONFIGS[(s, keypoints)]] = shipped and shipped == plain(rtmpose_model(s, keypoints))
        model = build(cfg_model)
        randomize(model, seed, x)
        runner_file = out / f"{tag}_epoch_420.pth"
        runner_checkpoint(model, "", cfg_model, metas[keypoints], runner_file, seed + 100, 420)
        published = publish(runner_file, out / f"{tag}_published.pth")
        ckpt = torch.load(published, map_location="cpu")
        ckpt["state_dict"] = {f"module.{k}": v for k, v in ckpt["state_dict"].items()}
        ddp_file = out / f"{tag}_ddp.pth"
        torch.save(ckpt, ddp_file)
        for form, file in (("published", published), ("runner", runner_file), ("ddp", ddp_file)):
            record(network, form, file, None, None, f"{tag}_{form}", deployed(cfg_model, file, x), f"rtmpose-{size}",
                   keypoints)
        raw = torch.load(runner_file)["ema_state_dict"]
        raw = {k.removeprefix("module."): v for k, v in raw.items() if k != "steps"}
        model.load_state_dict(raw)
        with torch.no_grad():  # how far the raw weights' outputs are from the averaged ones MMPose deploys
            raw_diff[network] = max(float((a - torch.from_numpy(outputs[f"{tag}_runner_{c}"])).abs().max())
                                    for a, c in zip(model.eval()(x, None, mode="tensor"), "xy"))

        # DWPose stage 1: teacher one size up, student = this network.
        cfg_dir = out / "configs"
        cfg_dir.mkdir(exist_ok=True)
        cfg_files = {}
        for s in (size, teacher_size):
            cfg_files[s] = cfg_dir / f"rtmpose-{s}_{keypoints}.py"
            Config(dict(model=rtmpose_model(s, keypoints))).dump(str(cfg_files[s]))
        s1_cfg = distiller_model(str(cfg_files[teacher_size]), str(cfg_files[size]),
                                 (SIZES[size][2], SIZES[teacher_size][2]))
        distiller = build(s1_cfg)
        randomize(distiller.teacher, seed + 10, x)
        randomize(distiller.student, seed + 20, x)
        randomize(distiller.distill_losses, seed + 30, x)
        s1_file = out / f"{tag}_dwpose_s1_epoch_60.pth"
        runner_checkpoint(distiller, "student.", s1_cfg, metas[keypoints], s1_file, seed + 40, 60)
        student_file = pth_transfer(s1_file, out / f"{tag}_dwpose_s1_student.pth", two_dis=False)
        loaded = build(s1_cfg).eval()
        load_checkpoint(loaded, str(s1_file), map_location="cpu")
        with torch.no_grad():
            teacher_out = loaded.teacher(x, None, mode="tensor")
        record(network, "dwpose-s1", s1_file, None, "student", f"{tag}_s1_student",
               deployed(cfg_model, student_file, x), f"rtmpose-{size}", keypoints)
        record(network, "dwpose-s1", s1_file, "teacher", "teacher", f"{tag}_s1_teacher", teacher_out,
               f"rtmpose-{teacher_size}", keypoints)

        # DWPose stage 2: student and teacher both this architecture, different weights.
        s2_cfg = distiller_model(str(cfg_files[size]), str(cfg_files[size]), None)
        distiller = build(s2_cfg)
        randomize(distiller.teacher, seed + 50, x)
        randomize(distiller.student, seed + 60, x)
        s2_file = out / f"{tag}_dwpose_s2_epoch_60.pth"
        runner_checkpoint(distiller, "student.head.", s2_cfg, metas[keypoints], s2_file, seed + 70, 60)
        merged_file = pth_transfer(s2_file, out / f"{tag}_dwpose_s2_merged.pth", two_dis=True)
        merged = deployed(cfg_model, merged_file, x)
        loaded = build(s2_cfg).eval()
        load_checkpoint(loaded, str(s2_file), map_location="cpu")
        with torch.no_grad():
            two_dis = loaded.student.head(loaded.extract_feat(x))  # DWPoseDistiller.predict's two_dis path
            student_out, teacher_out = loaded.student(x, None, mode="tensor"), loaded.teacher(x, None, mode="tensor")
        if not all(torch.equal(a, b) for a, b in zip(merged, two_dis)):
            raise RuntimeError(f"{network}: pth_transfer --two_dis file differs from DWPoseDistiller's two_dis path")
        for part, deploys, logits in ((None, "merged", merged), ("student", "student", student_out),
                                      ("teacher", "teacher", teacher_out)):
            record(network, "dwpose-s2", s2_file, part, deploys, f"{tag}_s2_{deploys}", logits, f"rtmpose-{size}",
                   keypoints)

    np.savez(out / "outputs.npz", **outputs)
    versions = {"mmpose": mmpose.__version__, "mmdet": mmdet.__version__, "mmcv": mmcv.__version__,
                "mmengine": mmengine.__version__, "torch": torch.__version__, "numpy": np.__version__,
                "mmcv_ops": "stubbed (mmcv-lite, no compiled ops)", "python": sys.version.split()[0]}
    json.dump({"versions": versions, "configs_match_shipped": matches, "raw_vs_averaged_max_abs_diff": raw_diff,
               "files": files},
              open(out / "manifest.json", "w"), indent=1)


if __name__ == "__main__":
    main()
