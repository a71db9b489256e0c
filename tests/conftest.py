"""Shared fixtures. Real data lives in ../shared/data beside the repository (never committed);
tests that need it skip with a message naming the folder when it is absent."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

# Before torch loads OpenMP: idle threads sleep instead of spinning. On a shared 2-core machine
# spinning threads made small ops 10-50x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("POSEKIT_SHARED", REPO.parent / "shared")).resolve()
DATA = SHARED / "data"
WEIGHTS = SHARED / "weights"

# Two cores are shared by everything on these machines; keep each test process modest.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (benchmarks are scripts, not a package; their folder goes on
    sys.path so one may import another, as upper_body_lsp imports peers_lsp)."""
    folder = str(REPO / "benchmarks")
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require(path: Path) -> Path:
    """Skip the calling test when a piece of ../shared is missing, naming what is missing."""
    if not path.exists():
        pytest.skip(f"real data not found: {path} (place the shared data folder beside the repo "
                    "or set POSEKIT_SHARED)")
    return path


@pytest.fixture
def shared_data() -> Path:
    return require(DATA)


@pytest.fixture
def lsp_root() -> Path:
    return require(DATA / "lsp")


@pytest.fixture
def lspet_root() -> Path:
    return require(DATA / "lspet")


@pytest.fixture
def coco_subset() -> Path:
    return require(DATA / "coco_subset")


@pytest.fixture
def fixtures_root() -> Path:
    return require(DATA / "fixtures")


@pytest.fixture
def weights_root() -> Path:
    return require(WEIGHTS)


@pytest.fixture
def xtcoco(fixtures_root: Path) -> Path:
    """The extended COCO API's example GT/prediction pairs (COCO, CrowdPose, COCO-WholeBody)."""
    return require(fixtures_root / "xtcocoapi")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """A random rtmpose-t (coco17, 64x64) saved as a posekit model file: fast to load and run."""
    from posekit.estimators.topdown import build_topdown_estimator
    from posekit.inference.model_file import model_file_state, save_model_file
    torch.manual_seed(0)
    codec = {"name": "simcc", "split_ratio": 2.0, "normalize": False}
    estimator = build_topdown_estimator("rtmpose-t", "coco17", (64, 64), codec)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model_file(model_file_state(estimator, "rtmpose-t", (64, 64), 1.25, codec), path)
