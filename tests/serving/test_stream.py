"""Tests of impactiq.serving.stream against librdkafka's mock Kafka cluster, in and out of process.

Events become scores equal to the model's; a scorer killed with -9 and restarted loses no event;
bad events reach the dead-letter topic with the reason while the events around them are scored;
a multi-arm model's events get their best arm; the command line's mistakes cost one line.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from confluent_kafka import Consumer, Producer

from impactiq import cli
from impactiq.decisions.batch import score_batch
from impactiq.errors import ImpactIQError
from impactiq.serving import stream
from impactiq.serving.kafka import mock_cluster
from impactiq.serving.scorelog import open_score_log, read_score_log
from impactiq.serving.stream import StreamSettings, run_stream
from impactiq.uplift.scoring import score_rows
from tests.support import free_port

ROOT = Path(__file__).resolve().parents[2]
# The consumer group protocol of KIP-848: the mock cluster assigns partitions in well under a
# second, where the classic protocol waits three. The kill test uses the classic one (below).
FAST_GROUPS = {"consumer": {"group.protocol": "consumer"}}
READ_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def kafka():
    """The bootstrap address of a mock cluster that lives as long as this module's tests."""
    with mock_cluster() as bootstrap:
        yield bootstrap


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _events(model, n: int, seed: int) -> list[dict]:
    """`n` holdout users of `model` as events (drawn with replacement beyond the holdout's size)."""
    holdout = model.holdout[list(model.schema.features)]
    rows = holdout.sample(n, random_state=seed, replace=n > len(holdout)).reset_index(drop=True)
    return [{"id": i, **row} for i, row in enumerate(rows.to_dict("records"))]


def _produce(bootstrap: str, topic: str, messages: list[tuple[str, bytes | None]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for key, value in messages:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0


def _read(bootstrap: str, topic: str, n: int) -> dict[str, list[dict]]:
    """The messages of `topic` as JSON by key, once at least `n` arrived (and a quiet second after)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": _name("reader"),
            "auto.offset.reset": "earliest",
            "group.protocol": "consumer",
        }
    )
    consumer.subscribe([topic])
    found: dict[str, list[dict]] = {}
    count, deadline = 0, time.monotonic() + READ_TIMEOUT
    try:
        while time.monotonic() < deadline:
            batch = [m for m in consumer.consume(1_000, timeout=1.0 if count >= n else 0.2) if not m.error()]
            if not batch and count >= n:
                break
            for message in batch:
                found.setdefault(message.key().decode(), []).append(json.loads(message.value()))
                count += 1
    finally:
        consumer.close()
    assert count >= n, f"only {count} of {n} messages reached '{topic}'"
    return found


def _run(model, log_path: Path, bootstrap: str, topic_in: str, **options):
    defaults = {"topic_out": f"{topic_in}.scores", "group": _name("scorer"), "idle_exit": 30.0}
    settings = StreamSettings(
        kafka=bootstrap, topic_in=topic_in, kafka_config=FAST_GROUPS, **{**defaults, **options}
    )
    with open_score_log(log_path) as log:
        return run_stream(model, log, settings)


def test_events_become_scores_equal_to_the_models(kafka, two_arm_model, tmp_path):
    model = two_arm_model
    topic = _name("events")
    events = _events(model, 200, seed=0)
    _produce(
        kafka, topic, [(f"user-{e['id']}", json.dumps({**e, "note": "ignored"}).encode()) for e in events]
    )
    report = _run(model, tmp_path / "scores.sqlite", kafka, topic, max_events=200)
    assert (report.events, report.scored, report.dead_letters, report.duplicates) == (200, 200, 0, 0)
    assert "max-events" in report.stopped_by

    results = _read(kafka, f"{topic}.scores", 200)
    assert sorted(results) == sorted(f"user-{e['id']}" for e in events)
    assert all(len(copies) == 1 for copies in results.values())
    rows = pd.DataFrame(events)[list(model.schema.features)]
    uplift, lower, upper = model.effect_with_interval(rows)
    classes = score_batch(model, rows)["class"]
    for i, event in enumerate(events):
        result = results[f"user-{event['id']}"][0]
        assert result["id"] == event["id"] and result["model"] == model.name
        assert result["uplift"] == pytest.approx(uplift[i], rel=0, abs=1e-12)
        assert result["uplift_lower"] == pytest.approx(lower[i], rel=0, abs=1e-12)
        assert result["uplift_upper"] == pytest.approx(upper[i], rel=0, abs=1e-12)
        assert result["class"] == classes[i]

    log = read_score_log(tmp_path / "scores.sqlite")
    assert log.totals() == {"scored": 200, "dead_letters": 0, "duplicates": 0}
    logged = log.recent(200).set_index("key").loc[[f"user-{e['id']}" for e in events]]
    np.testing.assert_allclose(logged["uplift"], uplift, rtol=0, atol=1e-15)
    assert (logged["latency_ms"] > 0).all()


def test_events_read_again_are_counted_as_duplicates(kafka, two_arm_model, tmp_path):
    """A second group reads the same events into the same log: a replay, as after a crash."""
    topic = _name("events")
    _produce(
        kafka, topic, [(str(e["id"]), json.dumps(e).encode()) for e in _events(two_arm_model, 50, seed=1)]
    )
    first = _run(two_arm_model, tmp_path / "scores.sqlite", kafka, topic, max_events=50)
    again = _run(two_arm_model, tmp_path / "scores.sqlite", kafka, topic, max_events=50)
    assert (first.scored, first.duplicates, again.scored, again.duplicates) == (50, 0, 50, 50)
    assert read_score_log(tmp_path / "scores.sqlite").totals() == {
        "scored": 50,
        "dead_letters": 0,
        "duplicates": 50,
    }


# Malformed events, each with a word its dead letter's reason must hold; None: a tombstone.
BAD_EVENTS = {
    "not-json": (b'{"device": "mobile", ', "not valid JSON"),
    # Seen: bytes that are not UTF-8 came back in the letter as U+FFFD, the event lost.
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not valid JSON"),
    "not-an-object": (b"[0.4, 3]", "is an array, not a JSON object"),
    "tombstone": (None, "no value"),
    "missing-feature": ({"drop": "intent"}, "lacks the feature 'intent'"),
    "text-for-a-number": ({"engagement": "lots"}, "'engagement' should hold numbers.*'lots'"),
    "unseen-category": ({"device": "smart-fridge"}, "'device' holds 'smart-fridge'.*never saw"),
    # Seen: Python's JSON reader took NaN and Infinity, and the event was scored (uplift ±inf, or
    # NaN read as the training median).
    "not-a-number": ({"engagement": float("nan")}, "holds NaN, which is not a number JSON allows"),
    "infinite": ({"engagement": float("inf")}, "holds Infinity, which is not a number JSON allows"),
}


@pytest.fixture(scope="module")
def mixed_run(kafka, multi_arm_model, tmp_path_factory):
    """40 good events of the multi-arm model with the `BAD_EVENTS` among them, scored once."""
    model = multi_arm_model
    good = _events(model, 40, seed=2)
    messages = [(f"good-{e['id']}", json.dumps(e).encode()) for e in good]
    for k, (key, (bad, _)) in enumerate(BAD_EVENTS.items()):
        if isinstance(bad, dict):
            event = {n: v for n, v in {**good[k], **bad}.items() if n != bad.get("drop") and n != "drop"}
            bad = json.dumps(event).encode()
        messages.insert(5 * k + 3, (key, bad))
    topic = _name("channels")
    _produce(kafka, topic, messages)
    log_path = tmp_path_factory.mktemp("mixed") / "scores.sqlite"
    report = _run(model, log_path, kafka, topic, max_events=len(messages), batch=1_000)
    return {
        "report": report,
        "good": good,
        "results": _read(kafka, f"{topic}.scores", len(good)),
        "dead": _read(kafka, f"{topic}.dead-letter", len(BAD_EVENTS)),
        "log": read_score_log(log_path),
        "topic": topic,
    }


@pytest.mark.parametrize("key", list(BAD_EVENTS))
def test_a_malformed_event_reaches_the_dead_letter_topic_with_the_reason(mixed_run, key):
    letters = mixed_run["dead"][key]
    assert len(letters) == 1
    letter = letters[0]
    assert re.search(BAD_EVENTS[key][1], letter["reason"]), letter["reason"]
    assert letter["topic"] == mixed_run["topic"] and letter["offset"] >= 0
    payload = BAD_EVENTS[key][0]
    if payload is None:
        assert letter["payload"] is None
    elif isinstance(payload, bytes):
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            assert base64.b64decode(letter["payload_base64"]) == payload and "payload" not in letter
        else:
            assert letter["payload"] == text
    logged = mixed_run["log"].recent_dead_letters(50).set_index("key")
    assert logged.loc[key, "reason"] == letter["reason"]


def test_the_good_events_around_bad_ones_are_all_scored(mixed_run):
    report, good = mixed_run["report"], mixed_run["good"]
    assert (report.scored, report.dead_letters) == (len(good), len(BAD_EVENTS))
    assert sorted(mixed_run["results"]) == sorted(f"good-{e['id']}" for e in good)
    assert mixed_run["log"].totals() == {
        "scored": len(good),
        "dead_letters": len(BAD_EVENTS),
        "duplicates": 0,
    }


def test_an_event_the_model_refuses_when_scoring_is_set_apart_not_fatal(
    kafka, two_arm_model, tmp_path, monkeypatch
):
    """Seen: an error from scoring itself (a category the checks passed but the encoder never
    saw) stopped the scorer, and every restart stopped on the same batch. Also seen: one event
    without an id turned every id of its batch into a float."""
    model = two_arm_model
    events = _events(model, 6, seed=4)
    marked = 2
    refuse_at = float(events[marked][model.schema.features[0]]) + 0.123456789
    events[marked][model.schema.features[0]] = refuse_at
    del events[4]["id"]
    events[0]["id"] = 12345678901234567
    real = stream.score_events

    def refusing(model_, features, thresholds):
        if (features[model.schema.features[0]] == refuse_at).any():
            raise ImpactIQError("the model refused this event")
        return real(model_, features, thresholds)

    monkeypatch.setattr(stream, "score_events", refusing)
    topic = _name("refused")
    _produce(kafka, topic, [(f"user-{k}", json.dumps(e).encode()) for k, e in enumerate(events)])
    report = _run(model, tmp_path / "scores.sqlite", kafka, topic, max_events=len(events), batch=100)
    assert (report.scored, report.dead_letters) == (len(events) - 1, 1)
    dead = _read(kafka, f"{topic}.dead-letter", 1)
    assert (
        list(dead) == [f"user-{marked}"]
        and dead[f"user-{marked}"][0]["reason"] == "the model refused this event"
    )
    results = _read(kafka, f"{topic}.scores", len(events) - 1)
    assert results["user-0"][0]["id"] == 12345678901234567
    assert results["user-1"][0]["id"] == events[1]["id"] and isinstance(results["user-1"][0]["id"], int)
    assert results["user-4"][0]["id"] is None


def test_a_multi_arm_models_events_get_their_best_arm(mixed_run, multi_arm_model):
    good = mixed_run["good"]
    expected = score_rows(multi_arm_model, pd.DataFrame(good)[list(multi_arm_model.schema.features)])
    for i, event in enumerate(good):
        result = mixed_run["results"][f"good-{event['id']}"][0]
        assert result["best_arm"] == expected["best_arm"][i]
        for arm in multi_arm_model.arms:
            assert result[f"uplift_{arm}"] == pytest.approx(expected[f"uplift_{arm}"][i], rel=0, abs=1e-12)
        assert "class" not in result
    logged = mixed_run["log"].recent(100).set_index("key")
    assert logged.loc["good-0", "best_arm"] == expected["best_arm"][0]
    assert set(json.loads(logged.loc["good-0", "arms"])) == {
        f"uplift_{arm}{part}" for arm in multi_arm_model.arms for part in ("", "_lower", "_upper")
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--kafka", "127.0.0.1:{port}", "--connect-timeout", "1"], "Could not reach Kafka at 127.0.0.1"),
        (["--kafka", "{kafka}", "--in", "no-such-topic"], "The topic 'no-such-topic' does not exist"),
        (["--model", "{tmp}/no-model"], "no-model"),
        (["--kafka-config", "enable.auto.commit=true"], "cannot set 'enable.auto.commit'"),
        (["--kafka-config", "linger.ms"], "takes KEY=VALUE"),
        (["--out", "events"], "must differ"),
        (["--batch", "0"], "--batch must be a positive number"),
    ],
)
def test_command_line_mistakes_cost_one_line(kafka, two_arm_model, tmp_path, capsys, arguments, message):
    values = {"port": free_port(), "kafka": kafka, "tmp": tmp_path}
    given = dict(zip(arguments[::2], [a.format(**values) for a in arguments[1::2]], strict=True))
    options = {
        "--model": str(two_arm_model.path),
        "--kafka": kafka,
        "--in": "events",
        "--out": "scores",
        "--log": str(tmp_path / "scores.sqlite"),
        **given,
    }
    argv = ["stream", *(part for pair in options.items() for part in pair)]
    assert cli.main(argv) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err


@pytest.mark.slow
def test_a_scorer_killed_and_restarted_loses_no_event(kafka, two_arm_model, tmp_path):
    """kill -9 in mid-stream, restart: every event is in the log, replays counted as duplicates."""
    topic, n = _name("events"), 5_000
    events = _events(two_arm_model, n, seed=4)
    _produce(kafka, topic, [(f"user-{e['id']}", json.dumps(e).encode()) for e in events])
    log_path = tmp_path / "scores.sqlite"
    command = [
        sys.executable,
        "-m",
        "impactiq",
        "stream",
        *("--model", str(two_arm_model.path), "--kafka", kafka, "--in", topic, "--out", f"{topic}.scores"),
        *("--log", str(log_path), "--batch", "50", "--group", _name("scorer")),
        # The classic group protocol, whose session timeout the client sets: the killed member is
        # dropped after 6 s and the restarted scorer takes over its partitions.
        *("--kafka-config", "consumer.session.timeout.ms=6000"),
    ]
    first = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = None
    try:
        _wait_for_log(log_path, lambda scored: scored > 0, first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        scored_at_kill = read_score_log(log_path).totals()["scored"]
        assert 0 < scored_at_kill < n, "the scorer finished before it could be killed in mid-stream"

        second = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        _wait_for_log(log_path, lambda scored: scored == n, second, timeout=120)
        second.send_signal(signal.SIGTERM)
        out, err = second.communicate(timeout=60)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert second.returncode == 0, err
    log = read_score_log(log_path)
    totals = log.totals()
    assert totals["scored"] == n
    assert set(log.recent(n)["key"]) == {f"user-{e['id']}" for e in events}
    assert f"{totals['duplicates']:,} duplicates" in out and "stopped on SIGTERM" in out
    results = _read(kafka, f"{topic}.scores", n)
    assert set(results) == {f"user-{e['id']}" for e in events}


def _wait_for_log(path: Path, done, process, timeout: float = 90.0) -> int:
    """Poll the score log until `done(scored)`; fail if the scorer exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = read_score_log(path)
        if log is not None:
            scored = log.totals()["scored"]
            log.close()
            if done(scored):
                return scored
        if process.poll() is not None:
            pytest.fail(f"the scorer exited early: {process.communicate()[1][-2000:]}")
        time.sleep(0.02)
    pytest.fail(f"the score log did not reach the expected count within {timeout:g} s")


def test_a_scorer_that_dies_before_its_commit_leaves_the_batch_to_be_read_again(
    kafka, two_arm_model, tmp_path, monkeypatch
):
    """Killed after writing the log, before Kafka confirmed and the commit: a restart reads it all again."""
    topic, group = _name("events"), _name("scorer")
    events = _events(two_arm_model, 30, seed=5)
    _produce(kafka, topic, [(str(e["id"]), json.dumps(e).encode()) for e in events])
    log_path = tmp_path / "scores.sqlite"

    def die(producer, failures):
        raise KeyboardInterrupt("killed before the commit")

    with monkeypatch.context() as patched:
        patched.setattr(stream, "_flush", die)
        with pytest.raises(KeyboardInterrupt):
            _run(two_arm_model, log_path, kafka, topic, group=group, max_events=30)
    logged = read_score_log(log_path).totals()["scored"]  # the first batch: as many as one poll gave
    assert 0 < logged <= 30
    again = _run(two_arm_model, log_path, kafka, topic, group=group, max_events=30)
    assert (again.events, again.scored, again.duplicates) == (30, 30, logged)
    assert read_score_log(log_path).totals() == {"scored": 30, "dead_letters": 0, "duplicates": logged}


class _Producer:
    """A producer whose messages all reached Kafka, or `left` of them did not."""

    def __init__(self, left: int = 0):
        self.left = left

    def flush(self, timeout):
        return self.left


@pytest.mark.parametrize(
    ("failures", "left", "message"),
    [
        (["topic 'scores': Broker: Topic authorization failed"], 0, "Kafka refused 1 result.*authorization"),
        ([], 3, "3 result.*not delivered"),
    ],
)
def test_output_kafka_did_not_take_stops_the_scorer_before_its_commit(failures, left, message):
    with pytest.raises(ImpactIQError, match=message):
        stream._flush(_Producer(left), failures)


def test_an_idle_stream_stops_after_idle_exit(kafka, two_arm_model, tmp_path):
    topic = _name("quiet")
    _produce(kafka, topic, [("only", json.dumps(_events(two_arm_model, 1, seed=6)[0]).encode())])
    report = _run(two_arm_model, tmp_path / "scores.sqlite", kafka, topic, idle_exit=2.0)
    assert report.events == 1 and "idle for 2 s" in report.stopped_by


def test_a_dead_letters_payload_is_kept_as_sent_and_never_too_large_for_kafka():
    """Seen: a 200 KB binary event became a 1.2 MB letter (each byte a \\ufffd escape), over
    Kafka's default message size, and the scorer stopped on it at every restart."""
    binary = bytes(range(256)) * 800
    letter = stream._payload(binary)
    assert base64.b64decode(letter["payload_base64"]) == binary and "payload_truncated" not in letter
    huge = ("é" * 400_000).encode()  # 800,000 bytes of text, cut inside a character
    letter = stream._payload(huge)
    assert letter["payload_truncated"] and letter["payload_bytes"] == len(huge)
    assert (
        set(letter["payload"]) == {"é"} and len(letter["payload"].encode()) <= stream.MAX_LETTER_PAYLOAD_BYTES
    )
    encoded = json.dumps({"reason": "x", **stream._payload(bytes(range(256)) * 4_000)}, ensure_ascii=False)
    assert len(encoded.encode()) < 1_000_000
    assert stream._payload(None) == {"payload": None}
