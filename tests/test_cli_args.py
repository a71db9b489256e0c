"""Command-line parsing: KEY=VALUE overrides after options, --version."""
from __future__ import annotations

import pytest

import posekit
from posekit.cli import main


def test_overrides_after_an_option_are_overrides(monkeypatch):
    seen = {}
    import posekit.commands.train as train
    monkeypatch.setattr(train, "run", lambda args: seen.update(vars(args)) or 0)
    parser_args = ["train", "configs/demo_lsp.yaml", "train.epochs=2", "--no-resume", "data.batch_size=4",
                   "--device", "cpu", "train.lr=0.1"]
    assert main(parser_args) == 0  # the parser is built inside main, after the patch
    assert seen["overrides"] == ["train.epochs=2", "data.batch_size=4", "train.lr=0.1"]
    assert seen["no_resume"] and seen["device"] == "cpu"


def test_unknown_words_are_still_errors(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "configs/demo_lsp.yaml", "--no-such-option"])
    assert exit_info.value.code == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["models", "a.b=1"])  # a verb without overrides takes no KEY=VALUE


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"posekit {posekit.__version__}"


@pytest.mark.parametrize("verb", [["train", "configs/demo_lsp.yaml"], ["eval", "configs/demo_lsp.yaml", "--checkpoint", "x.pt"]])
def test_cuda_on_a_cpu_build_is_a_one_line_error(verb, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is visible")
    assert main([*verb, "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--device cuda" in err
