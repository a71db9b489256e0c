"""benchmarks/refine_lsp.py on a real photo: every second-look rule comes from the same first pass, and
the rule the shipped model runs (with its number of closer looks) gives what `posekit.load()` itself
returns."""
from __future__ import annotations

import numpy as np

from conftest import DATA, load_benchmark, require


def test_second_looks_share_the_first_pass_and_match_the_predictor():
    import posekit
    from posekit.data.io import load_image
    bench = load_benchmark("refine_lsp")
    photo = str(require(DATA / "lspet" / "images" / "im07001.jpg"))
    looks = bench.second_looks(posekit.load(), [photo])
    # the first pass; two keeping rules per box rule; a third look for the quarter-of-the-best rule
    assert len(looks) == 1 + 2 * len(bench.MIN_SCORES) * len(bench.PADDINGS) + len(bench.PADDINGS)
    assert all(pred.shape == (1, 12, 3) for pred in looks.values())
    # the shipped model's own setting, run by the predictor, is one of the measured rules
    model = posekit.load()
    index = [model.keypoint_set.names.index(n) for n in bench.peers_lsp.LIMBS]
    shipped = model(load_image(photo), rgb=True)[0]["keypoints"][index]
    rule = f"keypoints >= 0.25 x best, refine {model.predictor.refine}, keep the second"
    assert model.predictor.refine_looks in (1, 2)
    rule += ", then a third look" if model.predictor.refine_looks == 2 else ""
    if model.predictor.refine in bench.PADDINGS:
        np.testing.assert_allclose(looks[rule], shipped[None], atol=1e-3)
    model.predictor.refine = 0.0
    first = model(load_image(photo), rgb=True)[0]["keypoints"][index]
    np.testing.assert_allclose(looks["no second look"], first[None], atol=1e-3)
