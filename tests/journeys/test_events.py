"""Mapping and checking touchpoint and conversion logs, linked to people."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import (
    ConversionColumns,
    TouchpointColumns,
    apply_channel_map,
    parse_times,
    prepare_events,
)

TOUCHPOINTS = pd.DataFrame(
    {
        "timestamp": ["2024-01-01 10:00", "2024-01-02", "2024-01-03T08:00", "2024-01-04"],
        "channel": ["call", "web form", "email", "call"],
        "phone": ["(201) 555-0123", None, None, "212 555 0100"],
        "email": [None, "Ann@Example.com", " ann@example.com", None],
    }
)
# Ann's phone and e-mail meet on the CRM row; the conversion carries only her customer id.
CUSTOMERS = pd.DataFrame(
    {"customer_id": ["C1", "C1"], "phone": ["+1 201 555 0123", None], "email": [None, "ann@example.com"]}
)
CONVERSIONS = pd.DataFrame(
    {
        "customer_id": ["C1", "C9"],
        "timestamp": ["2024-01-05", "2024-01-05"],
        "stage": ["paid", "booked"],
        "revenue": [120, 0],
    }
)


def _events(**changes):
    arguments = {
        "touchpoints": TOUCHPOINTS,
        "conversions": CONVERSIONS,
        "customers": CUSTOMERS,
        "names": ("touches.csv", "orders.csv"),
    } | changes
    return prepare_events(**arguments)


def test_people_are_linked_through_phones_emails_and_the_crm():
    events = _events()
    people = events.touches["person"]
    assert people[0] == people[1] == people[2] != people[3]
    ann = events.conversions.set_index("stage").loc["paid", "person"]
    assert ann == people[0]
    assert events.stages == ("booked", "paid")
    assert events.conversions["revenue"].tolist() == [120.0, 0.0]


def test_a_crm_table_without_a_phone_column_links_through_its_emails():
    """Seen: a customers table with no phone column was refused with advice to name the column
    that holds the phone, which the command line had no flag for and the table did not have."""
    events = _events(customers=CUSTOMERS.drop(columns="phone"))
    people = events.touches["person"]
    # The e-mail rows meet C1 on the CRM row; the phone-only touches stay their own people.
    assert people[1] == people[2] == events.conversions.set_index("stage").loc["paid", "person"]
    assert people[0] != people[1]


def test_default_column_names_are_found_and_others_can_be_mapped():
    renamed = TOUCHPOINTS.rename(columns={"timestamp": "when", "channel": "source"})
    events = _events(
        touchpoints=renamed,
        touch_columns=TouchpointColumns(timestamp="when", channel="source", customer_id=None),
    )
    assert list(events.touches["channel"]) == ["call", "web form", "email", "call"]
    assert ConversionColumns.suggest(CONVERSIONS.columns) == ConversionColumns(
        phone=None, email=None, stage="stage", revenue="revenue"
    )


def test_a_missing_column_names_the_file_and_the_columns_it_has():
    with pytest.raises(
        ImpactIQError, match=r"'touches.csv' has no column 'channel'\. Its columns: timestamp"
    ):
        _events(touchpoints=TOUCHPOINTS.drop(columns="channel"))


def test_a_table_without_an_identifier_is_refused():
    with pytest.raises(ImpactIQError, match="'orders.csv' needs at least one identifier"):
        _events(conversion_columns=ConversionColumns(customer_id=None, phone=None, email=None))


def test_times_that_do_not_parse_are_named_by_row_and_value():
    bad = TOUCHPOINTS.assign(timestamp=["2024-01-01", "yesterday", "2024-01-03", "31/01/2024"])
    with pytest.raises(
        ImpactIQError,
        match=r"2 time\(s\) in column 'timestamp' of 'touches.csv'.*row 2 \('yesterday'\), row 4",
    ):
        _events(touchpoints=bad)


def test_mixed_time_zones_are_refused_within_and_across_tables():
    with pytest.raises(ImpactIQError, match="mix time zones"):
        parse_times(pd.Series(["2024-01-01T10:00+01:00", "2024-01-02T10:00+02:00"]), "t.csv", "timestamp")
    offset = TOUCHPOINTS.assign(timestamp=[f"2024-01-0{d}T10:00+01:00" for d in range(1, 5)])
    with pytest.raises(ImpactIQError, match="'touches.csv' and 'orders.csv' mix time zones"):
        _events(touchpoints=offset)


def test_rows_without_a_usable_identifier_are_left_out_with_a_warning():
    events = _events(touchpoints=TOUCHPOINTS.assign(phone=["(201) 555-0123", None, None, "not a phone"]))
    assert len(events.touches) == 3
    assert any(
        "1 row(s) of 'touches.csv' have no usable identifier" in w and "rows 4" in w for w in events.warnings
    )


def test_a_touch_without_a_channel_is_refused_by_row():
    with pytest.raises(ImpactIQError, match=r"no channel in column 'channel' \(rows 2\)"):
        _events(touchpoints=TOUCHPOINTS.assign(channel=["call", " ", "email", "call"]))


def test_the_channel_map_renames_sources_and_groups_them():
    events = _events(
        channel_map=pd.DataFrame(
            {"source": ["call", "web form"], "channel": ["phone", "web"], "group": ["offline", "online"]}
        )
    )
    assert list(events.touches["channel"]) == ["phone", "web", "email", "phone"]
    assert list(events.touches["group"]) == ["offline", "online", "email", "offline"]
    assert events.grouped and events.channel_groups.to_dict() == {
        "phone": "offline",
        "web": "online",
        "email": "email",
    }
    assert not _events().grouped


def test_a_channel_map_must_name_each_source_once():
    touches = pd.DataFrame({"channel": ["a"], "group": ["a"]})
    with pytest.raises(ImpactIQError, match="'a' more than once"):
        apply_channel_map(touches, pd.DataFrame({"source": ["a", "a"], "channel": ["x", "y"]}))
    with pytest.raises(ImpactIQError, match="'source' and 'channel'"):
        apply_channel_map(touches, pd.DataFrame({"from": ["a"]}))


def test_revenue_that_is_not_a_number_is_named():
    with pytest.raises(ImpactIQError, match=r"'revenue' of 'orders.csv'.*row 2 \('lots'\)"):
        _events(conversions=CONVERSIONS.assign(revenue=[1, "lots"]))


def test_an_unknown_stage_lists_the_stages():
    with pytest.raises(ImpactIQError, match="stages are booked, paid"):
        _events().of_stage("attended")


def test_linked_logs_survive_being_kept_as_tables(tmp_path):
    from impactiq.journeys.events import events_as_tables, events_from_tables
    from impactiq.uplift.workspace import new_workspace

    events = _events(holdouts=pd.DataFrame({"customer_id": ["C1"], "channel": ["email"], "held_out": [True]}))
    space = new_workspace(tmp_path)
    space.save_tables("journeys", *events_as_tables(events))
    back = events_from_tables(*space.load_tables("journeys"))
    pd.testing.assert_frame_equal(back.touches, events.touches, check_dtype=False)
    pd.testing.assert_frame_equal(back.conversions, events.conversions, check_dtype=False)
    pd.testing.assert_frame_equal(back.holdouts, events.holdouts, check_dtype=False)
    assert back.identity == events.identity and back.warnings == events.warnings
