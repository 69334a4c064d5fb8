import numpy as np
import pandas as pd
import phonenumbers
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.identity import (
    MAX_EXAMPLES,
    AmbiguousIdentifier,
    link_people,
    normalize_emails,
    normalize_phones,
)

# libphonenumber's example US number, and a London number from Ofcom's range for drama.
JANE_PHONE = "+12015550123"
LONDON = "+442079460958"


def person_ids(links, table: str) -> list:
    """A table's person ids as a list, None where missing."""
    return [None if pd.isna(i) else int(i) for i in links.person_ids[table]]


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(201) 555-0123", "US", JANE_PHONE),
        ("201.555.0123", "US", JANE_PHONE),
        ("+1 201 555 0123", "US", JANE_PHONE),
        ("1-201-555-0123", "US", JANE_PHONE),
        ("  201 555 0123  ", "US", JANE_PHONE),
        ("201 555 0123 ext. 12", "US", JANE_PHONE),
        # Digit-only numbers that a reader turned into numbers, or into floats beside a gap.
        (2015550123, "US", JANE_PHONE),
        (2015550123.0, "US", JANE_PHONE),
        ("+44 20 7946 0958", "US", LONDON),
        ("020 7946 0958", "GB", LONDON),
        ("020 7946 0958", "gb", LONDON),
        # A number with its country code keeps it whatever the region.
        ("+1 201 555 0123", "GB", JANE_PHONE),
        # Under the US region the leading 0 is not a trunk prefix: not a valid number.
        ("020 7946 0958", "US", None),
        ("call me", "US", None),
        # A letter O for a zero is not read as some other person's number.
        ("201-555-O123", "US", None),
        ("555 0123", "US", None),
        ("123-456-7890", "US", None),
        ("", "US", None),
        ("   ", "US", None),
        (None, "US", None),
        (np.nan, "US", None),
    ],
)
def test_phones_become_e164_or_missing(raw, region, expected):
    normalized = normalize_phones(pd.Series([raw], dtype=object), region=region)
    assert (None if pd.isna(normalized.iloc[0]) else normalized.iloc[0]) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),
        ("  jane.doe@example.com ", "jane.doe@example.com"),
        ("jane+ads@example.com", "jane+ads@example.com"),
        ("jane@bücher.de", "jane@bücher.de"),
        # The same unicode domain in its ASCII (punycode) form is the same address.
        ("JANE@xn--bcher-kva.de", "jane@bücher.de"),
        ("jane.example.com", None),
        ("jane@@example.com", None),
        ("jane@doe@example.com", None),
        ("jane doe@example.com", None),
        ("Jane Doe <jane@example.com>", None),
        ("jane@localhost", None),
        ("", None),
        (None, None),
    ],
)
def test_emails_are_normalised_and_lower_cased_or_missing(raw, expected):
    normalized = normalize_emails(pd.Series([raw], dtype=object))
    assert (None if pd.isna(normalized.iloc[0]) else normalized.iloc[0]) == expected


@pytest.mark.parametrize("dtype", [object, "str", "category"])
def test_normalising_keeps_index_and_name_and_parses_each_value_once(dtype, monkeypatch):
    calls = []
    parse = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse", lambda text, region: calls.append(text) or parse(text, region))
    raw = pd.Series(["201.555.0123", None, "201.555.0123", "bad", "bad"] * 1000, name="caller", dtype=dtype)
    raw.index = raw.index + 100

    normalized = normalize_phones(raw)

    assert sorted(calls) == ["201.555.0123", "bad"]
    assert normalized.name == "caller" and normalized.index.equals(raw.index)
    assert normalized.iloc[:5].tolist()[0] == JANE_PHONE
    assert normalized.iloc[:5].isna().tolist() == [False, True, False, True, True]


# A call logs a phone, a form an e-mail; the bridge is whatever record holds both.
CALLS_AND_FORMS = pd.DataFrame(
    {
        "channel": ["call", "form", "call"],
        "phone": ["(201) 555-0123", None, "212 555 0100"],
        "email": [None, "Jane@Example.com", None],
    }
)
JANE_IN_CRM = pd.DataFrame(
    {"customer_id": ["C1"], "phone": ["+1 201 555 0123"], "email": ["jane@example.com"]}
)


@pytest.mark.parametrize("bridge", ["crm", "touchpoint"])
def test_a_phone_and_an_email_are_one_person_through_a_record_holding_both(bridge):
    touchpoints, customers = CALLS_AND_FORMS, None
    if bridge == "crm":
        customers = JANE_IN_CRM
    else:
        bridging = pd.DataFrame(
            {"channel": ["web"], "phone": ["201-555-0123"], "email": ["JANE@example.com"]}
        )
        touchpoints = pd.concat([CALLS_AND_FORMS, bridging], ignore_index=True)

    links = link_people(
        {"touchpoints": touchpoints},
        {"touchpoints": {"phone": "phone", "email": "email"}},
        customers=customers,
    )

    ids = person_ids(links, "touchpoints")
    assert ids[0] == ids[1] != ids[2]
    assert links.report.people == 2


def test_without_a_bridge_a_phone_and_an_email_stay_two_people():
    links = link_people(
        {"touchpoints": CALLS_AND_FORMS}, {"touchpoints": {"phone": "phone", "email": "email"}}
    )
    assert person_ids(links, "touchpoints") == [0, 1, 2]


def test_conversions_meet_touchpoints_in_one_graph_and_the_match_rate_is_reported():
    # Conversions carry only a customer id; the CRM (long: one row per identifier) ties C1 to
    # Jane's phone and e-mail.
    conversions = pd.DataFrame({"customer": ["C1", "C2", "C1"]}, index=[7, 8, 9])
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2"],
            "phone": ["201 555 0123", None, "650 253 0000"],
            "email": [None, "jane@example.com", None],
        }
    )

    links = link_people(
        {"touchpoints": CALLS_AND_FORMS, "conversions": conversions},
        {"touchpoints": {"phone": "phone", "email": "email"}, "conversions": {"customer_id": "customer"}},
        customers=customers,
    )

    # Dense ids in order of first appearance over the tables as given.
    assert person_ids(links, "touchpoints") == [0, 0, 1]
    assert person_ids(links, "conversions") == [0, 2, 0]
    assert links.person_ids["conversions"].index.tolist() == [7, 8, 9]
    assert links.person_ids["conversions"].dtype == "Int64"
    conversions_report = links.report.tables["conversions"]
    assert (conversions_report.rows, conversions_report.matched) == (3, 2)
    assert conversions_report.match_rate == pytest.approx(2 / 3)
    assert links.report.tables["touchpoints"].matched == 2
    # Every CRM row belongs to a person seen in the tables.
    assert (links.report.customers.rows, links.report.customers.matched) == (3, 3)
    assert links.report.people == 3


@pytest.mark.parametrize("crm_id", ["123", 123, 123.0])
def test_customer_ids_from_number_and_text_columns_are_one_customer(crm_id):
    orders = pd.DataFrame({"customer": ["123", None]})
    customers = pd.DataFrame({"customer_id": [crm_id, np.nan], "phone": [JANE_PHONE, "212 555 0100"]})
    calls = pd.DataFrame({"phone": ["201 555 0123"]})

    links = link_people(
        {"calls": calls, "orders": orders},
        {"calls": {"phone": "phone"}, "orders": {"customer_id": "customer"}},
        customers=customers,
        customer_columns={"customer_id": "customer_id", "phone": "phone"},
    )

    assert person_ids(links, "orders") == [0, None]


def test_a_phone_shared_by_two_crm_customers_is_reported_as_ambiguous():
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2", "C3"],
            "phone": ["(201) 555-0123", None, "201.555.0123", "212 555 0100"],
            "email": [None, "ann@example.com", "bob@example.com", None],
        }
    )
    calls = pd.DataFrame({"phone": ["+1 201 555 0123", "212 555 0100"]})

    links = link_people({"calls": calls}, {"calls": {"phone": "phone"}}, customers=customers)

    report = links.report
    assert report.ambiguous_identifiers == 1
    assert report.ambiguous_examples == (AmbiguousIdentifier("phone", JANE_PHONE, ("C1", "C2")),)
    assert report.merged_customers == 1
    assert person_ids(links, "calls") == [0, 1]


def test_customers_merged_through_a_chain_are_counted_without_a_shared_identifier():
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "phone": [JANE_PHONE, None], "email": [None, "jane@example.com"]}
    )
    forms = pd.DataFrame({"phone": [JANE_PHONE], "email": ["jane@example.com"]})

    links = link_people(
        {"forms": forms}, {"forms": {"phone": "phone", "email": "email"}}, customers=customers
    )

    assert links.report.ambiguous_identifiers == 0
    assert links.report.merged_customers == 1


def test_rows_without_a_usable_identifier_get_no_person_and_are_reported():
    touchpoints = pd.DataFrame(
        {
            "phone": ["201 555 0123", None, "12345", "", "call me", "212 555 0100"],
            "email": ["jane@example.com", None, "jane.example.com", "  ", None, "not an email"],
        },
        index=list("abcdef"),
    )

    links = link_people({"touchpoints": touchpoints}, {"touchpoints": {"phone": "phone", "email": "email"}})

    assert person_ids(links, "touchpoints") == [0, None, None, None, None, 1]
    report = links.report.tables["touchpoints"]
    assert (report.rows, report.unidentified, report.unidentified_rows) == (6, 4, (1, 2, 3, 4))
    # Missing and blank values are not invalid, only written values that do not validate.
    assert report.invalid_phones == 2
    assert report.invalid_phone_examples == ((2, "12345"), (4, "call me"))
    assert report.invalid_emails == 2
    assert report.invalid_email_examples == ((2, "jane.example.com"), (5, "not an email"))
    # A single table has no other table to match against.
    assert (report.matched, report.match_rate) == (0, 0.0)
    assert links.report.customers is None


def test_examples_are_capped():
    calls = pd.DataFrame({"phone": [f"bad {i}" for i in range(MAX_EXAMPLES + 3)]})
    report = link_people({"calls": calls}, {"calls": {"phone": "phone"}}).report.tables["calls"]
    assert report.invalid_phones == report.unidentified == MAX_EXAMPLES + 3
    assert len(report.invalid_phone_examples) == len(report.unidentified_rows) == MAX_EXAMPLES


def test_many_rows_with_few_distinct_identifiers_link():
    """A smoke check of the path for large logs (each distinct value parsed once), not a timing."""
    rng = np.random.default_rng(0)
    phones = np.array([f"(201) 555-{i:04d}" for i in range(2_000)], dtype=object)
    emails = np.array([f"Person{i}@Example.com" for i in range(2_000)], dtype=object)
    who = rng.integers(0, 2_000, 200_000)
    # Half of the rows show only the phone, half only the e-mail; customers tie the two.
    shows_phone = rng.random(200_000) < 0.5
    touchpoints = pd.DataFrame(
        {"phone": np.where(shows_phone, phones[who], None), "email": np.where(shows_phone, None, emails[who])}
    )
    customers = pd.DataFrame({"customer_id": np.arange(2_000), "phone": phones, "email": emails})
    conversions = pd.DataFrame({"customer_id": rng.integers(0, 4_000, 20_000)})

    links = link_people(
        {"touchpoints": touchpoints, "conversions": conversions},
        {"touchpoints": {"phone": "phone", "email": "email"}, "conversions": {"customer_id": "customer_id"}},
        customers=customers,
    )

    touchpoint_ids = links.person_ids["touchpoints"]
    assert touchpoint_ids.notna().all() and touchpoint_ids.nunique() == 2_000
    # Conversions by customers 2000-3999 have no CRM record and no touchpoint.
    matched = conversions["customer_id"] < 2_000
    assert links.report.tables["conversions"].matched == matched.sum()
    assert links.report.people == 2_000 + conversions.loc[~matched, "customer_id"].nunique()


@pytest.mark.parametrize(
    ("id_columns", "customers", "customer_columns", "match"),
    [
        (
            {"calls": {"phone": "caller"}},
            None,
            None,
            r"Table 'calls' has no column 'caller' \(given as its phone\)",
        ),
        ({"calls": {}}, None, None, "No identifier column given for table 'calls'"),
        ({"orders": {"phone": "phone"}}, None, None, "No identifier column given for table 'calls'"),
        (
            {"calls": {"fax": "phone"}},
            None,
            None,
            "'fax' given for table 'calls' is not a kind of identifier",
        ),
        (
            {"calls": {"phone": "phone"}},
            pd.DataFrame({"customer_id": ["C1"], "phone": [JANE_PHONE]}),
            None,
            "The customers table has no column 'email'",
        ),
        (
            {"calls": {"phone": "phone"}},
            pd.DataFrame({"phone": [JANE_PHONE]}),
            {"phone": "phone"},
            "customer_columns has no 'customer_id'",
        ),
    ],
)
def test_misnamed_columns_raise_naming_table_and_column(id_columns, customers, customer_columns, match):
    calls = pd.DataFrame({"phone": [JANE_PHONE]})
    options = {} if customer_columns is None else {"customer_columns": customer_columns}
    with pytest.raises(ImpactIQError, match=match):
        link_people({"calls": calls}, id_columns, customers=customers, **options)


def test_an_unknown_phone_region_raises():
    with pytest.raises(ImpactIQError, match="Phone region 'XX' is unknown"):
        normalize_phones(pd.Series([JANE_PHONE]), region="XX")
