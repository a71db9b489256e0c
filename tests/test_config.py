"""Typed configs: YAML + KEY=VALUE overrides, with errors that name the key before any work."""
from pathlib import Path

import pytest

from posekit.config import ConfigError, ExperimentConfig, load_config

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_yaml_and_overrides_fill_typed_fields(tmp_path):
    cfg = load_config(write(tmp_path, "data:\n  batch_size: 8\ntrain:\n  lr: 0.01\n"),
                      ["train.epochs=3", "data.input_size=[96,128]", "model.params={depth: 18}"])
    assert isinstance(cfg, ExperimentConfig)
    assert cfg.data.batch_size == 8 and cfg.train.lr == 0.01 and cfg.train.epochs == 3
    assert cfg.data.input_size == (96, 128) and cfg.model.params == {"depth": 18}
    assert isinstance(cfg.train.lr, float)


def test_int_is_accepted_for_float_but_not_the_reverse(tmp_path):
    assert load_config(None, ["train.lr=1"]).train.lr == 1.0
    with pytest.raises(ConfigError, match="train.epochs"):
        load_config(None, ["train.epochs=2.5"])


@pytest.mark.parametrize("override, key", [
    (["train.learning_rate=0.1"], "train.learning_rate"),
    (["dat.batch_size=2"], "dat"),
    (["data.augment.flipp=0.5"], "data.augment.flipp"),
])
def test_unknown_keys_are_named(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, override)


@pytest.mark.parametrize("override, key", [
    (["train.optimizer=lion"], "train.optimizer"),
    (["data.batch_size=big"], "data.batch_size"),
    (["data.input_size=[1,2,3]"], "data.input_size"),
    (["paradigm=sideways"], "paradigm"),
    (["train.ema=maybe"], "train.ema"),
    (["data.augment.cut_range=[1.0,0.5]"], "data.augment.cut_range"),
    (["data.augment.jitter=wobbly"], "data.augment.jitter"),
])
def test_bad_values_are_named(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(None, override)


def test_base_include_and_malformed_yaml(tmp_path):
    (tmp_path / "base.yaml").write_text("train:\n  epochs: 7\n  lr: 0.5\n")
    child = tmp_path / "child.yaml"
    child.write_text("base: base.yaml\ntrain:\n  lr: 0.25\n")
    cfg = load_config(child)
    assert cfg.train.epochs == 7 and cfg.train.lr == 0.25
    bad = write(tmp_path, "train: [unclosed\n")
    with pytest.raises(ConfigError, match="exp.yaml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not KEY=VALUE"):
        load_config(None, ["train.lr"])


def test_every_shipped_config_loads():
    configs = sorted((REPO / "configs").rglob("*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        load_config(path)  # raises, naming the key, on any drift from the schema


def test_image_ids_keep_only_those_images_and_name_missing_ones(coco_subset):
    from posekit.experiment import load_split
    gt = coco_subset / "person_keypoints_merged.json"
    # From the command line, as a user would write it.
    cfg = load_config(None, [f"data.train={gt}", f"data.val={gt}", "data.image_ids=[785,30752]"])
    data = load_split(cfg, "val")
    assert sorted(r.image_id for r in data.records) == [785, 30752]
    cfg = load_config(None, [f"data.train={gt}", "data.image_ids=[785,1]"])
    with pytest.raises(ConfigError, match=r"data.image_ids.*no image with id 1"):
        load_split(cfg, "train")


def test_rtmpose_coco_configs_use_the_published_lr_per_image():
    """Published: AdamW 4e-3 at a total batch of 2048 (auto_scale_lr off), i.e. 4e-3 / 2048 per image."""
    from pathlib import Path

    from posekit.config import load_config
    configs = Path(__file__).resolve().parents[1] / "configs"
    for size in "tsml":
        cfg = load_config(configs / f"rtmpose-{size}_coco-256x192.yaml")
        assert abs(cfg.train.lr / cfg.data.batch_size - 4e-3 / 2048) < 1e-12, size


def test_unknown_model_and_codec_params_name_the_key():
    from posekit.config import ConfigError, from_dict
    from posekit.config import ExperimentConfig
    from posekit.experiment import build_estimator
    cfg = from_dict(ExperimentConfig, {"model": {"name": "rtmpose-t", "params": {"dropuot": 0.1}},
                                       "data": {"keypoint_set": "lsp14", "input_size": [64, 64]}})
    with pytest.raises(ConfigError, match=r"config key 'model.params.dropuot'"):
        build_estimator(cfg)
    cfg = from_dict(ExperimentConfig, {"model": {"name": "simplebaseline-res18"}, "codec": {"params": {"sigmaa": 2}},
                                       "data": {"keypoint_set": "lsp14", "input_size": [64, 64]}})
    with pytest.raises(ConfigError, match=r"config key 'codec.params.sigmaa'"):
        build_estimator(cfg)
