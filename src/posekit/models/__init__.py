"""Plain nn.Module backbones, heads, losses and the model zoo."""
