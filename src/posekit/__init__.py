"""posekit: pure-PyTorch 2D human pose estimation (bottom-up, top-down, distillation, semi-supervised)."""
__version__ = "0.1.0"
