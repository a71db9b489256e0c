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


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied", "/data/out"),
                                   OSError(28, "No space left on device", "/data/out/x.json")])
def test_os_errors_are_one_line_naming_the_path(error, monkeypatch, capsys):
    """Not only a missing file: a folder without write permission or a full disk is an error line naming
    its path (exit 2), never a traceback."""
    import posekit.commands.models as models

    def fail(args):
        raise error
    monkeypatch.setattr(models, "run", fail)
    assert main(["models"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("posekit models: error: ") and error.filename in err and "\n" not in err


def test_a_closed_pipe_stops_quietly(monkeypatch, capsys):
    """`posekit models | head -1`: the reader leaves, the verb stops with 141 (as Unix tools do), no
    traceback and no error line."""
    import posekit.commands.models as models

    def closed(args):
        raise BrokenPipeError(32, "Broken pipe")
    monkeypatch.setattr(models, "run", closed)
    monkeypatch.setattr("posekit.cli.os.dup2", lambda *a: None)  # leave pytest's own stdout alone
    assert main(["models"]) == 141
    assert capsys.readouterr().err == ""
