"""How tools/train_default_model.py packs a new stage: the inference setting the shipped file already
has stays unless another beats it on validation by more than the noise."""
from __future__ import annotations

import sys

from conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
import train_default_model  # noqa: E402
from train_default_model import SETTING_MARGIN, choose_setting  # noqa: E402

SETTINGS = {"a": (1.0, 1.15, 1), "b": (1.25, 1.3, 1), "c": (1.0, 0.0, 1), "d": (1.0, 1.15, 2)}


def test_the_shipped_setting_stays_within_the_margin():
    scores = {"a": 0.307, "b": 0.307 - SETTING_MARGIN / 2, "c": 0.2, "d": 0.3}
    assert choose_setting(scores, SETTINGS, incumbent=(1.25, 1.3, 1)) == "b"


def test_a_clearly_better_setting_replaces_it():
    scores = {"a": 0.31 + 2 * SETTING_MARGIN, "b": 0.31, "c": 0.2, "d": 0.3}
    assert choose_setting(scores, SETTINGS, incumbent=(1.25, 1.3, 1)) == "a"
    # A further look is a setting like any other: it wins only by more than the margin.
    assert choose_setting({**scores, "d": 0.31 + 4 * SETTING_MARGIN}, SETTINGS, incumbent=(1.0, 1.15, 1)) == "d"


def test_without_a_shipped_file_or_its_setting_the_best_wins():
    scores = {"a": 0.30, "b": 0.31, "c": 0.2, "d": 0.3}
    assert choose_setting(scores, SETTINGS, incumbent=None) == "b"
    assert choose_setting({**scores, "a": 0.309}, SETTINGS, incumbent=(2.0, 1.0, 1)) == "b"


def test_the_recipe_summary_counts_each_ingredient_from_the_configs(monkeypatch):
    """The model file's training summary is read from the stage configs, so it follows STAGES: here the
    first five stages (cycles 3-5 plain), then the first thirteen (cycles 3-13: half-body from stage 6, cut
    crops from 8, COCO from 10, photometric from 13), then seventeen (LSP train x4 in stage 17), then with the tried stage 18 (x2)."""
    stages = tuple(f"default_model_stage{i}.yaml" if i > 1 else "default_model.yaml" for i in range(1, 14))
    monkeypatch.setattr(train_default_model, "STAGES", stages[:5])
    assert train_default_model.recipe_summary().endswith("(3 cosine cycles)")
    monkeypatch.setattr(train_default_model, "STAGES", stages)
    assert train_default_model.recipe_summary().endswith(
        "(11 cosine cycles, the last 8 with half-body crops, the last 6 also cut across the body, the last 4 "
        "with the coco_subset persons added, the last with photometric augmentation (HSV, blur, CoarseDropout))")
    # Stages 17 and 18 train on train_coco_lsp4 and _lsp2: still the COCO persons, fewer LSP copies named.
    monkeypatch.setattr(train_default_model, "STAGES", stages + tuple(f"default_model_stage{i}.yaml" for i in range(14, 18)))
    assert train_default_model.recipe_summary().endswith(
        "the last 8 with the coco_subset persons added, the last 5 with photometric augmentation (HSV, blur, "
        "CoarseDropout), the last with LSP train x4)")
    monkeypatch.setattr(train_default_model, "STAGES", stages + tuple(f"default_model_stage{i}.yaml" for i in range(14, 19)))
    assert train_default_model.recipe_summary().endswith("(HSV, blur, CoarseDropout), the last 2 with LSP train x4)")
    tried = ("default_model_stage18_lsp2.yaml",)  # trained as stage 18, not shipped; the summary logic still holds
    monkeypatch.setattr(train_default_model, "STAGES", stages + tuple(f"default_model_stage{i}.yaml" for i in range(14, 18)) + tried)
    assert train_default_model.recipe_summary().endswith(
        "(HSV, blur, CoarseDropout), the last 2 with LSP train x4 then x2)")
