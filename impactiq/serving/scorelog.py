"""The score log: every event a stream scorer scored, in an embedded SQLite database.

One row per scored event and model, keyed by the model and where the event sits in Kafka
(topic, partition, offset): two models may score one topic into one log (each scorer has its
own consumer group). The scorer commits its Kafka offsets only after writing, so after a crash
it reads again the events of its last unfinished batch; the key recognises them, and they are
counted as duplicates instead of being stored twice. Events that could not be scored are kept with their
reason (the dead-letter topic has them too). The log is in WAL mode, so the app's Stream page
reads it from another process while a scorer writes, without blocking either.

Times are seconds since the epoch: `event_time` is the Kafka message's timestamp (when it was
produced), `scored_at` when its result was computed, just before it was written; their
difference is the end-to-end latency.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError

# Where the CLI writes the log and the Stream page reads it, unless told otherwise.
SCORE_LOG_ENV = "IMPACTIQ_SCORE_LOG"
DEFAULT_SCORE_LOG = "scores.sqlite"
# The log's layout, kept in SQLite's user_version: a file of another layout is refused. Format 1
# keyed events without their model, so a second model's scores of the same events were taken
# for replays and dropped; opening such a log to write upgrades it (`_upgrade_from_1`).
LOG_FORMAT = 2
# The formats a reader understands: format 1's tables have the columns the page reads.
_READABLE_FORMATS = (1, LOG_FORMAT)
# What a dead letter upgraded from format 1 says of its model, which that format did not keep.
UNKNOWN_MODEL = "(not recorded)"
# How long a writer or reader waits for another's lock before giving up.
BUSY_TIMEOUT_MS = 10_000
# The fields of one scored event, in the order `ScoreLog.write` takes them.
SCORE_FIELDS = (
    "topic",
    "partition",
    "offset",
    "key",
    "event_id",
    "model",
    "event_time",
    "scored_at",
    "uplift",
    "uplift_lower",
    "uplift_upper",
    "class",
    "best_arm",
    "arms",
)
# The fields of one dead letter, in the order `ScoreLog.write` takes them.
DEAD_LETTER_FIELDS = ("topic", "partition", "offset", "key", "reason", "payload", "at", "model")
# A dead letter's payload is kept in the log up to this length; the dead-letter topic has it whole.
MAX_PAYLOAD_CHARS = 2_000
DUPLICATES = "duplicates"

_TABLES = """
CREATE TABLE IF NOT EXISTS scores (
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    key TEXT,
    event_id TEXT,
    model TEXT NOT NULL,
    event_time REAL,
    scored_at REAL NOT NULL,
    uplift REAL,
    uplift_lower REAL,
    uplift_upper REAL,
    class TEXT,
    best_arm TEXT,
    arms TEXT,
    UNIQUE (model, topic, "partition", "offset")
);
CREATE INDEX IF NOT EXISTS scores_scored_at ON scores (scored_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    topic TEXT NOT NULL,
    "partition" INTEGER NOT NULL,
    "offset" INTEGER NOT NULL,
    key TEXT,
    reason TEXT NOT NULL,
    payload TEXT,
    at REAL NOT NULL,
    model TEXT NOT NULL,
    UNIQUE (model, topic, "partition", "offset")
);
"""
_SCHEMA = f"""{_TABLES}
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO counters VALUES ('{DUPLICATES}', 0);
PRAGMA user_version = {LOG_FORMAT};
"""
# Format 1 to 2: the same rows under keys that hold the model (SQLite cannot change a table's
# constraints in place, so the tables are rebuilt, in one transaction with the version).
_UPGRADE_FROM_1 = f"""
DROP INDEX IF EXISTS scores_scored_at;
ALTER TABLE scores RENAME TO scores_format_1;
ALTER TABLE dead_letters RENAME TO dead_letters_format_1;
{_TABLES}
INSERT INTO scores SELECT * FROM scores_format_1;
INSERT INTO dead_letters SELECT *, '{UNKNOWN_MODEL}' FROM dead_letters_format_1;
DROP TABLE scores_format_1;
DROP TABLE dead_letters_format_1;
PRAGMA user_version = {LOG_FORMAT};
"""
_QUOTED = {"partition": '"partition"', "offset": '"offset"', "class": '"class"'}
_INSERT_SCORE = (
    f"INSERT OR IGNORE INTO scores ({', '.join(_QUOTED.get(f, f) for f in SCORE_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(SCORE_FIELDS))})"
)
_INSERT_DEAD_LETTER = (
    f"INSERT OR IGNORE INTO dead_letters ({', '.join(_QUOTED.get(f, f) for f in DEAD_LETTER_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(DEAD_LETTER_FIELDS))})"
)
# What `recent` shows of each scored event, newest first.
_RECENT = (
    'SELECT scored_at, topic, "partition", "offset", key, event_id, model, uplift, uplift_lower, '
    'uplift_upper, "class", best_arm, arms, (scored_at - event_time) * 1000 AS latency_ms '
    "FROM scores ORDER BY rowid DESC LIMIT ?"
)


@dataclass(frozen=True)
class LogSummary:
    """What the log says about a scorer: totals, and the rate and latency of the last window.

    `events_per_second` is the events scored within the last `window_seconds` divided by the
    window; `latency_ms` maps a percentile (50, 99) to milliseconds from produce to score over
    the same events, and is empty when none were scored in the window.
    """

    scored: int
    dead_letters: int
    duplicates: int
    window_seconds: float
    events_per_second: float
    latency_ms: dict[int, float]
    last_scored_at: float | None


class ScoreLog:
    """An open score log: `write` batches (the scorer), read totals and recent rows (the page)."""

    def __init__(self, connection: sqlite3.Connection, path: Path):
        self._connection = connection
        self.path = path

    def write(self, scores: Sequence[tuple], dead_letters: Sequence[tuple] = ()) -> tuple[int, int]:
        """Store a batch in one transaction; return (new rows, duplicates).

        `scores` holds tuples in `SCORE_FIELDS` order and `dead_letters` in `DEAD_LETTER_FIELDS`
        order. A row whose (topic, partition, offset) is already stored, scored or dead, is a
        replay: it is not stored again but added to the duplicates counter, in the same
        transaction, so that a crash leaves rows and counter agreeing.
        """
        with self._connection:
            new = self._connection.executemany(_INSERT_SCORE, scores).rowcount if scores else 0
            duplicates = len(scores) - new
            if dead_letters:
                stored = self._connection.executemany(_INSERT_DEAD_LETTER, dead_letters).rowcount
                duplicates += len(dead_letters) - stored
            if duplicates:
                self._connection.execute(
                    "UPDATE counters SET value = value + ? WHERE name = ?", (duplicates, DUPLICATES)
                )
        return new, duplicates

    def totals(self) -> dict[str, int]:
        """Scored events, dead letters and duplicates since the log was created."""
        scored = self._connection.execute("SELECT count(*) FROM scores").fetchone()[0]
        dead = self._connection.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
        duplicates = self._connection.execute(
            "SELECT value FROM counters WHERE name = ?", (DUPLICATES,)
        ).fetchone()[0]
        return {"scored": scored, "dead_letters": dead, "duplicates": duplicates}

    def throughput(self, window_seconds: float = 60.0, *, now: float | None = None) -> float:
        """Events scored per second over the last `window_seconds` (their count over the window)."""
        _check_window(window_seconds)
        since = (time.time() if now is None else now) - window_seconds
        count = self._connection.execute("SELECT count(*) FROM scores WHERE scored_at >= ?", (since,))
        return count.fetchone()[0] / window_seconds

    def latency_percentiles(
        self,
        percentiles: Sequence[float] = (50, 99),
        *,
        window_seconds: float | None = None,
        now: float | None = None,
    ) -> dict[float, float]:
        """Milliseconds from produce to score at each percentile, over the events scored in the
        last `window_seconds` (all events when None); empty when there are none.

        Events without a Kafka timestamp are left out: they have no produce time to start from.
        """
        query = "SELECT scored_at - event_time FROM scores WHERE event_time IS NOT NULL"
        params: tuple = ()
        if window_seconds is not None:
            _check_window(window_seconds)
            query += " AND scored_at >= ?"
            params = ((time.time() if now is None else now) - window_seconds,)
        seconds = np.fromiter((row[0] for row in self._connection.execute(query, params)), dtype=np.float64)
        if seconds.size == 0:
            return {}
        values = np.percentile(seconds * 1000, list(percentiles))
        return {p: float(v) for p, v in zip(percentiles, values, strict=True)}

    def summary(self, window_seconds: float = 60.0, *, now: float | None = None) -> LogSummary:
        """Totals with the throughput and p50/p99 latency of the last `window_seconds`."""
        now = time.time() if now is None else now
        last = self._connection.execute("SELECT max(scored_at) FROM scores").fetchone()[0]
        return LogSummary(
            **self.totals(),
            window_seconds=window_seconds,
            events_per_second=self.throughput(window_seconds, now=now),
            latency_ms=self.latency_percentiles((50, 99), window_seconds=window_seconds, now=now),
            last_scored_at=last,
        )

    def recent(self, n: int = 100) -> pd.DataFrame:
        """The last `n` scored events, newest first, with their latency in milliseconds."""
        frame = self._frame(_RECENT, (n,))
        frame["scored_at"] = pd.to_datetime(frame["scored_at"], unit="s", utc=True)
        return frame

    def recent_dead_letters(self, n: int = 20) -> pd.DataFrame:
        """The last `n` dead letters, newest first: where each was, and why it was not scored."""
        frame = self._frame(
            'SELECT at, topic, "partition", "offset", key, reason, payload FROM dead_letters '
            "ORDER BY rowid DESC LIMIT ?",
            (n,),
        )
        frame["at"] = pd.to_datetime(frame["at"], unit="s", utc=True)
        return frame

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> ScoreLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _frame(self, query: str, params: tuple) -> pd.DataFrame:
        cursor = self._connection.execute(query, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def default_log_path() -> Path:
    """The score log the CLI writes and the Stream page reads: $IMPACTIQ_SCORE_LOG, else
    scores.sqlite in the working folder."""
    return Path(os.environ.get(SCORE_LOG_ENV) or DEFAULT_SCORE_LOG)


def open_score_log(path: str | os.PathLike) -> ScoreLog:
    """Open the log at `path` for writing, creating it (and nothing above it) when missing."""
    path = Path(path)
    if path.is_dir():
        raise ImpactIQError(
            f"The score log '{path}' is a folder; name a file, e.g. {path / DEFAULT_SCORE_LOG}."
        )
    if not path.parent.is_dir():
        raise ImpactIQError(
            f"The folder '{path.parent}' for the score log does not exist; create it or choose another path."
        )
    connection = _connect(path, str(path))
    try:
        version = _format(connection, path)
        connection.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses no committed batch when the process dies (only on power loss),
        # and saves an fsync per batch.
        connection.execute("PRAGMA synchronous=NORMAL")
        if version == 0:
            # Idempotent, so that two scorers starting on one new log both succeed.
            connection.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}COMMIT;")
        elif version == 1:
            _upgrade_from_1(connection)
    except BaseException:
        connection.close()
        raise
    return ScoreLog(connection, path)


def read_score_log(path: str | os.PathLike) -> ScoreLog | None:
    """Open the log at `path` read-only, or None when there is none yet (no file, or a scorer is
    creating it at this moment)."""
    path = Path(path)
    if not path.is_file():
        return None
    connection = _connect(path, f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if _format(connection, path) == 0:
            connection.close()
            return None
    except BaseException:
        connection.close()
        raise
    return ScoreLog(connection, path)


def _upgrade_from_1(connection: sqlite3.Connection) -> None:
    """Rebuild a format-1 log as format 2, keeping every row; a second scorer that got there first
    leaves nothing to do (the version is read again under the write lock)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        if connection.execute("PRAGMA user_version").fetchone()[0] == 1:
            for statement in _UPGRADE_FROM_1.split(";"):
                if statement.strip():
                    connection.execute(statement)
    except BaseException:
        connection.rollback()
        raise
    connection.commit()


def _connect(path: Path, target: str, *, uri: bool = False) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(target, uri=uri, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error as error:
        raise ImpactIQError(f"Cannot open the score log '{path}': {error}.") from error
    return connection


def _format(connection: sqlite3.Connection, path: Path) -> int:
    """The log format of an open database: 0 for an empty one, `LOG_FORMAT` for a log."""
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    except sqlite3.DatabaseError as error:
        raise ImpactIQError(
            f"'{path}' is not a score log ({error}); choose another path for the log."
        ) from error
    if version in _READABLE_FORMATS or (version == 0 and tables == 0):
        return version
    raise ImpactIQError(
        f"'{path}' is a SQLite database but not an ImpactIQ score log (format {version}, expected "
        f"{LOG_FORMAT}); choose another path for the log."
    )


def _check_window(window_seconds: float) -> None:
    if not window_seconds > 0:
        raise ImpactIQError(f"The window must be a positive number of seconds; got {window_seconds}.")
