"""Prediction heads: RTMPose's RTMCC SimCC head and its gated attention unit."""
