"""Shared journeys for the data-driven models' tests: aggregated paths as touchpoint logs."""

from __future__ import annotations

import pandas as pd

# (path, conversions, journeys that did not convert): repeats, revisits, a path that always converts,
# a channel that never converts alone.
CASES = {
    "three channels": [
        ("email>social", 10, 5),
        ("social", 3, 10),
        ("display>email", 4, 2),
        ("email", 6, 8),
        ("display", 0, 7),
    ],
    "revisits": [("a>b>a", 5, 3), ("a>a>c", 2, 4), ("c>b", 3, 1), ("b", 0, 6), ("c>c", 1, 2)],
    "four channels": [("x>y>z", 7, 0), ("y>z", 2, 5), ("z>x", 1, 3), ("y", 0, 4), ("w>x", 1, 1)],
}


def as_logs(rows, revenue: float = 1.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One person per journey, touches an hour apart, the conversion an hour after the last."""
    start = pd.Timestamp("2024-01-01")
    touches, conversions, person = [], [], 0
    for path, converted, not_converted in rows:
        channels = path.split(">")
        for outcome in [True] * converted + [False] * not_converted:
            touches += [(person, start + pd.Timedelta(hours=i), c) for i, c in enumerate(channels)]
            if outcome:
                conversions.append((person, start + pd.Timedelta(hours=len(channels)), revenue))
            person += 1
    return (
        pd.DataFrame(touches, columns=["person", "timestamp", "channel"]),
        pd.DataFrame(conversions, columns=["person", "timestamp", "revenue"]),
    )


def grouped(rows) -> pd.DataFrame:
    """The same journeys in marketing-attribution-models' grouped layout."""
    records = [{"path": p, "conv": True, "n": c} for p, c, _ in rows if c] + [
        {"path": p, "conv": False, "n": n} for p, _, n in rows if n
    ]
    return pd.DataFrame(records)


def reference_model(rows):
    """marketing-attribution-models' MAM on the same journeys (the reference of Markov and Shapley)."""
    from mam import MAM

    return MAM(
        df=grouped(rows),
        format_type="grouped_journey",
        channels_colname="path",
        journey_with_conv_colname="conv",
        occurrences_colname="n",
        path_separator=">",
    )
