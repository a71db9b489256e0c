"""DWPose distillation losses, with the reductions of the official `FeaLoss` and `KDLoss`.

- FeaLoss: optional 1x1 conv lifting the student's feature to the teacher's width, then the
  squared error summed over every element, divided by the batch size, times alpha (7e-5).
- KDLoss: per keypoint and axis, sum over bins of KL(softmax(beta*teacher) || softmax(beta*student));
  summed over keypoints, averaged over the batch, x plus y, divided by K, times the weight.
  No keypoint weights: every keypoint is distilled, labelled or not.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class FeaLoss(nn.Module):
    """Feature distillation: alpha * sum of squared errors / batch size, between the (aligned) student
    feature and the detached teacher feature."""

    def __init__(self, student_channels: int, teacher_channels: int, alpha: float = 7e-5):
        super().__init__()
        self.alpha = alpha
        # Default PyTorch init, as the official loss builds a plain nn.Conv2d.
        self.align = (nn.Conv2d(student_channels, teacher_channels, kernel_size=1)
                      if student_channels != teacher_channels else None)

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """student (B, Cs, h, w), teacher (B, Ct, h, w) -> scalar."""
        aligned = self.align(student) if self.align is not None else student
        if aligned.shape != teacher.shape:
            raise ValueError(f"FeaLoss: student feature {tuple(aligned.shape)} (after alignment) does not match "
                             f"teacher feature {tuple(teacher.shape)}; teacher and student need the same input size")
        return F.mse_loss(aligned, teacher.detach(), reduction="sum") / teacher.shape[0] * self.alpha


class KDLoss(nn.Module):
    """Logit distillation of SimCC x/y distributions at temperature 1/beta; the teacher is detached."""

    def __init__(self, weight: float = 1.0, beta: float = 10.0):
        super().__init__()
        self.weight = weight
        self.beta = beta

    def _axis(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        log_p_student = F.log_softmax(student * self.beta, dim=-1)
        p_teacher = F.softmax(teacher.detach() * self.beta, dim=-1)
        per_keypoint = F.kl_div(log_p_student, p_teacher, reduction="none").sum(-1)  # (B, K)
        return per_keypoint.sum(1).mean()

    def forward(self, student: tuple[torch.Tensor, torch.Tensor],
                teacher: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """student/teacher: (x logits (B, K, Wx), y logits (B, K, Wy)) -> scalar."""
        (sx, sy), (tx, ty) = student, teacher
        if sx.shape != tx.shape or sy.shape != ty.shape:
            raise ValueError(f"KDLoss: student logits {tuple(sx.shape)}, {tuple(sy.shape)} do not match teacher "
                             f"logits {tuple(tx.shape)}, {tuple(ty.shape)}; teacher and student need the same "
                             "keypoint set, input size and SimCC split ratio")
        return self.weight * (self._axis(sx, tx) + self._axis(sy, ty)) / sx.shape[1]
