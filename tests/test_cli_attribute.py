"""`python -m impactiq attribute`: touchpoint and conversion files in, each model's credit out."""

from __future__ import annotations

import json

import pytest

from impactiq import cli
from impactiq.journeys.attribution import MODELS
from tests.journeys.reference_paths import CASES, as_logs


@pytest.fixture
def files(tmp_path):
    touches, conversions = as_logs(CASES["three channels"], revenue=4.0)
    touches = touches.rename(columns={"person": "client", "channel": "source"})
    conversions = conversions.rename(columns={"person": "client"}).assign(stage="paid")
    touches.to_csv(tmp_path / "touches.csv", index=False)
    conversions.to_csv(tmp_path / "orders.csv.gz", index=False)
    return tmp_path / "touches.csv", tmp_path / "orders.csv.gz"


def _run(files, *extra):
    touches, orders = files
    return cli.main(
        [
            "attribute",
            "--touchpoints",
            str(touches),
            "--conversions",
            str(orders),
            "--touch-columns",
            "channel=source",
            "customer_id=client",
            "--conversion-columns",
            "customer_id=client",
            *extra,
        ]
    )


def test_json_gives_every_models_credit_per_channel(files, capsys):
    assert _run(files, "--json") == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["models"]) == list(MODELS)
    assert result["attributed"] == 23 and result["unattributed"] == 0
    for credit in result["models"].values():
        assert set(credit) == {"display", "email", "social"}
        assert sum(c["conversions"] for c in credit.values()) == pytest.approx(23)
        assert sum(c["revenue"] for c in credit.values()) == pytest.approx(92)
    assert result["models"]["first"]["display"]["conversions"] == pytest.approx(4)


def test_one_model_as_a_table(files, capsys):
    assert _run(files, "--model", "linear", "--stage", "paid", "--lookback", "7", "--by-day") == 0
    out = capsys.readouterr().out
    assert "23 of 23 conversions" in out and "linear" in out and "markov" not in out


def test_the_models_the_help_lists_are_the_packages():
    assert cli.ATTRIBUTION_MODELS == MODELS


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--touch-columns", "colour=source"], "ROLE=COLUMN with ROLE one of"),
        (
            ["--touch-columns", "channel=source", "customer_id=client", "--stage", "attended"],
            "no conversion stage",
        ),
        (["--touch-columns", "channel=nowhere"], "'touches.csv' has no column 'nowhere'"),
    ],
)
def test_user_errors_exit_with_status_2(files, capsys, extra, message):
    touches, orders = files
    status = cli.main(
        [
            "attribute",
            "--touchpoints",
            str(touches),
            "--conversions",
            str(orders),
            "--conversion-columns",
            "customer_id=client",
            *extra,
        ]
    )
    assert status == 2 and message in capsys.readouterr().err
