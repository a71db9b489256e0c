"""Building an estimator (issue 16): the zoo names the estimator class and default codec, one builder
dispatches through them, a named codec is always honoured, SimCC's split ratio has one source, a typed
`loss` section, params checked before any work, and the two codec contracts."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from posekit.codecs import available_codecs, codec_class, make_codec
from posekit.codecs.base import BottomUpCodec, TopDownCodec
from posekit.codecs.simcc import SimCCCodec
from posekit.config import CodecConfig, ConfigError, ExperimentConfig, from_dict, load_config, to_dict
from posekit.estimators.base import estimator_class
from posekit.estimators.build import build_estimator
from posekit.estimators.bottomup import BottomUpEstimator, build_bottomup_estimator
from posekit.estimators.simplepose import SimplePoseEstimator
from posekit.estimators.topdown import TopDownEstimator, build_topdown_estimator
from posekit.experiment import build_estimator as build_from_config
from posekit.experiment import load_experiment, resolve_config, stored_config
from posekit.keypoints import get_keypoint_set
from posekit.models.losses import loss_class, register_loss
from posekit.models.losses.objectives import JointsMSE
from posekit.models.zoo import get_entry, list_models

SMALL = {"keypoint_set": "lsp14", "input_size": [64, 64]}


def config(**sections) -> ExperimentConfig:
    return from_dict(ExperimentConfig, {"data": dict(SMALL), **sections})


# ------------------------------------------------------------------- 1. the zoo names the estimator
def test_every_zoo_entry_names_an_estimator_class_of_its_paradigm():
    expected = {"rtmpose-t": TopDownEstimator, "simplebaseline-res18": TopDownEstimator,
                "higherhrnet-w32": BottomUpEstimator, "simplepose-imhn-s": SimplePoseEstimator}
    for name, cls in expected.items():
        assert estimator_class(get_entry(name).estimator) is cls
    for entry in list_models():
        assert entry.paradigm == entry.estimator.paradigm == estimator_class(entry.estimator).kind.paradigm


def test_paradigm_is_optional_and_a_contradiction_names_the_key():
    assert ExperimentConfig().paradigm is None
    assert resolve_config(config(model={"name": "higherhrnet-w32"})).paradigm == "bottomup"
    assert resolve_config(config(model={"name": "rtmpose-t"})).paradigm == "topdown"
    with pytest.raises(ConfigError, match=r"config key 'paradigm': 'topdown', but model 'simplepose-imhn-s' is bottomup"):
        resolve_config(config(paradigm="topdown", model={"name": "simplepose-imhn-s"}))
    with pytest.raises(ConfigError, match="config key 'paradigm'"):
        build_topdown_estimator("higherhrnet-w32", input_size=(128, 128), model_params={"width": 8})


def test_configs_that_state_the_paradigm_still_load():
    from pathlib import Path
    configs = Path(__file__).resolve().parents[1] / "configs"
    cfg = resolve_config(load_config(configs / "higherhrnet-w32_coco-512.yaml"))
    assert (cfg.paradigm, cfg.codec.name) == ("bottomup", "associative_embedding")


# --------------------------------------------------------------- 2. one builder, no string switches
@register_loss("test_half_mse")
class HalfMSE(JointsMSE):
    """A loss no estimator module knows by name: reachable through the registry alone."""

    def forward(self, outputs, batch):
        return {"loss": 0.5 * super().forward(outputs, batch)["loss"]}


def test_one_builder_dispatches_through_the_zoo_and_the_codec_class():
    import posekit.estimators.topdown as topdown
    assert not hasattr(topdown, "LOSSES")
    estimator = build_estimator("simplebaseline-res18", "lsp14", (64, 64), model_params={"deconv_channels": 16})
    assert isinstance(estimator, TopDownEstimator) and type(estimator.loss_fn).__name__ == "JointsMSE"
    named = build_topdown_estimator("simplebaseline-res18", "lsp14", (64, 64), model_params={"deconv_channels": 16},
                                    loss={"name": "test_half_mse"})
    assert isinstance(named.loss_fn, HalfMSE)
    simplepose = build_bottomup_estimator("simplepose-imhn-s", "lsp14", (128, 128))
    assert isinstance(simplepose, SimplePoseEstimator) and type(simplepose.loss_fn).__name__ == "FocalL2Objective"
    ae = build_bottomup_estimator("higherhrnet-w32", input_size=(128, 128), model_params={"width": 8},
                                  test_scales=(1.0, 2.0))
    assert isinstance(ae, BottomUpEstimator) and ae.test_scales == (1.0, 2.0)


def test_a_codec_of_the_other_contract_is_a_config_error():
    with pytest.raises(ConfigError, match=r"config key 'codec.name': .*TopDownEstimator.*TopDownCodec"):
        build_from_config(config(model={"name": "rtmpose-t"}, codec={"name": "associative_embedding"}))


# ------------------------------------------------------------------- 3. the named codec is honoured
def test_a_named_codec_is_honoured_without_params():
    assert CodecConfig().name is None
    cfg = config(model={"name": "simplebaseline-res18", "params": {"deconv_channels": 16}}, codec={"name": "simcc"})
    estimator = build_from_config(cfg)
    assert isinstance(estimator.codec, SimCCCodec) and type(estimator.loss_fn).__name__ == "SimCCKL"
    assert isinstance(build_from_config(config(model={"name": "rtmpose-t"})).codec, SimCCCodec)


def test_old_stored_config_with_the_old_default_codec_gets_the_zoos(tmp_path):
    """Checkpoints written while CodecConfig.name defaulted to "heatmap" store that name with empty
    params even for RTMPose; the name was ignored then and must mean the zoo's codec now."""
    from posekit.training.checkpoint import save_checkpoint
    old = to_dict(config(model={"name": "rtmpose-t"}))
    old.update(paradigm="topdown", codec={"name": "heatmap", "params": {}})
    old.pop("loss")  # an old config has no loss section
    assert stored_config(old).codec.name is None
    assert stored_config(old, ["codec.name=heatmap", "codec.params.output_stride=4"]).codec.name == "heatmap"
    weights = build_topdown_estimator("rtmpose-t", "lsp14", (64, 64)).state_dict()
    save_checkpoint({"strategy": {}, "estimator": weights, "metadata": {"experiment": old}}, tmp_path / "old.pt")
    cfg, estimator = load_experiment(tmp_path / "old.pt")
    assert isinstance(estimator.codec, SimCCCodec) and cfg.paradigm == "topdown"
    import posekit
    assert isinstance(posekit.load(tmp_path / "old.pt").estimator.codec, SimCCCodec)


# ----------------------------------------------------------------- 4. SimCC split ratio, one source
def test_split_ratio_from_the_codec_sizes_the_model():
    estimator = build_from_config(config(model={"name": "rtmpose-t"}, codec={"params": {"split_ratio": 3.0}}))
    x, y = estimator.model(torch.zeros(1, 3, 64, 64))
    assert (x.shape[-1], y.shape[-1]) == estimator.codec.output_size == (192, 192)
    sigma_only = build_from_config(config(model={"name": "rtmpose-t"}, codec={"params": {"sigma": [5, 5]}}))
    assert sigma_only.codec.sigma == (5.0, 5.0) and sigma_only.codec.output_size == (128, 128)


def test_model_split_ratio_points_to_the_codec():
    with pytest.raises(ConfigError, match=r"'model.params.split_ratio': set codec.params.split_ratio instead"):
        resolve_config(config(model={"name": "rtmpose-t", "params": {"split_ratio": 3.0}}))


# ------------------------------------------------------------------------------ 5. the loss section
def test_loss_section_names_and_configures_the_loss():
    cfg = config(model={"name": "rtmpose-t"}, loss={"params": {"beta": 5.0, "label_softmax": False}})
    estimator = build_from_config(cfg)
    assert estimator.loss_fn.kl.beta == 5.0 and estimator.loss_fn.kl.label_softmax is False
    with pytest.raises(ConfigError, match=r"config key 'loss.name': unknown loss 'nope'"):
        resolve_config(config(model={"name": "rtmpose-t"}, loss={"name": "nope"}))
    with pytest.raises(ConfigError, match=r"config key 'loss.params.bta': unknown; known keys: beta, label_softmax"):
        resolve_config(config(model={"name": "rtmpose-t"}, loss={"params": {"bta": 5.0}}))


def test_legacy_codec_params_loss_moves_to_the_loss_section():
    cfg = from_dict(ExperimentConfig, {"codec": {"name": "simplepose", "params": {"sigma": 9.0, "loss": {"gamma": 2.0}}}})
    assert cfg.codec.params == {"sigma": 9.0} and cfg.loss.params == {"gamma": 2.0}
    with pytest.raises(ConfigError, match="codec.params.loss' and 'loss.params'"):
        from_dict(ExperimentConfig, {"codec": {"params": {"loss": {"gamma": 2.0}}}, "loss": {"params": {"gamma": 1.0}}})


# --------------------------------------------------------------- 6. params checked before any work
@pytest.mark.parametrize("sections, key", [
    ({"model": {"name": "rtmpose-t", "params": {"dropuot": 0.1}}}, r"'model.params.dropuot': unknown; known keys: dropout"),
    ({"model": {"name": "rtmpose-t"}, "codec": {"params": {"sigma": "wide"}}}, r"'codec.params.sigma': 'wide' is not"),
    ({"model": {"name": "rtmpose-t"}, "codec": {"params": {"input_size": [1, 2]}}},
     r"'codec.params.input_size': set by the experiment"),
    ({"model": {"name": "simplepose-imhn-s"}, "loss": {"params": {"gamma": "two"}}}, r"'loss.params.gamma'"),
])
def test_params_are_checked_without_building_anything(sections, key, monkeypatch):
    from posekit.models.zoo import ZooEntry
    monkeypatch.setattr(ZooEntry, "build", lambda *a, **k: pytest.fail("built a model while checking"))
    with pytest.raises(ConfigError, match=key):
        resolve_config(config(**sections))


def test_train_refuses_bad_params_before_reading_data(tmp_path):
    from posekit.experiment import train
    cfg = config(model={"name": "rtmpose-t", "params": {"dropuot": 0.1}}, out_dir=str(tmp_path / "run"))
    cfg.data.train = str(tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="model.params.dropuot"):
        train(cfg, progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("codec", ["heatmap", "simcc"])
def test_codec_check_of_a_top_down_codec_is_one_line(codec, tmp_path, capsys):
    from posekit.cli import main
    assert main(["codec-check", codec, "--gt", str(tmp_path / "no.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"'{codec}' is a top-down codec" in err and "Traceback" not in err


# ------------------------------------------------------------------------ 7. the codec contracts
PARAMS = {"heatmap": {"output_stride": 4}}  # the one codec with no default output size


@pytest.mark.parametrize("name", available_codecs())
def test_every_registered_codec_follows_one_contract(name):
    kset = get_keypoint_set("coco17")
    codec = make_codec(name, (128, 128), kset, PARAMS.get(name, {}))
    follows = [p for p in (TopDownCodec, BottomUpCodec) if isinstance(codec, p)]
    assert len(follows) == 1, f"{name} follows {follows}"
    assert loss_class(codec_class(name).default_loss)
    if follows[0] is BottomUpCodec:
        # decode takes ideal_outputs' form back to one (P, K, 3), (P,) pair per image, in input pixels
        offsets = [(0, 0), (-3, -3), (3, -3), (-6, -1), (6, -1), (-12, 14), (12, 14), (-16, 30), (16, 30),
                   (-18, 44), (18, 44), (-8, 46), (8, 46), (-8, 68), (8, 68), (-8, 90), (8, 90)]
        keypoints = (np.array(offsets, np.float64) + (60, 20))[None]  # one standing person
        (poses, scores), = codec.decode(codec.ideal_outputs(keypoints, np.ones((1, 17))))
        assert poses.shape == (1, 17, 3) and scores.shape == (1,)
        assert np.abs(poses[0, :, :2] - keypoints[0]).max() < 4
