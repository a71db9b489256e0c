"""DDP under torchrun on CPU (gloo, 2 processes): both ranks end with identical weights, equal
within float tolerance to one process training on the same global batch; only rank 0 writes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from _toy_training import ToyEstimator
from _toy_training import main as toy_main

TESTS = Path(__file__).resolve().parent


@pytest.mark.slow  # starts two torch processes
def test_two_process_ddp_matches_single_process(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(TESTS / "_toy_training.py"), str(tmp_path / "ddp"), "--plain", "--batch", "4"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rank0 = torch.load(tmp_path / "ddp" / "final_rank0.pt")
    rank1 = torch.load(tmp_path / "ddp" / "final_rank1.pt")
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert toy_main([str(tmp_path / "single"), "--plain", "--batch", "8"]) == 0
    finally:
        torch.set_num_threads(before)
        torch.use_deterministic_algorithms(False)
    single = torch.load(tmp_path / "single" / "final_rank0.pt")
    for key in single:
        torch.testing.assert_close(rank0[key], single[key], rtol=1e-5, atol=1e-6)
    torch.manual_seed(0)
    initial = ToyEstimator(plain=True).state_dict()
    assert not torch.equal(single["estimator.model.0.weight"], initial["model.0.weight"])  # it did train

    rows = [json.loads(line) for line in (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()]
    # 24 samples, 12 per rank in batches of 4: 3 iterations per epoch, 9 in all, logged every 2
    assert [r["iteration"] for r in rows if r["type"] == "train"] == [2, 4, 6, 8]
    assert [r["epoch"] for r in rows if r["type"] == "epoch"] == [0, 1, 2]
