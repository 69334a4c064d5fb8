"""`python -m impactiq attribute`: touchpoint and conversion files in, each model's credit out."""

from __future__ import annotations

import json

import pandas as pd
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
        # Seen: "'touches.csv' has no column 'None'" for a required role left out.
        (
            ["--touch-columns", "timestamp=-"],
            "every row needs a timestamp, so 'timestamp=-' cannot leave it out",
        ),
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


def test_spend_and_holdouts_add_roi_and_the_measured_lift(tmp_path, capsys):
    from impactiq.journeys.synthetic import make_journeys

    data = make_journeys(3_000, seed=3)
    paths = {}
    for name, table in {
        "touches.csv": data.touchpoints,
        "orders.csv": data.conversions,
        "crm.csv": data.customers,
        "holdouts.csv": data.holdouts,
        "spend.csv": pd.DataFrame({"channel": ["search", "email", "tv"], "spend": [500.0, 200.0, 1000.0]}),
    }.items():
        table.to_csv(tmp_path / name, index=False)
        paths[name] = str(tmp_path / name)
    status = cli.main(
        [
            "attribute",
            "--touchpoints",
            paths["touches.csv"],
            "--conversions",
            paths["orders.csv"],
            "--customers",
            paths["crm.csv"],
            "--holdouts",
            paths["holdouts.csv"],
            "--spend",
            paths["spend.csv"],
            "--model",
            "linear",
            "--json",
        ]
    )
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    linear = result["models"]["linear"]
    assert linear["search"]["roas"] == pytest.approx(linear["search"]["revenue"] / 500.0)
    assert linear["tv"]["conversions"] == 0 and "no conversion's path" in linear["tv"]["note"]
    assert linear["social"]["roi"] is None and "no spend" in linear["social"]["note"]
    assert set(result["incremental"]) == {"call", "display", "email", "search", "social"}
    email = result["incremental"]["email"]
    assert email["incremental_lower"] < email["incremental"] < email["incremental_upper"]


def test_revenue_events_become_conversions(tmp_path, capsys):
    touches, _ = as_logs([("a>b", 3, 1), ("b", 2, 2)])
    touches.rename(columns={"person": "customer_id"}).to_csv(tmp_path / "t.csv", index=False)
    events = pd.DataFrame(
        {
            "customer_id": [0, 0, 1, 4, 4],
            "date": ["2024-01-01 05:00", "2024-01-05", "2024-01-01 05:00", "2024-01-01 05:00", "2024-01-02"],
            "amount": [100, 50, 20, 10, 5],
            "category": ["paid", "paid", "refund", "paid", "paid"],
        }
    )
    events.to_csv(tmp_path / "billing.csv", index=False)
    status = cli.main(
        [
            "attribute",
            "--touchpoints",
            str(tmp_path / "t.csv"),
            "--conversions",
            str(tmp_path / "billing.csv"),
        ]
        + ["--revenue-kind", "paid", "--model", "last", "--json"]
    )
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    # Customers 0 and 4 paid; both last touched b; customer 0's whole revenue (150) is credited.
    assert result["conversions"] == 2
    assert result["models"]["last"]["b"]["revenue"] == pytest.approx(165.0)


def test_the_text_output_shows_spend_and_the_check_as_the_page_does(tmp_path, capsys):
    """Seen: the text output dropped the ROI that --spend computes, and wrote raw rounded numbers
    where the app writes each estimate with its interval."""
    from impactiq.journeys.synthetic import make_journeys

    data = make_journeys(3_000, seed=3)
    names = {
        "touches.csv": data.touchpoints,
        "orders.csv": data.conversions,
        "crm.csv": data.customers,
        "holdouts.csv": data.holdouts,
        "spend.csv": pd.DataFrame({"channel": ["search", "email"], "spend": [500.0, 200.0]}),
    }
    for name, table in names.items():
        table.to_csv(tmp_path / name, index=False)
    flags = ["--touchpoints", "--conversions", "--customers", "--holdouts", "--spend"]
    args = ["attribute", *[v for f, n in zip(flags, names, strict=True) for v in (f, str(tmp_path / n))]]
    assert cli.main([*args, "--model", "linear"]) == 0
    out = capsys.readouterr().out
    assert "Spend and return by linear credit:" in out
    assert "ROAS (revenue / spend)" in out and "cost per credited conversion" in out
    assert "incremental, measured [95% CI]" in out
    # Estimates carry their interval in brackets, as on the page.
    assert out.count("[") > 5
