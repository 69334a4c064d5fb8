"""Conversions from revenue events, as CRMs and billing systems hold them.

A CRM or billing export rarely holds "conversions": it holds money, one row per event (a first
payment, a renewal, an upgrade, a refund) with the customer, a date, an amount and a category.
Attribution asks which touchpoints won a customer, so the conversion is the customer's first
event of one kind (the first payment, say), and the revenue it carries is what that customer
brought: all their amounts (refunds included), or only those of that kind. `conversions_from_revenue`
turns the events into a conversion table in the layout `events.prepare_events` reads by default,
one row per customer; `revenue_kinds` lists the categories to choose the kind from.

Customers are grouped by one key: the customer id column, or the single identifier column given.
Two identifier columns without a customer id (a phone and an e-mail) could belong to one
customer or two, and only the identity graph of `journeys.identity` can tell; rather than guess,
the table is refused.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.journeys.checks import MAX_SHOWN, amounts_of, quoted, require_columns
from impactiq.journeys.events import IDENTIFIERS, parse_times
from impactiq.journeys.identity import normalize_emails, normalize_phones
from impactiq.journeys.paths import REVENUE, STAGE, TIMESTAMP

# What the revenue credited to a conversion counts: all the customer's amounts, or the kind's.
CREDITS = ("customer", "kind")


def revenue_kinds(
    events: pd.DataFrame, category: str = "category", *, name: str = "revenue events"
) -> tuple[str, ...]:
    """The distinct revenue categories of `events`, sorted, to choose a conversion kind from.

    Categories are compared as text with surrounding spaces dropped, as `conversions_from_revenue`
    compares them, so that the list offers exactly the kinds it accepts; blank ones are left out."""
    require_columns(events, name, [category])
    return tuple(sorted(_categories(events[category]).dropna().unique()))


def conversions_from_revenue(
    events: pd.DataFrame,
    *,
    kind: str,
    identifiers: Mapping[str, str] | None = None,
    timestamp: str = "date",
    amount: str = "amount",
    category: str = "category",
    credit: str = "customer",
    region: str = "US",
    name: str = "revenue events",
) -> pd.DataFrame:
    """One conversion per customer: their first event of category `kind`, with their revenue.

    `identifiers` maps kinds of identifier (customer_id, phone, email) to columns of `events`;
    by default, those of the three that are columns of `events` under their own names. The
    customers are grouped by the customer id column if given, else by the one identifier given
    (phones and e-mails compared after normalisation, see `journeys.identity`; `region` is the
    country of phones written without a country code).

    The conversion is the customer's earliest event of category `kind`; events at the same time
    keep the table's order, so the first row wins. Its revenue is, for `credit="customer"`, the
    sum of all the customer's amounts, of every category and at any time: attribution credits
    the touchpoints that won the customer, and what they won is the customer's whole value.
    For `credit="kind"`, only the amounts of category `kind`. Customers without an event of the
    kind have no conversion. A blank amount counts as 0 (an event that moved no money).

    Returns the identifier columns under their own names, with the values of the converting
    event as written (`prepare_events` links and normalises them; where that event leaves a
    phone or e-mail blank, the customer's first one on another row), then `timestamp` (parsed),
    `stage` (f"first {kind}") and `revenue`, in the order of the converting events in `events`.
    `name` names the table in messages (the uploaded file's name).

    Raises ImpactIQError for a missing column, several identifiers without a customer id, a
    customer key that is blank or invalid, an amount that is not a number, a time that does not
    parse, an unknown `credit`, or a `kind` that is not one of the categories.
    """
    if credit not in CREDITS:
        raise ImpactIQError(
            f"credit='{credit}' is not a way to credit revenue; use 'customer' (all the customer's amounts) "
            "or 'kind' (only the amounts of the conversion's kind)."
        )
    identifiers = dict(
        identifiers if identifiers is not None else {k: k for k in IDENTIFIERS if k in events.columns}
    )
    key_kind = _key_kind(identifiers, name)
    require_columns(events, name, [*identifiers.values(), timestamp, amount, category])
    clashing = [column for column in identifiers.values() if column in (TIMESTAMP, STAGE, REVENUE)]
    if clashing:
        raise ImpactIQError(
            f"The identifier column '{clashing[0]}' of '{name}' has the name of a column the conversion table "
            "makes (timestamp, stage, revenue). Rename that column first."
        )
    table = events.reset_index(drop=True)
    categories = _categories(table[category])
    kinds = tuple(sorted(categories.dropna().unique()))
    if kind not in kinds:
        raise ImpactIQError(
            f"There is no revenue category '{kind}' in column '{category}' of '{name}'; the categories are "
            f"{', '.join(kinds) if kinds else '(none)'}. Choose one of them as the conversion's kind."
        )
    times = parse_times(table[timestamp], name, timestamp)
    amounts = amounts_of(table, amount, name)
    customers = _customer_keys(table[identifiers[key_kind]], key_kind, region, name, identifiers[key_kind])

    of_kind = (categories == kind).fillna(False).to_numpy(dtype=bool)
    counted = amounts if credit == "customer" else np.where(of_kind, amounts, 0.0)
    revenue = pd.Series(counted, index=table.index).groupby(customers, sort=False).sum()
    firsts = (
        pd.DataFrame({"customer": customers, "time": times})[of_kind]
        .sort_values("time", kind="stable")
        .drop_duplicates("customer", keep="first")
        .sort_index()
    )
    rows = firsts.index.to_numpy()
    conversions = table.loc[rows, list(dict.fromkeys(identifiers.values()))].reset_index(drop=True)
    for column in conversions.columns.drop(identifiers[key_kind]):
        # A phone or e-mail written on another of the customer's rows still links the conversion.
        known = table[column].groupby(customers, sort=False).first().loc[firsts["customer"]]
        conversions[column] = conversions[column].where(conversions[column].notna(), known.to_numpy())
    conversions[TIMESTAMP] = times.iloc[rows].to_numpy() if times.dt.tz is None else times.iloc[rows].array
    conversions[STAGE] = f"first {kind}"
    conversions[REVENUE] = revenue.loc[firsts["customer"]].to_numpy(dtype=np.float64)
    return conversions


def _key_kind(identifiers: dict[str, str], where: str) -> str:
    """The kind of identifier that groups events into customers."""
    unknown = [kind for kind in identifiers if kind not in IDENTIFIERS]
    if unknown:
        raise ImpactIQError(
            f"'{unknown[0]}' given for '{where}' is not a kind of identifier; use {', '.join(IDENTIFIERS)}."
        )
    if "customer_id" in identifiers:
        return "customer_id"
    if len(identifiers) == 1:
        return next(iter(identifiers))
    if not identifiers:
        raise ImpactIQError(
            f"'{where}' needs an identifier column to tell its customers apart (customer id, phone or e-mail); "
            "none was given or found. Name the column that holds it."
        )
    raise ImpactIQError(
        f"'{where}' identifies customers by {' and '.join(identifiers)} ({', '.join(identifiers.values())}) but "
        "has no customer id, so it is unclear whether two of them belong to one customer. Name the customer id "
        "column, keep only one identifier, or link them into a customer id first (a CRM table and "
        "journeys.identity.link_people)."
    )


def _customer_keys(values: pd.Series, kind: str, region: str, where: str, column: str) -> np.ndarray:
    """The customer key of every row: customer ids as text, phones and e-mails normalised."""
    if kind == "phone":
        keys = normalize_phones(values, region).astype("string")
    elif kind == "email":
        keys = normalize_emails(values).astype("string")
    else:
        keys = values.astype("string").str.strip().replace("", pd.NA)
    bad = keys.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)[:MAX_SHOWN]
        shown = ", ".join(f"row {r + 1} ({quoted(values.iloc[r])})" for r in rows)
        raise ImpactIQError(
            f"{bad.sum():,} row(s) of '{where}' have a blank or invalid {kind} in column '{column}', so their "
            f"customer is unknown: {shown}. Fill them in or remove those rows."
        )
    return keys.to_numpy(dtype=object)


def _categories(values: pd.Series) -> pd.Series:
    """Categories as text without surrounding spaces; blank is missing."""
    return values.astype("string").str.strip().replace("", pd.NA)
