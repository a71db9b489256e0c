"""IMHN of Simple Pose: the parameter count derived from the published architecture, shapes, init."""
from __future__ import annotations

import torch

from posekit.models.simplepose import IMHN
from posekit.models.zoo import build_model, get_entry


def conv(k: int, i: int, o: int, bn: bool = True) -> int:
    return k * k * i * o + (2 * o if bn else o)   # BN has weight + bias; without BN the conv has a bias


def residual(i: int, o: int) -> int:
    m = o // 2
    return conv(1, i, m) + conv(3, m, m) + conv(1, m, o) + (conv(1, i, o) if i != o else 0)


def published_param_count(nstack=4, width=256, inc=128, depth=4, out=50, stem_first=64) -> int:
    """Closed form from posenet.py / layers_transposed.py (training uses bn=True)."""
    half = width // 2
    stem = conv(7, 3, stem_first) + residual(stem_first, half) + residual(half, half) + 6 * conv(3, half, half)
    hourglass = 0
    for d in range(depth):
        c, low = width + inc * d, width + inc * (d + 1)
        hourglass += residual(c, c) + residual(c, low) + residual(low, c) + conv(3, c, c)
    hourglass += residual(width + inc * depth, width + inc * depth)
    r = width // 16
    se = width * r + r + r * width + width
    scales = range(depth + 1)
    features = sum(conv(3, width + s * inc, width) + conv(3, width, width) + se for s in scales)
    outs = (depth + 1) * conv(1, width, out, bn=False)
    merges = sum(conv(1, width, width + s * inc) + conv(1, out, width + s * inc) for s in scales)
    return stem + nstack * (hourglass + features + outs) + (nstack - 1) * merges


def test_published_parameter_count_pinned():
    assert published_param_count() == 128_998_760          # the "~129 M" of the official code
    with torch.device("meta"):                              # no memory, no init cost
        model = build_model("simplepose-imhn")
    assert sum(p.numel() for p in model.parameters()) == published_param_count()


def test_small_variant_count_and_shapes():
    model = build_model("simplepose-imhn-s")
    assert sum(p.numel() for p in model.parameters()) == published_param_count(2, 64, 32, 4, 50, 16)
    assert get_entry("simplepose-imhn-s").input_size == (256, 256)
    model.train()
    preds = model(torch.randn(2, 3, 64, 64))
    assert len(preds) == 2
    assert [tuple(p.shape) for p in preds[-1]] == [(2, 50, 16, 16), (2, 50, 8, 8), (2, 50, 4, 4), (2, 50, 2, 2),
                                                   (2, 50, 1, 1)]
    sum(p.sum() for stack in preds for p in stack).backward()
    assert all(p.grad is not None for p in model.parameters())


def test_crowdpose_channels_and_init():
    model = build_model("simplepose-imhn-s", keypoint_set="crowdpose14")
    assert model.outs[0][0][0].out_channels == 36
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    std = torch.cat([w.flatten() for w in convs]).std().item()
    assert 0.0009 < std < 0.0011                              # N(0, 0.001)


def test_merges_feed_next_stack():
    torch.manual_seed(0)
    model = IMHN(10, nstack=2, width=32, increase=16, stem_first=8).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for m in model.modules():                          # the published init gives ~1e-12 outputs
            if isinstance(m, torch.nn.Conv2d):
                m.weight.normal_(0, 0.1)
        base = [p.clone() for p in model(x)[1]]
        model.merge_preds[0][2][0].weight.normal_(0, 1.0)    # a scale-2 cross-stack residual
        changed = model(x)[1]
    # it reaches the next stack's scale-2 output, and the scale-0 one only through the stack input
    assert not torch.allclose(base[2], changed[2])
    assert torch.equal(base[0], changed[0])


def test_lsp14_gets_its_own_layout_not_crowdposes():
    """The set travels by name: a Simple Pose model for LSP-14 has LSP's limbs and joint order in both
    codec and model (a count of 14 used to be read as CrowdPose)."""
    from posekit.estimators.bottomup import build_bottomup_estimator
    from posekit.models.simplepose import simplepose_channels
    est = build_bottomup_estimator("simplepose-imhn-s", "lsp14", (128, 128))
    assert est.codec.keypoint_set.name == "lsp14"
    assert est.codec.num_channels == simplepose_channels("lsp14")
    out = est.model(torch.zeros(1, 3, 128, 128))
    assert out[-1][0].shape[1] == simplepose_channels("lsp14") != simplepose_channels("crowdpose14")
