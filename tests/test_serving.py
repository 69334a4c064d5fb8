"""`make run` serves on this machine only; the README says how to serve on a network, and the risk."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run_command(*variables: str) -> str:
    """The streamlit command `make run` would start (printed by `make -n`, nothing runs)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", *variables],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    return next(line for line in printed.splitlines() if "streamlit run" in line)


def test_make_run_listens_on_localhost_only():
    assert "--server.address localhost" in _run_command()


def test_make_run_takes_an_address_for_a_network():
    assert "--server.address 0.0.0.0" in _run_command("ADDRESS=0.0.0.0")


def test_the_readme_says_how_to_serve_on_a_network_and_that_there_is_no_login():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run ADDRESS=0.0.0.0" in readme and "--server.address" in readme
    assert "no login" in readme and "network you trust" in readme
