"""`posekit --version` prints the package version and exits 0."""
from __future__ import annotations

import pytest

import posekit
from posekit.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"posekit {posekit.__version__}"
