"""benchmarks/shipped_setting_pck.py: a checkpoint is scored with the shipped file's setting and its own
weights (the shipped file given as the checkpoint scores what the shipped file scores); a network of
another shape, or a file that is no checkpoint or model file, is a one-line error naming it."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import DATA, load_benchmark, require

from posekit.inference.model_file import DEFAULT_MODEL as SHIPPED


def test_the_shipped_file_as_a_checkpoint_keeps_its_weights_and_score(capsys):
    require(DATA / "lspet")
    probe = load_benchmark("shipped_setting_pck")
    from posekit.inference.model_file import read_model_file
    shipped = read_model_file(SHIPPED)
    same = probe.with_weights(shipped, SHIPPED)
    assert all(torch.equal(same["weights"][k], v) for k, v in shipped["weights"].items())
    assert probe.main([str(SHIPPED), "--limit", "3", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["setting"]["refine_looks"] == shipped["refine_looks"]
    peers = load_benchmark("peers_lsp")
    paths, gt = peers.test_sets(3)["LSPET 7001-8000"]
    pred, _ = peers.run_posekit(paths)  # posekit.load(): the shipped file itself
    assert report["pck_limbs"][str(SHIPPED)]["LSPET 7001-8000"] == round(peers.score(pred, gt)["total"], 4)


def test_another_network_or_a_non_checkpoint_is_named(tiny_model, tmp_path):
    probe = load_benchmark("shipped_setting_pck")
    from posekit.inference.model_file import read_model_file
    shipped = read_model_file(SHIPPED)
    with pytest.raises(SystemExit, match="tiny.pt: its network is not the shipped model's"):
        probe.with_weights(shipped, tiny_model)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(SystemExit, match="junk.pt"):
        probe.with_weights(shipped, junk)
    with pytest.raises(SystemExit, match="junk.pt"):  # the file whose setting is used, too
        probe.main([str(SHIPPED), "--model", str(junk)])
