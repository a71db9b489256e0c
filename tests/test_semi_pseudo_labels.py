"""SSPCM's pair selection and score mask on crafted heatmaps."""
import math

import torch

from posekit.training.strategies.sspcm import PAIRS, SSPCMParams, keypoint_weights, select_consistent_pair


def _maps(points: list[tuple[int, int]], peak: float = 1.0) -> torch.Tensor:
    """One image, one heatmap per point with a single hot pixel at (x, y)."""
    maps = torch.zeros(1, len(points), 16, 12)
    for k, (x, y) in enumerate(points):
        maps[0, k, y, x] = peak
    return maps


def test_closest_pair_is_chosen_and_averaged():
    # Keypoint 0: T1' and T2 agree (distance 1), keypoint 1: T1 and T2' agree exactly.
    t1 = _maps([(0, 0), (5, 5)])
    t2 = _maps([(6, 8), (11, 15)])
    t1_last = _maps([(6, 9), (0, 15)])
    t2_last = _maps([(11, 0), (5, 5)])
    pseudo, score, choice = select_consistent_pair(t1, t2, t1_last, t2_last)
    assert [PAIRS[i] for i in choice[0].tolist()] == ["T1last-T2", "T1-T2last"]
    assert torch.allclose(score, torch.tensor([[1.0, 0.0]]))
    assert torch.equal(pseudo[0, 0], 0.5 * (t1_last[0, 0] + t2[0, 0]))
    assert torch.equal(pseudo[0, 1], t1[0, 1])  # both maps equal there


def test_current_pair_wins_ties():
    same = _maps([(3, 3)])
    _, score, choice = select_consistent_pair(same, same, same, same)
    assert choice.item() == 0 and score.item() == 0


def test_score_mask_and_optional_filters():
    peak1 = torch.tensor([[0.3, 0.05, 0.12, 0.9]])
    peak2 = torch.tensor([[0.3, 0.10, 0.06, 0.1]])
    score = torch.tensor([[0.0, 0.0, 0.0, 12.0]])
    diagonal = math.hypot(12, 16)  # 20
    weights = keypoint_weights(SSPCMParams(), peak1, peak2, score, diagonal)
    # mean peaks 0.3, 0.075, 0.09, 0.5: only the first and last pass 0.1.
    assert weights.tolist() == [[1.0, 0.0, 0.0, 1.0]]
    filtered = keypoint_weights(SSPCMParams(distance_filter=True), peak1, peak2, score, diagonal)
    assert filtered.tolist() == [[1.0, 0.0, 0.0, 0.0]]  # 12 / 20 = 0.6 is rejected
    reweighted = keypoint_weights(SSPCMParams(score_diff_weighting=True, distance_weighting=True),
                                  peak1, peak2, score, diagonal)
    assert torch.allclose(reweighted, torch.tensor([[1.0, 0.0, 0.0, (1 - 0.8) * (20 - 12) / 20]]))
