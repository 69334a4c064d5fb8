"""What converting journeys look like: the most common paths, touches and days to conversion."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.journeys.paths import Journeys

PATH_SEPARATOR = " > "


def top_paths(journeys: Journeys, n: int = 10) -> pd.DataFrame:
    """The `n` most common converting paths (channels in order, repeats kept): path, touches,
    conversions, share of attributed conversions, revenue."""
    attributed = np.flatnonzero(journeys.path_length > 0)
    if len(attributed) == 0:
        return pd.DataFrame(columns=["path", "touches", "conversions", "share", "revenue"])
    names = np.asarray(journeys.channels, dtype=object)[journeys.channel]
    starts = journeys.starts()[attributed]
    lengths = journeys.path_length[attributed]
    # Paths as text, one join per conversion; the common ones are few, so counting text is cheap.
    text = np.array(
        [PATH_SEPARATOR.join(names[s : s + k]) for s, k in zip(starts, lengths, strict=True)], dtype=object
    )
    table = (
        pd.DataFrame({"path": text, "touches": lengths, "revenue": journeys.revenue[attributed]})
        .groupby("path", sort=False)
        .agg(touches=("touches", "first"), conversions=("touches", "size"), revenue=("revenue", "sum"))
        .sort_values(["conversions", "path"], ascending=[False, True])
        .head(n)
        .reset_index()
    )
    table.insert(3, "share", table["conversions"] / len(attributed))
    return table


def path_statistics(journeys: Journeys) -> pd.DataFrame:
    """Touches and days from the first touch to conversion over attributed conversions:
    mean, median, 90th percentile and maximum."""
    attributed = journeys.path_length > 0
    first = journeys.starts()[attributed]
    days = journeys.age_days[first] if len(first) else np.zeros(0)
    rows = []
    for name, values in (("touches", journeys.path_length[attributed]), ("days from first touch", days)):
        values = np.asarray(values, dtype=np.float64)
        empty = len(values) == 0
        rows.append(
            {
                "measure": name,
                "mean": np.nan if empty else float(values.mean()),
                "median": np.nan if empty else float(np.median(values)),
                "p90": np.nan if empty else float(np.percentile(values, 90)),
                "max": np.nan if empty else float(values.max()),
            }
        )
    return pd.DataFrame(rows)


def touches_histogram(journeys: Journeys, cap: int = 15) -> pd.DataFrame:
    """Attributed conversions by number of touches on their path, the last bucket `cap` or more."""
    lengths = np.minimum(journeys.path_length[journeys.path_length > 0], cap)
    counts = np.bincount(lengths, minlength=cap + 1)[1:]
    labels = [str(k) for k in range(1, cap)] + [f"{cap}+"]
    return pd.DataFrame({"touches": labels, "conversions": counts})
