"""The default model's data splits (tools/default_model_data.py): what each stage trains on, and that
the held-out parts never leak into training."""
from __future__ import annotations

import json
import sys

from conftest import DATA, REPO, require

sys.path.insert(0, str(REPO / "tools"))
from default_model_data import prepare  # noqa: E402


def test_splits_keep_the_held_out_parts_out_and_frame_lspet_as_users_do(tmp_path):
    require(DATA / "lspet")
    paths = prepare(require(DATA / "lsp").parent.resolve(), tmp_path)
    splits = {name: json.loads(path.read_text()) for name, path in paths.items()}
    images = {name: {im["id"]: im for im in s["images"]} for name, s in splits.items()}

    def files(name: str) -> set[str]:
        return {im["file_name"] for im in splits[name]["images"]}

    held_out = files("val") | files("test")
    for name in ("train", "train_lsp", "train_framed"):
        assert not files(name) & held_out, name
    assert len(files("test")) == 1000 and len(files("val")) == 1000
    assert max(int(f[-9:-4]) for f in files("val")) == 8000 and min(int(f[-9:-4]) for f in files("val")) == 7001

    framed = splits["train_framed"]["annotations"]
    assert len(framed) == len(splits["train"]["annotations"]) + 7000
    assert len({a["id"] for a in framed}) == len(framed) and len(images["train_framed"]) == len(framed)
    whole = [a for a in framed if a["bbox"][:2] == [0.0, 0.0]
             and a["bbox"][2:] == [images["train_framed"][a["image_id"]]["width"],
                                   images["train_framed"][a["image_id"]]["height"]]]
    # The 7,000 LSPET photos framed as a whole, each also present with its joints' box.
    assert len(whole) == 7000 and all(images["train_framed"][a["image_id"]]["file_name"].startswith("lspet/")
                                      for a in whole)
    whole_ids = {a["id"] for a in whole}
    joint_boxed = {images["train_framed"][a["image_id"]]["file_name"] for a in framed if a["id"] not in whole_ids}
    assert {images["train_framed"][a["image_id"]]["file_name"] for a in whole} <= joint_boxed
