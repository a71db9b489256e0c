"""Malformed inputs through posekit's entry points (cases in tests/fuzz_cases.py): each ends in a
one-line error that names the file (and the field), or in a documented acceptance with sound numbers;
never a traceback, code from a file, or a silent change of the numbers. docs/reliability.md has the
counts; `python tests/fuzz_cases.py -v` prints them with every failure."""
from __future__ import annotations

import pytest

from fuzz_cases import GROUPS, run_group


@pytest.mark.parametrize("group", list(GROUPS))
def test_every_case_ends_in_a_clear_error_or_a_documented_acceptance(group, tmp_path):
    outcomes = run_group(group, tmp_path)
    assert len(outcomes) >= 10
    failed = [f"{name}: {outcome.detail}" for name, outcome in outcomes if not outcome.ok]
    assert not failed, f"{len(failed)} of {len(outcomes)} {group} cases failed:\n" + "\n".join(failed)
