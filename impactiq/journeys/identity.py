"""Who is who across logs: phone numbers and e-mails normalised, records linked to people.

Attribution credits the touchpoints a converting person saw, so a conversion must be matched to
the touchpoints of the same person. Logs rarely share one key: a call centre logs a phone, a web
form an e-mail, an order a customer id, and the CRM holds a customer id with several of each.
`link_people` makes every distinct identifier a node of one graph, joins the identifiers written
on the same row (a form with phone P and e-mail E says P and E are one person; a CRM row says
customer C owns P) and calls each connected component a person. Every table gets its person ids
from that one graph, so a call and an order that share no identifier still meet through a third
record that holds both of theirs.

Identifiers are compared after normalisation, so that "(201) 555-0123" on a call and
"+1 201 555 0123" on a form are one phone: phones become E.164 (`phonenumbers`), e-mails their
normalised, lower-cased form (`email-validator`), customer ids text. A value that does not
validate becomes missing, never a guess: a wrong link merges two people, which misleads
attribution more than a link lost. Each distinct raw value is parsed once, so a log of millions
of rows costs as many parses as it has distinct values.

Linking through any shared identifier has a price: one phone that several people give (a family
line, a switchboard, a typo) merges them all. The report says what was linked, what could not
be, and which identifiers join two or more customer ids, so that such merges are seen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from impactiq.errors import ImpactIQError

# The kinds of identifier that link records.
KINDS = ("customer_id", "phone", "email")
# The CRM table's columns, by kind, when `link_people` is not told otherwise.
CUSTOMER_COLUMNS = {"customer_id": "customer_id", "phone": "phone", "email": "email"}
# How many rows or values a report lists as examples of each problem.
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class TableReport:
    """How one table's rows were linked. Row numbers are 0-based positions in the table.

    `matched` counts rows whose person also appears in another of the linked tables (for the
    customers table: in any of them). `unidentified` rows had no usable identifier (all missing,
    blank or invalid) and have no person id. Invalid values were written but did not validate;
    their examples are (row number, raw value).
    """

    rows: int
    matched: int
    unidentified: int
    unidentified_rows: tuple[int, ...]
    invalid_phones: int
    invalid_phone_examples: tuple[tuple[int, str], ...]
    invalid_emails: int
    invalid_email_examples: tuple[tuple[int, str], ...]

    @property
    def match_rate(self) -> float:
        """The share of rows matched; for conversions linked with touchpoints, the share of
        conversions whose person has at least one touchpoint (NaN for an empty table)."""
        return self.matched / self.rows if self.rows else float("nan")


@dataclass(frozen=True)
class AmbiguousIdentifier:
    """A phone or e-mail carried by two or more customer ids: linking merges those customers."""

    kind: str
    value: str
    customer_ids: tuple[str, ...]


@dataclass(frozen=True)
class IdentityReport:
    """What linking did, table by table, and the merges of customers it made.

    `people` counts the distinct people among the tables' rows. `ambiguous_identifiers` counts
    phones and e-mails that two or more customer ids carry (in the customers table or any other);
    the worst come first in `ambiguous_examples`. `merged_customers` counts people holding two or
    more customer ids, whether through one shared identifier or a chain of records (customer A's
    phone and customer B's e-mail on one form).
    """

    tables: Mapping[str, TableReport]
    customers: TableReport | None
    people: int
    ambiguous_identifiers: int
    ambiguous_examples: tuple[AmbiguousIdentifier, ...]
    merged_customers: int


@dataclass(frozen=True)
class IdentityLinks:
    """A person id for every row of each linked table, all from one graph, and the report."""

    person_ids: Mapping[str, pd.Series]
    report: IdentityReport


@dataclass(frozen=True)
class _Source:
    """One table's identifier columns by kind, as written and normalised."""

    rows: int
    raw: Mapping[str, pd.Series]
    normalized: Mapping[str, pd.Series]


def normalize_phones(values: pd.Series, region: str = "US") -> pd.Series:
    """Each phone number in E.164 ("+12015550123"), missing where it is not a valid number.

    `region` (a two-letter ISO code such as "US" or "GB") is the country of numbers written
    without a country code: "020 7946 0958" is London under "GB"; a number written with "+"
    keeps its own country. Valid means libphonenumber's numbering plan for that country, so a
    typo that leaves too few digits, or a letter O for a zero, gives missing rather than some
    other person's number. Extensions are dropped (E.164 has none); letters of a vanity number
    ("1-800-FLOWERS") are read off the keypad, as libphonenumber does. Digit-only numbers that a
    reader turned into integers, or floats once the column has a gap, are read as their digits.
    """
    region = _check_region(region)
    return _as_text(values, _by_unique(values, lambda value: _e164(_text(value), region)))


def normalize_emails(values: pd.Series) -> pd.Series:
    """Each e-mail address normalised and lower-cased, missing where it is not a valid address.

    email-validator's normalisation (Unicode NFC, the domain in its Unicode form, so
    "xn--bcher-kva.de" and "bücher.de" are one domain) and then lower case for the whole address:
    a mail server may keep "Jane@" and "jane@" apart, but a person who types both is one person.
    Spaces around an address are dropped as a typing slip; one without "@", with two, or with a
    space inside is invalid. Deliverability is not checked: that needs DNS, and a valid address
    with a dead domain still names the same person.
    """
    # Folded first, so that "Jane@X.com" and "jane@x.com" are parsed once: validation is the slow part.
    folded = values.astype("string").str.strip().str.lower()
    return _as_text(values, _by_unique(folded, lambda value: _email(_text(value))))


def link_people(
    tables: Mapping[str, pd.DataFrame],
    id_columns: Mapping[str, Mapping[str, str]],
    *,
    customers: pd.DataFrame | None = None,
    customer_columns: Mapping[str, str] = CUSTOMER_COLUMNS,
    region: str = "US",
) -> IdentityLinks:
    """Link the rows of `tables` to people through any identifier they share, in one graph.

    `tables` maps a name to a table, e.g. {"touchpoints": ..., "conversions": ...}; `id_columns`
    maps the same names to their identifier columns by kind (customer_id, phone, email), e.g.
    {"touchpoints": {"phone": "caller", "email": "form_email"}, "conversions": {"customer_id":
    "cust"}}. Each table needs at least one kind, one column per kind. `region` is the country of
    phone numbers written without a country code (see `normalize_phones`).

    `customers` is an optional CRM table in long shape: one row per customer and identifier, so
    a customer with two phones and an e-mail has two or three rows; phone or e-mail may be blank
    on a row. Long, because a customer has any number of each; a wide export (phone_1, phone_2,
    ...) becomes long with `pd.wide_to_long` or `melt`. Its rows link each customer id to its
    phones and e-mails; it gets a report but no person ids. `customer_columns` names its columns
    by kind and must include customer_id.

    Person ids are a nullable Int64 Series per table, on the table's index, named "person_id":
    dense numbers 0, 1, 2, ... in order of first appearance over the tables as given. A row
    without a usable identifier gets <NA>, not a sentinel such as -1, which `groupby` would pool
    into one fictitious person; pandas' `merge` does match <NA> with <NA>, so drop them first.

    Raises ImpactIQError when a table has no identifier column, names a column it lacks or a kind
    that is not one of the three, or `region` is unknown. Rows without a usable identifier are
    reported, not raised: logs always have some.
    """
    if not tables:
        raise ImpactIQError("No tables to link: give link_people at least one table by name.")
    region = _check_region(region)
    sources = [
        _read_source(table, id_columns.get(name, {}), f"table '{name}'", region)
        for name, table in tables.items()
    ]
    if customers is not None:
        if "customer_id" not in customer_columns:
            raise ImpactIQError(
                "customer_columns has no 'customer_id': the customers table links identifiers to a "
                "customer id; name its column, e.g. customer_columns={'customer_id': 'id', ...}."
            )
        sources.append(_read_source(customers, customer_columns, "the customers table", region))
    nodes, node_kinds, node_values = _number_nodes(sources)
    labels, people = _components(nodes, len(node_kinds))
    in_tables = [np.unique(row[row >= 0]) for row in people[: len(tables)]]
    reports = [
        _table_report(source, row, _people_elsewhere(in_tables, i))
        for i, (source, row) in enumerate(zip(sources, people, strict=True))
    ]
    ambiguous, ambiguous_examples = _ambiguous(nodes, node_kinds, node_values)
    report = IdentityReport(
        tables=dict(zip(tables, reports[: len(tables)], strict=True)),
        customers=reports[-1] if customers is not None else None,
        people=len(np.unique(np.concatenate(in_tables))),
        ambiguous_identifiers=ambiguous,
        ambiguous_examples=ambiguous_examples,
        merged_customers=int((np.bincount(labels[node_kinds == "customer_id"]) > 1).sum()),
    )
    person_ids = _dense_person_ids(people[: len(tables)])
    return IdentityLinks(
        person_ids={
            name: _person_series(ids, table.index)
            for (name, table), ids in zip(tables.items(), person_ids, strict=True)
        },
        report=report,
    )


def _check_region(region: str) -> str:
    """`region` in upper case; an unknown one would silently void every national number."""
    code = str(region).upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ImpactIQError(
            f"Phone region '{region}' is unknown. Give the two-letter ISO code of the country whose "
            "numbers are written without a country code, e.g. 'US' or 'GB'."
        )
    return code


def _by_unique(values: pd.Series, function: Callable[[object], object], missing: object = None) -> np.ndarray:
    """`function` of each distinct value, computed once and spread to every row (`missing` for a
    missing value). Logs repeat a few thousand identifiers over millions of rows, and parsing is
    the slow part."""
    codes, uniques = pd.factorize(values)
    # Code -1 (a missing value) picks the last entry.
    lookup = np.array([*(function(value) for value in uniques), missing], dtype=object)
    return lookup[codes]


def _as_text(values: pd.Series, normalized: np.ndarray) -> pd.Series:
    return pd.Series(normalized, index=values.index, name=values.name, dtype="str")


def _text(value: object) -> str:
    """A raw identifier as text: a float that holds an integer (2015550123.0) as its digits."""
    if isinstance(value, float | np.floating) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _e164(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _customer_ids(values: pd.Series) -> pd.Series:
    """Customer ids as text, so that 123 from a number column and "123" from a text one are one
    customer; blank is missing. Ids are not validated: any non-blank text is somebody's id."""
    return _as_text(values, _by_unique(values, lambda value: _text(value) or None))


def _read_source(table: pd.DataFrame, columns: Mapping[str, str], where: str, region: str) -> _Source:
    """The identifier columns of `table`, checked and normalised."""
    if not columns:
        raise ImpactIQError(
            f"No identifier column given for {where}: map at least one of {', '.join(KINDS)} to one "
            "of its columns, e.g. {'phone': 'caller_phone'}."
        )
    for kind, column in columns.items():
        if kind not in KINDS:
            raise ImpactIQError(
                f"'{kind}' given for {where} is not a kind of identifier; use {', '.join(KINDS)}."
            )
        if column not in table.columns:
            shown = ", ".join(map(str, table.columns[:20]))
            raise ImpactIQError(
                f"{where[0].upper()}{where[1:]} has no column '{column}' (given as its {kind}); its "
                f"columns are: {shown}. Name the column that holds the {kind}, or leave {kind} out."
            )
    raw = {kind: table[column] for kind, column in columns.items()}
    normalized = {
        "customer_id": _customer_ids,
        "phone": lambda values: normalize_phones(values, region),
        "email": normalize_emails,
    }
    return _Source(len(table), raw, {kind: normalized[kind](values) for kind, values in raw.items()})


def _number_nodes(sources: list[_Source]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Every distinct identifier as a node number, shared by all sources: that is where tables meet.

    Returns each source's rows as node numbers (one column per kind in KINDS, -1 where missing),
    and each node's kind and value.
    """
    nodes = [np.full((source.rows, len(KINDS)), -1, dtype=np.int64) for source in sources]
    kinds: list[str] = []
    values: list[str] = []
    for k, kind in enumerate(KINDS):
        having = [
            (rows, source.normalized[kind])
            for rows, source in zip(nodes, sources, strict=True)
            if kind in source.normalized
        ]
        if not having:
            continue
        codes, uniques = pd.factorize(pd.concat([column for _, column in having], ignore_index=True))
        codes = np.where(codes >= 0, codes + len(kinds), -1)
        parts = np.split(codes, np.cumsum([len(column) for _, column in having])[:-1])
        for (rows, _), part in zip(having, parts, strict=True):
            rows[:, k] = part
        kinds += [kind] * len(uniques)
        values += list(uniques)
    return nodes, np.array(kinds, dtype=object), np.array(values, dtype=object)


def _components(nodes: list[np.ndarray], n_nodes: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The person (connected component) of every node, and of every row of each source (-1 for a
    row with no identifier).

    A row joins its identifiers by linking each to the row's highest node number (k identifiers,
    k edges); rows that share any identifier then fall into one component, however long the chain.
    """
    anchors = [rows.max(axis=1) for rows in nodes]
    starts = np.concatenate(
        [np.broadcast_to(a[:, None], r.shape)[r >= 0] for a, r in zip(anchors, nodes, strict=True)]
    )
    ends = np.concatenate([rows[rows >= 0] for rows in nodes])
    graph = sparse.coo_array((np.ones(len(starts)), (starts, ends)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    # Anchor -1 (no identifier) picks the appended -1.
    with_missing = np.append(labels, -1)
    return labels, [with_missing[anchor] for anchor in anchors]


def _dense_person_ids(rows: list[np.ndarray]) -> list[np.ndarray]:
    """Component labels renumbered 0, 1, 2, ... in order of first appearance; -1 stays -1."""
    labels = np.concatenate(rows)
    dense = np.full(len(labels), -1, dtype=np.int64)
    known = labels >= 0
    dense[known] = pd.factorize(labels[known])[0]
    return np.split(dense, np.cumsum([len(row) for row in rows])[:-1])


def _person_series(ids: np.ndarray, index: pd.Index) -> pd.Series:
    """Person ids as nullable integers, <NA> where the row has no person (-1)."""
    return pd.Series(pd.arrays.IntegerArray(ids, ids < 0), index=index, name="person_id")


def _people_elsewhere(in_tables: list[np.ndarray], i: int) -> np.ndarray:
    """The people of every table but the i-th; for the customers table (i past the tables), all."""
    return np.concatenate([np.empty(0, np.int64), *in_tables[:i], *in_tables[i + 1 :]])


def _table_report(source: _Source, people: np.ndarray, elsewhere: np.ndarray) -> TableReport:
    """The report on one source, whose rows belong to `people` (-1: none); `elsewhere` holds the
    people of the other tables."""
    unidentified = np.flatnonzero(people < 0)
    invalid_phones = _invalid(source, "phone")
    invalid_emails = _invalid(source, "email")
    return TableReport(
        rows=source.rows,
        matched=int(np.isin(people[people >= 0], elsewhere).sum()),
        unidentified=len(unidentified),
        unidentified_rows=tuple(int(row) for row in unidentified[:MAX_EXAMPLES]),
        invalid_phones=len(invalid_phones),
        invalid_phone_examples=_examples(source.raw.get("phone"), invalid_phones),
        invalid_emails=len(invalid_emails),
        invalid_email_examples=_examples(source.raw.get("email"), invalid_emails),
    )


def _invalid(source: _Source, kind: str) -> np.ndarray:
    """Row numbers whose `kind` was written (not missing, not blank) but did not validate."""
    if kind not in source.raw:
        return np.array([], dtype=np.int64)
    written = _by_unique(source.raw[kind], lambda value: _text(value) != "", missing=False).astype(bool)
    return np.flatnonzero(written & source.normalized[kind].isna().to_numpy())


def _examples(raw: pd.Series | None, rows: np.ndarray) -> tuple[tuple[int, str], ...]:
    return tuple((int(row), str(raw.iloc[row])) for row in rows[:MAX_EXAMPLES])


def _ambiguous(
    nodes: list[np.ndarray], kinds: np.ndarray, values: np.ndarray
) -> tuple[int, tuple[AmbiguousIdentifier, ...]]:
    """How many phones and e-mails are written on rows of two or more customer ids, and the
    first few of them, those with the most customer ids first."""
    customer = KINDS.index("customer_id")
    pairs = [
        rows[(rows[:, customer] >= 0) & (rows[:, k] >= 0)][:, [customer, k]]
        for rows in nodes
        for k in range(len(KINDS))
        if k != customer
    ]
    pairs = pd.DataFrame(np.concatenate(pairs), columns=["customer", "identifier"]).drop_duplicates()
    owners = pairs.groupby("identifier").size()
    shared = owners[owners >= 2].sort_values(ascending=False, kind="stable")
    examples = pairs[pairs["identifier"].isin(shared.index[:MAX_EXAMPLES])]
    customers = examples.groupby("identifier")["customer"].agg(lambda nodes: sorted(values[nodes]))
    return len(shared), tuple(
        AmbiguousIdentifier(kinds[node], values[node], tuple(customers[node]))
        for node in shared.index[:MAX_EXAMPLES]
    )
