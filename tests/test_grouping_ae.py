"""Associative-embedding grouping on crafted maps: two people, a missing joint, flip; and the fast
parse against the plain per-joint implementation of the published algorithm."""
from __future__ import annotations


import numpy as np
import pytest
import torch

from conftest import load_benchmark
from posekit.codecs import build_codec
from posekit.codecs.associative_embedding import project
from posekit.grouping.associative_embedding import COCO_JOINT_ORDER, BlockBounds, GroupingParams, parse, refine, top_k_peaks
from posekit.keypoints import get_keypoint_set

def _baseline():
    return load_benchmark("grouping_speed").baseline_parse


def _scene() -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """Single-pixel peaks: person A (tag 1) has all 17 joints, person B (tag 3) lacks joint 5,
    whose only trace is a weak 0.05 peak carrying B's tag."""
    k, h, w = 17, 40, 48
    heat, tags = torch.zeros(k, h, w), torch.zeros(k, h, w)
    a = np.stack([np.arange(k) + 2, np.full(k, 5)], axis=1)
    b = np.stack([np.arange(k) + 20, np.full(k, 30)], axis=1)
    for j in range(k):
        heat[j, a[j, 1], a[j, 0]], tags[j, a[j, 1], a[j, 0]] = 0.9, 1.0
        if j != 5:
            heat[j, b[j, 1], b[j, 0]], tags[j, b[j, 1], b[j, 0]] = 0.8, 3.0
    heat[5, 35, 40], tags[5, 35, 40] = 0.05, 3.0
    tags[tags == 0] = 10.0  # background tags far from everyone
    return heat, tags, a, b


def test_two_people_grouped_adjusted_and_missing_joint_refined() -> None:
    heat, tags, a, b = _scene()
    keypoints, scores = parse(heat, tags, GroupingParams())
    assert keypoints.shape == (2, 17, 3)
    first, second = (0, 1) if keypoints[0, 0, 0] < keypoints[1, 0, 0] else (1, 0)
    # Both neighbours are 0: the tie shifts by -0.25, then +0.5.
    np.testing.assert_allclose(keypoints[first, :, :2], a + 0.25)
    np.testing.assert_allclose(keypoints[first, :, 2], 0.9, rtol=1e-6)
    np.testing.assert_allclose(np.delete(keypoints[second, :, :2], 5, 0), np.delete(b, 5, 0) + 0.25)
    # Refined: the weak peak carrying B's tag (below the 0.1 detection threshold).
    np.testing.assert_allclose(keypoints[second, 5], [40.25, 35.25, 0.05], rtol=1e-6)
    # Person score: mean of the joint scores before refinement (B's missing joint counts as 0).
    assert scores[first] == pytest.approx(0.9, rel=1e-6)
    assert scores[second] == pytest.approx(0.8 * 16 / 17, rel=1e-6)


def test_tags_further_than_threshold_start_new_people_and_order_is_published() -> None:
    heat, tags, _, _ = _scene()
    tags[11][tags[11] == 3.0] = 4.2   # B's left hip: tag distance 1.2 >= 1 from both people
    keypoints, _ = parse(heat, tags, GroupingParams())
    assert len(keypoints) == 3
    assert COCO_JOINT_ORDER[:9] == (0, 1, 2, 3, 4, 5, 6, 11, 12)


def test_fast_parse_equals_plain_published_algorithm_on_random_maps() -> None:
    baseline = _baseline()
    rng = np.random.default_rng(0)
    for trial in range(3):
        low = torch.from_numpy(rng.random((17, 12, 16), dtype=np.float32))
        heat = torch.nn.functional.interpolate(low[None] ** 3, size=(24, 32), mode="bilinear", align_corners=False)[0]
        tag_low = torch.from_numpy(rng.normal(0, 2, (17, 12, 16, 1 + trial % 2)).astype(np.float32))
        tags = torch.nn.functional.interpolate(tag_low.permute(3, 0, 1, 2), size=(24, 32), mode="bilinear",
                                               align_corners=False).permute(1, 2, 3, 0).contiguous()
        fast_k, fast_s = parse(heat, tags, GroupingParams())
        base_k, base_s = baseline(heat, tags, GroupingParams())
        assert len(fast_k) > 1
        np.testing.assert_array_equal(fast_k, base_k)
        np.testing.assert_array_equal(fast_s, base_s)


def test_flip_merge_permutes_and_mirrors_back() -> None:
    kset = get_keypoint_set("coco17")
    codec = build_codec("associative_embedding", input_size=(64, 64))
    rng = np.random.default_rng(1)
    keypoints = rng.uniform(4, 60, (2, 17, 2))
    outputs = codec.ideal_outputs(keypoints, np.ones((2, 17)))
    flip = list(kset.flip_index)
    # A perfect network on the mirrored image outputs mirrored maps with left/right channels swapped.
    on_flipped = [torch.cat([o[:, c:c + 17][:, flip] for c in range(0, o.shape[1], 17)], 1).flip(-1) for o in outputs]
    mirrored_back = [o.flip(-1) for o in on_flipped]
    heat, tags = codec.merge_outputs(outputs, mirrored_back, flip, project_size=(64, 64))
    plain_heat, plain_tags = codec.merge_outputs(outputs, project_size=(64, 64))
    assert tags.shape == (1, 17, 64, 64, 2)
    torch.testing.assert_close(heat, plain_heat)
    torch.testing.assert_close(tags[..., 1], plain_tags[..., 0])
    (flip_kpts, _), = codec.parse_maps({"heatmaps": heat, "tags": tags})
    (kpts, _), = codec.parse_maps({"heatmaps": plain_heat, "tags": plain_tags})
    np.testing.assert_array_equal(flip_kpts, kpts)


def _coarse_scene(seed: int, quarter: tuple[int, int], tag_dims: int, noise: float):
    """Half-resolution heatmaps and quarter-resolution tags, upsampled as the decode does (tags
    1/4 -> 1/2 -> full, heatmaps 1/2 -> full); full sizes deliberately not multiples of the block."""
    rng = np.random.default_rng(seed)
    qh, qw = quarter
    low = torch.from_numpy(rng.random((1, 17, qh, qw), dtype=np.float32)) ** 4
    half_heat = torch.nn.functional.interpolate(low, size=(2 * qh, 2 * qw), mode="bilinear", align_corners=False)
    half_heat = half_heat + torch.from_numpy(rng.normal(0, noise, half_heat.shape).astype(np.float32))
    quarter_tags = torch.from_numpy(rng.integers(0, 4, (1, 17, qh, qw, tag_dims)).astype(np.float32))
    quarter_tags = quarter_tags + torch.from_numpy(rng.normal(0, noise, quarter_tags.shape).astype(np.float32))
    up = lambda t, size: torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)
    planes = quarter_tags.permute(0, 4, 1, 2, 3).reshape(1, 17 * tag_dims, qh, qw)
    half_tags = up(planes, (2 * qh, 2 * qw)).reshape(1, tag_dims, 17, 2 * qh, 2 * qw).permute(0, 2, 3, 4, 1)
    heat, tags = project(half_heat, half_tags, (4 * qw, 4 * qh))
    return heat[0], tags[0], half_heat[0], half_tags[0], quarter_tags[0]


@pytest.mark.parametrize("seed,quarter,tag_dims,noise", [(0, (13, 11), 1, 0.0), (1, (9, 14), 2, 0.05), (2, (16, 16), 1, 0.1)])
def test_bounds_from_coarse_maps_hold_and_parse_is_unchanged(seed, quarter, tag_dims, noise) -> None:
    heat, tags, half_heat, half_tags, quarter_tags = _coarse_scene(seed, quarter, tag_dims, noise)
    heat_np, tags_np = heat.numpy(), tags.numpy()
    for coarse_tags in (half_tags, quarter_tags):
        bounds = BlockBounds.from_coarse(half_heat.numpy(), coarse_tags.numpy(), heat.shape[1:])
        exact = BlockBounds.from_maps(heat_np, tags_np, block=bounds.block)
        assert (bounds.heat_max >= exact.heat_max).all()
        for joint in range(17):
            (low, high), (exact_low, exact_high) = bounds.tag_box(joint), exact.tag_box(joint)
            assert (low <= exact_low).all() and (high >= exact_high).all()
        # Pruning is real: the coarse bounds are within a few tenths of the exact ones.
        assert np.median(bounds.heat_max - exact.heat_max) < 0.3
        fast = parse(heat, tags, GroupingParams(), coarse=(half_heat, coarse_tags))
        plain = _baseline()(heat, tags, GroupingParams())
        assert len(plain[0]) > 0
        np.testing.assert_array_equal(fast[0], plain[0])
        np.testing.assert_array_equal(fast[1], plain[1])


@pytest.mark.parametrize("size", [(64, 48), (52, 44)])
def test_block_reads_and_exact_maxima_match_the_maps(size) -> None:
    """`read` (a strided view when blocks tile the maps, per-pixel indices otherwise) returns the
    pixels `pixels` names, for heatmaps and for non-contiguous tags; `make_exact` replaces a coarse
    bound by the block's exact max, as `from_maps` computes it."""
    rng = np.random.default_rng(0)
    h, w = size
    heat = rng.random((3, h, w), dtype=np.float32)
    tags = np.moveaxis(rng.random((2, 3, h, w), dtype=np.float32), 0, -1)   # (3, h, w, 2), a strided view
    exact = BlockBounds.from_maps(heat, tags)
    bounds = BlockBounds(exact.heat_max + 1, lambda joints: (None, None), (h, w), 8, 2)
    blocks = np.array([0, 3, bounds.blocks_y * bounds.blocks_x - 1])
    joints = np.array([2, 0, 1])
    pixels = bounds.pixels(blocks)
    np.testing.assert_array_equal(bounds.read(heat, joints, blocks), heat.reshape(3, -1)[joints[:, None], pixels])
    ys, xs = np.divmod(pixels, w)
    np.testing.assert_array_equal(bounds.read(tags, 1, blocks), tags[1][ys, xs])
    bounds.make_exact(heat, joints, blocks)
    by, bx = np.divmod(blocks, bounds.blocks_x)
    np.testing.assert_array_equal(bounds.heat_max[joints, by, bx], exact.heat_max[joints, by, bx])
    assert bounds.exact.sum() == 3 and exact.exact.all()


@pytest.mark.parametrize("flip", [False, True])
def test_decode_equals_plain_parse_of_projected_maps_with_ties(flip: bool) -> None:
    """Ideal maps are zero almost everywhere, so refinement arg-maxima are decided by index ties."""
    codec = build_codec("associative_embedding", input_size=(96, 64))
    rng = np.random.default_rng(3)
    keypoints = rng.uniform(2, 60, (3, 17, 2))
    visible = rng.random((3, 17)) > 0.3
    outputs = codec.ideal_outputs(keypoints, visible)
    flip_index = list(get_keypoint_set("coco17").flip_index)
    # A second pass whose tags differ (offset by 0.3) so that the two tag dimensions matter.
    flipped = [torch.cat([outputs[0][:, :17], outputs[0][:, 17:] + 0.3], 1), outputs[1]] if flip else None
    # decode takes the mirrored image's outputs as the network gives them (not yet mirrored back)
    as_given = [o.flip(-1) for o in flipped] if flip else None
    (fast_k, fast_s), = codec.decode(outputs, as_given, flip_index if flip else None)
    heat, tags = codec.merge_outputs(outputs, flipped, flip_index if flip else None, project_size=(96, 64))
    plain_k, plain_s = _baseline()(heat[0], tags[0], codec.grouping)
    assert tags.shape[-1] == (2 if flip else 1) and len(plain_k) >= 3
    np.testing.assert_array_equal(fast_k, plain_k)
    np.testing.assert_array_equal(fast_s, plain_s)


def _refine_plainly(persons: np.ndarray, heat: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """The published refinement per person and joint: np.argmax over the whole map."""
    persons = persons.copy()
    h, w = heat.shape[1:]
    for person in persons:
        present = person[:, 2] > 0
        mean = tags[np.flatnonzero(present), person[present, 1].astype(int), person[present, 0].astype(int)].mean(axis=0)
        for j in np.flatnonzero(~present):
            y, x = np.unravel_index(np.argmax(heat[j] - np.round(((tags[j] - mean) ** 2).sum(axis=2) ** 0.5)), (h, w))
            if heat[j, y, x] > 0:
                dx = 0.25 if heat[j, y, min(x + 1, w - 1)] > heat[j, y, max(x - 1, 0)] else -0.25
                dy = 0.25 if heat[j, min(y + 1, h - 1), x] > heat[j, max(y - 1, 0), x] else -0.25
                person[j] = (x + 0.5 + dx, y + 0.5 + dy, heat[j, y, x], *person[j, 3:])
    return persons


@pytest.mark.parametrize("noise,scale", [(0.0, 1.0), (0.05, 1.0), (0.05, 100.0)])
def test_refinement_equals_full_map_argmax_for_high_and_low_seeds(noise: float, scale: float) -> None:
    """Refinement searches all (person, missing joint) pairs at once from lower bounds ("seeds")
    left by top-k. Persons whose mean tag is the background's get high seeds (a noise maximum);
    ones one level away from everything (1.0), or between levels (0.75), get low seeds and the
    tag-box search; noise-free maps decide by index ties. Both bound sources, against np.argmax.
    `scale` multiplies every tag: levels in the hundreds must not upset the search's ordering."""
    heat, tags, half_heat, _, quarter_tags = _coarse_scene(4, (12, 15), 1, noise)
    quarter_tags = quarter_tags * 0 + torch.from_numpy(np.random.default_rng(5).normal(0, 0.15, quarter_tags.shape).astype(np.float32))
    quarter_tags[:, 2:5, 3:6] += 2.0                    # one region of tag 2 in every map
    quarter_tags *= scale
    up = lambda t, size: torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)
    planes = quarter_tags.permute(3, 0, 1, 2)
    half_tags = up(planes, (24, 30)).permute(1, 2, 3, 0)
    tags = up(half_tags.permute(3, 0, 1, 2), (48, 60)).permute(1, 2, 3, 0).contiguous()
    heat_np, tags_np = heat.numpy(), tags.numpy()
    # Persons: one present joint each, at pixels whose tags give the wanted mean tag.
    persons = np.zeros((4, 17, 4), np.float32)
    for p, (want, joint) in enumerate([(0.0, 0), (1.0, 1), (0.75, 2), (2.0, 3)]):
        y, x = np.unravel_index(np.argmin(np.abs(tags_np[joint, :, :, 0] - want * scale)), (48, 60))
        persons[p, joint] = (x, y, 0.5, tags_np[joint, y, x, 0])
    expected = _refine_plainly(persons, heat_np, tags_np)
    assert (expected[:, :, 2] > 0).sum() > 17        # most missing joints are found
    for bounds in (BlockBounds.from_maps(heat_np, tags_np),
                   BlockBounds.from_coarse(half_heat.numpy(), quarter_tags.numpy(), (48, 60))):
        top_k_peaks(heat_np, tags_np, 30, 5, 0.1, bounds)    # as parse does: leaves the seeds
        np.testing.assert_array_equal(refine(persons, heat_np, tags_np, bounds), expected)


def test_coarse_maps_of_the_wrong_size_are_rejected() -> None:
    with pytest.raises(ValueError, match="not the x2 projection"):
        BlockBounds.from_coarse(np.zeros((17, 10, 10), np.float32), np.zeros((17, 10, 10, 1), np.float32), (30, 20))
    with pytest.raises(ValueError, match="tags of size"):
        BlockBounds.from_coarse(np.zeros((17, 10, 10), np.float32), np.zeros((17, 3, 3, 1), np.float32), (20, 20))
