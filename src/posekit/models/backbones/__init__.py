"""Feature extractors: ResNet, HRNet, CSPNeXt and the Simple Pose hourglass blocks."""
