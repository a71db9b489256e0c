"""posekit: pure-PyTorch 2D human pose estimation (bottom-up, top-down, distillation, semi-supervised).

    import posekit
    model = posekit.load()          # the shipped default model
    persons = model("photo.jpg")

`import posekit` itself imports nothing heavy: `load` and `draw` bring in torch on first use, and
`posekit.runtime` runs exported models without torch.
"""
__version__ = "0.2.0"

__all__ = ["load", "draw", "__version__"]


def __getattr__(name: str):
    if name in ("load", "draw", "PoseModel"):
        from posekit.inference import api
        return getattr(api, name)
    raise AttributeError(f"module 'posekit' has no attribute '{name}'")
