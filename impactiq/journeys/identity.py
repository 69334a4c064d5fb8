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
attribution more than a link lost. Each distinct raw value is parsed once, whichever tables hold
it, so a log of millions of rows costs as many parses as it has distinct values (about 100 us
each: the libraries' own checks, not a copy of them).

Linking through any shared identifier has a price: one phone that several people give (a family
line, a switchboard, a typo) merges them all. The report says what was linked, what could not
be, and which identifiers join two or more customer ids, so that such merges are seen.
"""

from __future__ import annotations

import dataclasses
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

    def to_dict(self) -> dict:
        """The report as plain JSON-able values (`from_dict` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> IdentityReport:
        def table(fields: dict) -> TableReport:
            return TableReport(
                **{
                    **fields,
                    "unidentified_rows": tuple(fields["unidentified_rows"]),
                    "invalid_phone_examples": tuple(map(tuple, fields["invalid_phone_examples"])),
                    "invalid_email_examples": tuple(map(tuple, fields["invalid_email_examples"])),
                }
            )

        return cls(
            tables={name: table(fields) for name, fields in data["tables"].items()},
            customers=None if data["customers"] is None else table(data["customers"]),
            people=int(data["people"]),
            ambiguous_identifiers=int(data["ambiguous_identifiers"]),
            ambiguous_examples=tuple(
                AmbiguousIdentifier(e["kind"], e["value"], tuple(e["customer_ids"]))
                for e in data["ambiguous_examples"]
            ),
            merged_customers=int(data["merged_customers"]),
        )


@dataclass(frozen=True)
class IdentityLinks:
    """A person id for every row of each linked table, all from one graph, and the report."""

    person_ids: Mapping[str, pd.Series]
    report: IdentityReport


@dataclass(frozen=True)
class _Source:
    """One table's identifier columns by kind: as written, and each row's code (-1 where missing)
    into the column's distinct values (e-mails folded first), which are normalised once each."""

    rows: int
    raw: Mapping[str, pd.Series]
    codes: Mapping[str, np.ndarray]
    distinct: Mapping[str, object]


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
    return _as_text(values, _by_unique(values, lambda distinct: _phones(distinct, region)))


def normalize_emails(values: pd.Series) -> pd.Series:
    """Each e-mail address normalised and lower-cased, missing where it is not a valid address.

    email-validator's normalisation (Unicode NFC, the domain in its Unicode form, so
    "xn--bcher-kva.de" and "bücher.de" are one domain) and then lower case for the whole address:
    a mail server may keep "Jane@" and "jane@" apart, but a person who types both is one person.
    Spaces around an address are dropped as a typing slip; one without "@", with two, or with a
    space inside is invalid. Deliverability is not checked: that needs DNS, and a valid address
    with a dead domain still names the same person.
    """
    return _as_text(values, _by_unique(_fold(values), _emails))


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
        _read_source(table, id_columns.get(name, {}), f"table '{name}'") for name, table in tables.items()
    ]
    if customers is not None:
        if "customer_id" not in customer_columns:
            raise ImpactIQError(
                "customer_columns has no 'customer_id': the customers table links identifiers to a "
                "customer id; name its column, e.g. customer_columns={'customer_id': 'id', ...}."
            )
        sources.append(_read_source(customers, customer_columns, "the customers table"))
    nodes, node_kinds, node_values = _number_nodes(sources, region)
    labels, people = _components(nodes, len(node_kinds))
    in_tables = _presence(people[: len(tables)], int(labels.max(initial=-1)) + 1)
    reports = [
        _table_report(source, row, _people_elsewhere(in_tables, i), source_nodes)
        for i, (source, row, source_nodes) in enumerate(zip(sources, people, nodes, strict=True))
    ]
    ambiguous, ambiguous_examples = _ambiguous(nodes, node_kinds, node_values)
    report = IdentityReport(
        tables=dict(zip(tables, reports[: len(tables)], strict=True)),
        customers=reports[-1] if customers is not None else None,
        people=int(np.logical_or.reduce(in_tables).sum()),
        ambiguous_identifiers=ambiguous,
        ambiguous_examples=ambiguous_examples,
        merged_customers=int((np.bincount(labels[node_kinds == KINDS.index("customer_id")]) > 1).sum()),
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


def _by_unique(
    values: pd.Series, normalize: Callable[[np.ndarray], np.ndarray], missing: object = None
) -> np.ndarray:
    """`normalize` of the distinct values, spread to every row (`missing` for a missing value).
    Logs repeat a few thousand identifiers over millions of rows, and parsing is the slow part."""
    codes, uniques = pd.factorize(values)
    # Code -1 (a missing value) picks the last entry.
    return np.append(normalize(np.asarray(uniques, dtype=object)), np.array([missing], dtype=object))[codes]


def _as_text(values: pd.Series, normalized: np.ndarray) -> pd.Series:
    return pd.Series(normalized, index=values.index, name=values.name, dtype="str")


def _fold(values: pd.Series) -> pd.Series:
    """E-mails stripped and lower-cased before parsing, so that "Jane@X.com" and "jane@x.com" are
    parsed once: validation is the slow part."""
    return values.astype("string").str.strip().str.lower()


def _text(value: object) -> str:
    """A raw identifier as text: a float that holds an integer (2015550123.0) as its digits."""
    if isinstance(value, float | np.floating) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _customer_ids(distinct: np.ndarray) -> np.ndarray:
    """Customer ids as text, so that 123 from a number column and "123" from a text one are one
    customer; blank is missing. Ids are not validated: any non-blank text is somebody's id."""
    return np.array([_text(value) or None for value in distinct], dtype=object)


def _phones(distinct: np.ndarray, region: str) -> np.ndarray:
    """`_e164` of each distinct value: libphonenumber parses and validates every one."""
    return np.array([_e164(_text(value), region) for value in distinct], dtype=object)


def _e164(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _emails(distinct: np.ndarray) -> np.ndarray:
    """`_email` of each distinct (folded) value: email-validator checks every one."""
    return np.array([_email(_text(value)) for value in distinct], dtype=object)


def _email(text: str) -> str | None:
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def _read_source(table: pd.DataFrame, columns: Mapping[str, str], where: str) -> _Source:
    """The identifier columns of `table`, checked, with their distinct values."""
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
    factorized = {
        kind: pd.factorize(_fold(values) if kind == "email" else values) for kind, values in raw.items()
    }
    return _Source(
        len(table),
        raw,
        codes={kind: codes for kind, (codes, _) in factorized.items()},
        distinct={kind: distinct for kind, (_, distinct) in factorized.items()},
    )


def _number_nodes(sources: list[_Source], region: str) -> tuple[list[np.ndarray], np.ndarray, pd.Series]:
    """Every distinct normalised identifier as a node number, shared by all sources: that is where
    tables meet. Nodes are numbered kind by kind, in order of first appearance over the sources.

    Returns each source's rows as node numbers (one column per kind in KINDS, -1 where missing or
    invalid), and each node's kind (its index in KINDS) and value.
    """
    nodes = [np.full((source.rows, len(KINDS)), -1, dtype=np.int64) for source in sources]
    kinds: list[np.ndarray] = []
    values: list[pd.Series] = []
    normalizers = {
        "customer_id": _customer_ids,
        "phone": lambda distinct: _phones(distinct, region),
        "email": _emails,
    }
    offset = 0
    for k, kind in enumerate(KINDS):
        having = [(rows, source) for rows, source in zip(nodes, sources, strict=True) if kind in source.codes]
        if not having:
            continue
        places, pool = _pool([source.distinct[kind] for _, source in having])
        node, uniques = pd.factorize(normalizers[kind](pool))
        node = np.append(np.where(node >= 0, node + offset, -1), -1)
        for (rows, source), place in zip(having, places, strict=True):
            # Code -1 (a missing value) picks the appended -1.
            rows[:, k] = node[np.append(place, -1)[source.codes[kind]]]
        kinds.append(np.full(len(uniques), k, dtype=np.int8))
        values.append(pd.Series(uniques, dtype="str"))
        offset += len(uniques)
    if not kinds:
        return nodes, np.zeros(0, dtype=np.int8), pd.Series([], dtype="str")
    return nodes, np.concatenate(kinds), pd.concat(values, ignore_index=True)


def _pool(columns: list) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct values of several columns as one array, and where each column's values are
    in it. Text written in two tables is pooled, so that it is normalised once; other values
    (numbers a reader made of ids) are only put side by side, since pandas takes 1 and True
    for one value where their text differs."""
    sizes = np.cumsum([len(column) for column in columns])[:-1]
    if all(isinstance(column.dtype, pd.StringDtype) for column in columns):
        codes, pool = pd.factorize(pd.concat([pd.Series(column) for column in columns], ignore_index=True))
        return np.split(codes, sizes), np.asarray(pool, dtype=object)
    pool = np.concatenate([np.asarray(column, dtype=object) for column in columns])
    return np.split(np.arange(len(pool)), sizes), pool


def _components(nodes: list[np.ndarray], n_nodes: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """The person (connected component) of every node, and of every row of each source (-1 for a
    row with no identifier).

    A row joins its identifiers by linking each to the row's highest node number (k identifiers,
    k - 1 edges); rows that share any identifier then fall into one component, however long the
    chain. Each edge is kept once: a log repeats the same few links over millions of rows.
    """
    anchors = [rows.max(axis=1) for rows in nodes]
    edges = [np.zeros(0, dtype=np.int64)]
    for anchor, rows in zip(anchors, nodes, strict=True):
        for column in rows.T:
            linked = (column >= 0) & (column != anchor)
            edges.append(anchor[linked] * n_nodes + column[linked])
    starts, ends = np.divmod(_distinct(np.concatenate(edges)), max(n_nodes, 1))
    graph = sparse.coo_array((np.ones(len(starts), dtype=np.int8), (starts, ends)), shape=(n_nodes, n_nodes))
    _, labels = connected_components(graph, directed=False)
    # Anchor -1 (no identifier) picks the appended -1.
    with_missing = np.append(labels, -1)
    return labels, [with_missing[anchor] for anchor in anchors]


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted. Sorting is the fast way for millions of integers (numpy 2.4's
    `np.unique` hashes them, many times slower)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def _presence(rows: list[np.ndarray], n_people: int) -> list[np.ndarray]:
    """For each table, which people (component labels) have a row in it."""
    present = []
    for row in rows:
        seen = np.zeros(n_people, dtype=bool)
        seen[row[row >= 0]] = True
        present.append(seen)
    return present


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
    others = in_tables[:i] + in_tables[i + 1 :]
    return np.logical_or.reduce(others) if others else np.zeros_like(in_tables[0])


def _table_report(
    source: _Source, people: np.ndarray, elsewhere: np.ndarray, nodes: np.ndarray
) -> TableReport:
    """The report on one source, whose rows belong to `people` (-1: none) and have the identifier
    `nodes`; `elsewhere` marks the people of the other tables."""
    unidentified = np.flatnonzero(people < 0)
    invalid_phones = _invalid(source, "phone", nodes)
    invalid_emails = _invalid(source, "email", nodes)
    return TableReport(
        rows=source.rows,
        matched=int(elsewhere[people[people >= 0]].sum()),
        unidentified=len(unidentified),
        unidentified_rows=tuple(int(row) for row in unidentified[:MAX_EXAMPLES]),
        invalid_phones=len(invalid_phones),
        invalid_phone_examples=_examples(source.raw.get("phone"), invalid_phones),
        invalid_emails=len(invalid_emails),
        invalid_email_examples=_examples(source.raw.get("email"), invalid_emails),
    )


def _invalid(source: _Source, kind: str, nodes: np.ndarray) -> np.ndarray:
    """Row numbers whose `kind` was written (not missing, not blank) but did not validate."""
    if kind not in source.raw:
        return np.array([], dtype=np.int64)
    raw = source.raw[kind]
    unknown = np.flatnonzero((nodes[:, KINDS.index(kind)] < 0) & raw.notna().to_numpy())
    written = _by_unique(
        raw.iloc[unknown],
        lambda distinct: np.array([_text(value) != "" for value in distinct], dtype=object),
        missing=False,
    )
    return unknown[written.astype(bool)]


def _examples(raw: pd.Series | None, rows: np.ndarray) -> tuple[tuple[int, str], ...]:
    return tuple((int(row), str(raw.iloc[row])) for row in rows[:MAX_EXAMPLES])


def _ambiguous(
    nodes: list[np.ndarray], kinds: np.ndarray, values: pd.Series
) -> tuple[int, tuple[AmbiguousIdentifier, ...]]:
    """How many phones and e-mails are written on rows of two or more customer ids, and the
    first few of them, those with the most customer ids first."""
    customer = KINDS.index("customer_id")
    n_nodes = max(len(kinds), 1)
    pairs = [np.zeros(0, dtype=np.int64)]
    for rows in nodes:
        for k in range(len(KINDS)):
            if k != customer:
                both = rows[(rows[:, customer] >= 0) & (rows[:, k] >= 0)]
                pairs.append(both[:, customer] * n_nodes + both[:, k])
    owner, identifier = np.divmod(_distinct(np.concatenate(pairs)), n_nodes)
    owners = np.bincount(identifier, minlength=len(kinds))
    shared = np.flatnonzero(owners >= 2)
    # The most customer ids first; ties in node order.
    shared = shared[np.argsort(-owners[shared], kind="stable")]
    return len(shared), tuple(
        AmbiguousIdentifier(
            KINDS[kinds[node]], values.iloc[node], tuple(sorted(values.iloc[owner[identifier == node]]))
        )
        for node in shared[:MAX_EXAMPLES]
    )
