"""Conversions from revenue events: each customer's first event of a kind, with their revenue."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import prepare_events
from impactiq.journeys.revenue import conversions_from_revenue, revenue_kinds

# Ann pays twice on 5 January (rows 2 and 4: the first in the table wins), after a trial and
# before a refund; Bob only trials; Cy pays once, with his phone on the trial row alone.
EVENTS = pd.DataFrame(
    {
        "customer_id": ["A", "A", "B", "A", "C", "A", "C"],
        "phone": [None, None, None, None, "(201) 555-0123", None, None],
        "date": [
            "2024-01-01",
            "2024-01-05",
            "2024-01-02",
            "2024-01-05",
            "2024-01-03",
            "2024-01-09",
            "2024-01-04",
        ],
        "amount": [0, 100, 0, 50, 0, -30, 80],
        "category": ["trial", "paid", "trial", " paid", "trial", "refund", "paid"],
    }
)


def test_each_customer_converts_at_their_first_event_of_the_kind():
    conversions = conversions_from_revenue(EVENTS, kind="paid")
    assert list(conversions.columns) == ["customer_id", "phone", "timestamp", "stage", "revenue"]
    assert conversions["customer_id"].tolist() == ["A", "C"]
    assert conversions["timestamp"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-04")]
    assert conversions["stage"].tolist() == ["first paid", "first paid"]
    # Cy's paying row has no phone; the one on his trial row still links him.
    assert conversions["phone"].tolist()[1] == "(201) 555-0123"


@pytest.mark.parametrize(
    ("credit", "revenue"),
    [
        # Ann: 0 + 100 + 50 - 30 over all her events; Cy: 0 + 80.
        ("customer", [120.0, 80.0]),
        # Only the paid events: Ann 100 + 50.
        ("kind", [150.0, 80.0]),
    ],
)
def test_the_revenue_credited_is_the_customers_or_the_kinds(credit, revenue):
    conversions = conversions_from_revenue(EVENTS, kind="paid", credit=credit)
    assert conversions["revenue"].tolist() == revenue


def test_ties_in_time_keep_the_table_order():
    # Both of Ann's payments are on 5 January; the one written first is her conversion.
    swapped = EVENTS.assign(phone=[None, "201 555 0100", None, "212 555 0100", None, None, None])
    conversions = conversions_from_revenue(swapped, kind="paid")
    assert conversions.loc[0, "phone"] == "201 555 0100"


def test_the_conversions_are_in_the_layout_prepare_events_reads():
    touches = pd.DataFrame(
        {"customer_id": ["A", "C"], "timestamp": ["2024-01-01", "2024-01-02"], "channel": ["search", "email"]}
    )
    events = prepare_events(touches, conversions_from_revenue(EVENTS, kind="paid", timestamp="date"))
    assert events.stages == ("first paid",)
    assert events.conversions["revenue"].tolist() == [120.0, 80.0]


def test_a_single_identifier_groups_customers_after_normalisation():
    by_phone = pd.DataFrame(
        {
            "phone": ["(201) 555-0123", "+1 201 555 0123", "212 555 0100"],
            "date": ["2024-01-02", "2024-01-01", "2024-01-03"],
            "amount": [10, 20, 5],
            "category": ["paid", "paid", "paid"],
        }
    )
    conversions = conversions_from_revenue(by_phone, kind="paid")
    assert conversions["phone"].tolist() == ["+1 201 555 0123", "212 555 0100"]
    assert conversions["revenue"].tolist() == [30.0, 5.0]


def test_several_identifiers_without_a_customer_id_are_refused():
    events = EVENTS.drop(columns="customer_id").assign(email="ann@example.com")
    with pytest.raises(ImpactIQError, match=r"by phone and email .* no customer id.*link them"):
        conversions_from_revenue(events, kind="paid")


def test_a_customer_id_decides_among_several_identifiers():
    events = EVENTS.assign(email="same@example.com")
    conversions = conversions_from_revenue(events, kind="paid")
    assert conversions["customer_id"].tolist() == ["A", "C"]
    assert list(conversions.columns[:3]) == ["customer_id", "phone", "email"]


def test_an_unknown_kind_lists_the_categories():
    with pytest.raises(
        ImpactIQError, match=r"no revenue category 'purchase'.*categories are paid, refund, trial"
    ):
        conversions_from_revenue(EVENTS, kind="purchase")


def test_revenue_kinds_are_the_distinct_categories_sorted():
    events = EVENTS.assign(category=["trial", "paid", None, " paid", "", "refund", "paid"])
    assert revenue_kinds(events) == ("paid", "refund", "trial")


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        (
            "amount",
            [0, "100 USD", 0, 50, 0, "n/a", 80],
            r"'amount' of 'billing.csv'.*row 2 \('100 USD'\), row 6",
        ),
        ("date", ["2024-01-01", "yesterday", *EVENTS["date"][2:]], r"column 'date' of 'billing.csv'.*row 2"),
        ("customer_id", ["A", "A", " ", "A", "C", "A", "C"], r"blank or invalid customer_id.*row 3"),
    ],
)
def test_bad_values_are_named_by_row(column, values, message):
    with pytest.raises(ImpactIQError, match=message):
        conversions_from_revenue(EVENTS.assign(**{column: values}), kind="paid", name="billing.csv")


def test_a_missing_column_names_the_table_and_its_columns():
    with pytest.raises(
        ImpactIQError, match=r"'billing.csv' has no column 'when'\. Its columns: customer_id, phone"
    ):
        conversions_from_revenue(EVENTS, kind="paid", timestamp="when", name="billing.csv")


def test_a_blank_amount_counts_as_nothing():
    conversions = conversions_from_revenue(EVENTS.assign(amount=[None, 100, 0, 50, 0, -30, 80]), kind="paid")
    assert conversions["revenue"].tolist() == [120.0, 80.0]


def test_an_unknown_way_to_credit_is_refused():
    with pytest.raises(ImpactIQError, match="'customer'.*or 'kind'"):
        conversions_from_revenue(EVENTS, kind="paid", credit="all")
