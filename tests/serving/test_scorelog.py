"""Tests of impactiq.serving.scorelog: replays counted once, rates and latencies, readers beside a writer."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from impactiq.errors import ImpactIQError
from impactiq.serving.scorelog import (
    SCORE_LOG_ENV,
    default_log_path,
    open_score_log,
    read_score_log,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0


def _score(
    offset: int, *, partition: int = 0, produced: float = NOW - 1.0, scored: float = NOW, model: str = "demo"
) -> tuple:
    return (
        "events",
        partition,
        offset,
        f"k{offset}",
        str(offset),
        model,
        produced,
        scored,
        0.01 * offset,
        0.01 * offset - 0.02,
        0.01 * offset + 0.02,
        "persuadable",
        None,
        None,
    )


def _dead(offset: int, model: str = "demo") -> tuple:
    return ("events", 0, offset, f"k{offset}", "The event is not valid JSON", "{oops", NOW, model)


@pytest.fixture
def log(tmp_path):
    with open_score_log(tmp_path / "scores.sqlite") as opened:
        yield opened


def test_a_replayed_batch_is_counted_as_duplicates_and_stored_once(log):
    assert log.write([_score(i) for i in range(10)], [_dead(10)]) == (10, 0)
    # A restart after a crash reads the last batch again: half of it, and its dead letter, were stored.
    assert log.write([_score(i) for i in range(5, 15)], [_dead(10)]) == (5, 6)
    assert log.totals() == {"scored": 15, "dead_letters": 1, "duplicates": 6}


def test_the_same_offset_in_another_partition_is_another_event(log):
    assert log.write([_score(0, partition=0), _score(0, partition=1)]) == (2, 0)


def test_recent_rows_come_newest_first_with_their_latency(log):
    log.write([_score(i, produced=NOW - 0.25) for i in range(5)])
    log.write([_score(5, produced=NOW - 0.5)])
    recent = log.recent(3)
    assert recent["offset"].tolist() == [5, 4, 3]
    np.testing.assert_allclose(recent["latency_ms"], [500.0, 250.0, 250.0])
    assert str(recent["scored_at"].dt.tz) == "UTC"
    assert recent.loc[0, "uplift"] == pytest.approx(0.05)


def test_throughput_counts_the_events_scored_within_the_window(log):
    log.write([_score(i, scored=NOW - 100) for i in range(50)])
    log.write([_score(i, scored=NOW - 5) for i in range(50, 80)])
    assert log.throughput(10, now=NOW) == pytest.approx(3.0)
    assert log.throughput(200, now=NOW) == pytest.approx(0.4)


def test_latency_percentiles_are_milliseconds_from_produce_to_score(log):
    latencies = np.arange(1, 101) / 1000  # 1 ms .. 100 ms
    log.write([_score(i, produced=NOW - s, scored=NOW) for i, s in enumerate(latencies)])
    log.write([_score(100, produced=None)])  # no Kafka timestamp: no latency to count
    found = log.latency_percentiles((50, 99))
    assert found[50] == pytest.approx(np.percentile(latencies * 1000, 50))
    assert found[99] == pytest.approx(np.percentile(latencies * 1000, 99))
    assert log.latency_percentiles(window_seconds=10, now=NOW + 3600) == {}


def test_the_summary_holds_totals_rate_and_latency(log):
    log.write([_score(i, produced=NOW - 1.2, scored=NOW - 1) for i in range(120)], [_dead(500)])
    summary = log.summary(60, now=NOW)
    assert (summary.scored, summary.dead_letters, summary.duplicates) == (120, 1, 0)
    assert summary.events_per_second == pytest.approx(2.0)
    assert summary.latency_ms[50] == pytest.approx(200.0)
    assert summary.last_scored_at == NOW - 1


def test_two_models_scoring_one_topic_each_keep_their_scores(log):
    """Seen: the second model's scores of the same events were taken for replays, left out of
    the log and counted as duplicates."""
    assert log.write([_score(i) for i in range(5)], [_dead(5)]) == (5, 0)
    assert log.write([_score(i, model="rival") for i in range(5)], [_dead(5, model="rival")]) == (5, 0)
    assert log.totals() == {"scored": 10, "dead_letters": 2, "duplicates": 0}
    assert log.write([_score(0, model="rival")]) == (0, 1)  # a replay is still one


def test_a_format_1_log_is_upgraded_keeping_its_rows(tmp_path):
    """A log written before the key held the model opens, upgraded, with every row and count."""
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(FORMAT_1)
    old.close()
    with read_score_log(path) as reading:  # a reader takes format 1 as it is
        assert reading.totals() == {"scored": 1, "dead_letters": 1, "duplicates": 3}
    with open_score_log(path) as upgraded:
        assert upgraded.totals() == {"scored": 1, "dead_letters": 1, "duplicates": 3}
        assert upgraded.recent(5)["key"].tolist() == ["k1"]
        assert upgraded.write([_score(1, model="rival")], [_dead(2, model="rival")]) == (1, 0)
        assert upgraded.recent_dead_letters(5)["offset"].tolist() == [2, 2]
    with sqlite3.connect(path) as check:
        assert check.execute("PRAGMA user_version").fetchone()[0] == 2
        assert check.execute("SELECT model FROM dead_letters ORDER BY rowid").fetchall() == [
            ("(not recorded)",),
            ("rival",),
        ]
        assert (
            check.execute("SELECT count(*) FROM sqlite_master WHERE name = 'scores_scored_at'").fetchone()[0]
            == 1
        )
    check.close()


# The layout of a format-1 log, with one score, one dead letter and three duplicates.
FORMAT_1 = """
CREATE TABLE scores (topic TEXT NOT NULL, "partition" INTEGER NOT NULL, "offset" INTEGER NOT NULL, key TEXT,
    event_id TEXT, model TEXT NOT NULL, event_time REAL, scored_at REAL NOT NULL, uplift REAL, uplift_lower REAL,
    uplift_upper REAL, class TEXT, best_arm TEXT, arms TEXT, UNIQUE (topic, "partition", "offset"));
CREATE INDEX scores_scored_at ON scores (scored_at);
CREATE TABLE dead_letters (topic TEXT NOT NULL, "partition" INTEGER NOT NULL, "offset" INTEGER NOT NULL, key TEXT,
    reason TEXT NOT NULL, payload TEXT, at REAL NOT NULL, UNIQUE (topic, "partition", "offset"));
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters VALUES ('duplicates', 3);
INSERT INTO scores VALUES ('events', 0, 1, 'k1', '1', 'demo', 1.0, 2.0, 0.01, 0.0, 0.02, 'persuadable', NULL, NULL);
INSERT INTO dead_letters VALUES ('events', 0, 2, 'k2', 'The event is not valid JSON', '{oops', 3.0);
PRAGMA user_version = 1;
"""


def test_dead_letters_keep_their_reason(log):
    log.write([], [_dead(3), _dead(4)])
    letters = log.recent_dead_letters()
    assert letters["offset"].tolist() == [4, 3]
    assert letters["reason"].str.contains("not valid JSON").all()


def test_another_process_reads_the_log_while_the_writer_holds_it_open(log):
    log.write([_score(i) for i in range(7)], [_dead(7)])
    reader = (
        "import sys; from impactiq.serving.scorelog import read_score_log; "
        "print(read_score_log(sys.argv[1]).totals())"
    )
    out = subprocess.run(
        [sys.executable, "-c", reader, str(log.path)], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "{'scored': 7, 'dead_letters': 1, 'duplicates': 0}"


def test_a_reader_sees_batches_written_after_it_opened(log):
    reader = read_score_log(log.path)
    assert reader.totals()["scored"] == 0
    log.write([_score(0)])
    assert reader.totals()["scored"] == 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.write([_score(1)])
    reader.close()


def test_no_log_yet_reads_as_none(tmp_path):
    assert read_score_log(tmp_path / "scores.sqlite") is None
    (tmp_path / "empty.sqlite").touch()  # a scorer creating the log at this moment
    assert read_score_log(tmp_path / "empty.sqlite") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"name,uplift\nann,0.1\n" * 200, "not a score log"), (None, "not an ImpactIQ score log")],
)
def test_a_file_that_is_not_a_score_log_is_refused(tmp_path, content, message):
    path = tmp_path / "other.sqlite"
    if content is None:
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE people (name TEXT)")
        other.close()
    else:
        path.write_bytes(content)
    for opener in (open_score_log, read_score_log):
        with pytest.raises(ImpactIQError, match=message):
            opener(path)


def test_a_log_in_a_missing_folder_is_refused(tmp_path):
    with pytest.raises(ImpactIQError, match="does not exist"):
        open_score_log(tmp_path / "nowhere" / "scores.sqlite")


def test_the_default_log_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(SCORE_LOG_ENV, raising=False)
    assert default_log_path() == Path("scores.sqlite")
    monkeypatch.setenv(SCORE_LOG_ENV, str(tmp_path / "live.sqlite"))
    assert default_log_path() == tmp_path / "live.sqlite"


def test_a_window_must_be_positive(log):
    with pytest.raises(ImpactIQError, match="window"):
        log.throughput(0)
