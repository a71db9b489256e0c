"""benchmarks/checkpoint_pck.py --fit scores images the default model trained on beside the held-out ones:
LSP train and LSPET 6,001-7,000, never a held-out image (LSP test, LSPET 7,001-8,000), labels as read."""
from __future__ import annotations

import numpy as np

from conftest import load_benchmark


def test_training_sets_are_trained_images_only(lsp_root, lspet_root):
    bench = load_benchmark("checkpoint_pck")
    trained = bench.training_sets(0)
    held_out = bench.peers_lsp.test_sets(0)
    lsp_paths, lsp_gt = trained["LSP train"]
    lspet_paths, lspet_gt = trained["LSPET 6001-7000 (trained)"]
    assert len(lsp_paths) == 1000 and lsp_gt.shape == (1000, 12, 3)
    assert len(lspet_paths) == 1000 and lspet_gt.shape == (1000, 12, 3)
    numbers = sorted(int(p.rsplit("im", 1)[1].split(".")[0]) for p in lsp_paths)
    assert numbers == list(range(1, 1001))
    numbers = sorted(int(p.rsplit("im", 1)[1].split(".")[0]) for p in lspet_paths)
    assert numbers == list(range(6001, 7001))
    assert not set(lsp_paths + lspet_paths) & {p for paths, _ in held_out.values() for p in paths}
    # the same joints in the same order as the held-out sets (the scorer's 12 limb joints)
    lspet = bench.read_lspet(lspet_root)
    first = lspet.records[6000].persons[0].keypoints
    index = [lspet.keypoint_set.names.index(n) for n in bench.peers_lsp.LIMBS]
    np.testing.assert_array_equal(lspet_gt[0], first[index])
    limited = bench.training_sets(5)
    assert [len(paths) for paths, _ in limited.values()] == [5, 5]
