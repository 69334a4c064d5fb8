"""`pip install .` builds a package that imports and runs from any folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_installed_package_imports_and_runs_from_another_folder(tmp_path):
    target, elsewhere, source = tmp_path / "site", tmp_path / "elsewhere", tmp_path / "source"
    elsewhere.mkdir()
    # Built from a copy, so that the build leaves nothing behind in the checkout.
    shutil.copytree(ROOT / "impactiq", source / "impactiq", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(source),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    assert {p.name for p in (target / "impactiq").iterdir() if p.is_dir()} >= {
        "data",
        "uplift",
        "evaluation",
        "decisions",
        "present",
    }
    code = (
        "import impactiq, impactiq.present.segment_tables;"
        "print(impactiq.__file__);"
        "print(sorted(impactiq.__all__))"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=elsewhere, env=env
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(str(target))
    assert "train_model" in shown.stdout and "load_demo" in shown.stdout
    helped = subprocess.run(
        [sys.executable, "-m", "impactiq", "--help"], capture_output=True, text=True, cwd=elsewhere, env=env
    )
    assert helped.returncode == 0 and "segments" in helped.stdout


def test_the_public_api_is_importable_from_the_top():
    import impactiq

    for name in impactiq.__all__:
        assert getattr(impactiq, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        impactiq.nothing  # noqa: B018


def test_saving_a_bare_model_says_how_to_train_one(tmp_path):
    from impactiq import ImpactIQError, UpliftModel, save_model

    with pytest.raises(ImpactIQError, match="train_model"):
        save_model(UpliftModel(), "bare", models_dir=tmp_path)
    assert not any(tmp_path.iterdir())
