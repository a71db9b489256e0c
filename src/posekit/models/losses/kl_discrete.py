"""KLDiscretLoss (SimCC / RTMPose), with mmpose's exact reduction."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KLDiscretLoss(nn.Module):
    """KL(softmax(label * label_beta) || softmax(pred * beta)) per keypoint and axis, averaged over
    bins, times the keypoint weight, summed over samples, keypoints and both axes, divided by K.

    Defaults are RTMPose's (beta 10, label softmax with label_beta 10, target weights on).
    """

    def __init__(self, beta: float = 10.0, label_softmax: bool = True, label_beta: float = 10.0,
                 use_target_weight: bool = True):
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta
        self.use_target_weight = use_target_weight

    def _per_keypoint(self, pred: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(pred * self.beta, dim=-1)
        if self.label_softmax:
            label = F.softmax(label * self.label_beta, dim=-1)
        return F.kl_div(log_p, label, reduction="none").mean(-1)  # (B, K)

    def forward(self, pred_x: torch.Tensor, pred_y: torch.Tensor, label_x: torch.Tensor,
                label_y: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """pred/label x: (B, K, Wx); pred/label y: (B, K, Wy); weights (B, K)."""
        if pred_x.shape != label_x.shape or pred_y.shape != label_y.shape:
            raise ValueError(f"KLDiscretLoss: prediction shapes {tuple(pred_x.shape)}, {tuple(pred_y.shape)} "
                             f"do not match label shapes {tuple(label_x.shape)}, {tuple(label_y.shape)}")
        loss = self._per_keypoint(pred_x, label_x) + self._per_keypoint(pred_y, label_y)
        if self.use_target_weight:
            if weights is None:
                raise ValueError("KLDiscretLoss: use_target_weight is set but no keypoint weights were given")
            loss = loss * weights.reshape(loss.shape)
        return loss.sum() / pred_x.shape[1]
