"""The stream scorer: Kafka events in, scores out, offsets committed only after writing.

    python -m impactiq stream --model models/demo --kafka localhost:9092 --in events --out scores

Each micro-batch goes: consume up to `batch` events; decode and check each, a bad one becoming
a dead letter with its reason (`events`); score the good ones together; produce one result per
event to the output topic and each dead letter to the dead-letter topic; write the batch to
the score log; wait until Kafka holds every produced message; and only then commit the batch's
offsets. A scorer killed anywhere before the commit reads the batch again when restarted, so no
event is lost, and the log counts the events it had already stored as duplicates: delivery is
at-least-once, for the output topic as for the log. SIGTERM and SIGINT finish the batch in hand,
commit it and leave the consumer group.
"""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat

import pandas as pd
from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)

from impactiq.decisions.persuadability import default_thresholds
from impactiq.errors import ImpactIQError
from impactiq.serving.events import ID_FIELD, check_events, decode_event, per_arm_fields, score_events
from impactiq.serving.kafka import check_topic, consumer_config, producer_config
from impactiq.serving.scorelog import MAX_PAYLOAD_CHARS, ScoreLog

# A dead letter keeps at most this much of its event: with the letter's other fields it stays
# under librdkafka's default message.max.bytes (1,000,000), even in base64 (4/3 the size).
MAX_LETTER_PAYLOAD_BYTES = 512 * 1024

# Events per micro-batch: large enough that per-batch costs (a commit, a log transaction, the
# model's call overhead) vanish at 20k events/s, small enough to keep latency near 0.1-0.3 s.
BATCH_EVENTS = 5_000
# How long one poll waits for a batch to fill; bounds the latency an idle-ish stream adds.
POLL_SECONDS = 0.02
# How long to wait for the cluster's metadata at start, and for Kafka to take a batch's output.
CONNECT_TIMEOUT_SECONDS = 10.0
FLUSH_TIMEOUT_SECONDS = 30.0
# A progress line on stderr at most this often.
PROGRESS_SECONDS = 5.0
# Holdout rows scored before joining the group, so that compiling the tree walk is not paid by
# the first events' latency.
WARM_UP_ROWS = 16
DEAD_LETTER_SUFFIX = ".dead-letter"


@dataclass(frozen=True)
class StreamSettings:
    """Where a scorer reads and writes, and when it stops.

    `dead_letter` defaults to `<topic_in>.dead-letter` and `group` to `impactiq-<model name>`.
    The scorer stops after `max_events` events (scored or dead), after `idle_exit` seconds
    without an event (counted from the start too, so allow a few seconds to join the group),
    or on SIGTERM/SIGINT. `kafka_config` holds extra librdkafka settings per client
    (`kafka.parse_kafka_config`).
    """

    kafka: str
    topic_in: str
    topic_out: str
    dead_letter: str | None = None
    group: str | None = None
    batch: int = BATCH_EVENTS
    max_events: int | None = None
    idle_exit: float | None = None
    kafka_config: dict[str, dict[str, str]] = field(default_factory=dict)
    poll_seconds: float = POLL_SECONDS
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not self.kafka.strip():
            raise ImpactIQError("--kafka needs the brokers' address, e.g. localhost:9092.")
        for flag, topic in (("--in", self.topic_in), ("--out", self.topic_out)):
            if not topic.strip():
                raise ImpactIQError(f"{flag} needs a topic name.")
        if self.topic_out in (self.topic_in, self.dead_letter_topic):
            raise ImpactIQError(
                f"--out '{self.topic_out}' must differ from the input and dead-letter topics, or results "
                "would be read back as events."
            )
        if self.dead_letter_topic == self.topic_in:
            raise ImpactIQError(
                "--dead-letter must differ from --in, or a bad event would come back forever."
            )
        for flag, value in (("--batch", self.batch), ("--max-events", self.max_events)):
            if value is not None and value < 1:
                raise ImpactIQError(f"{flag} must be a positive number of events; got {value}.")
        if self.idle_exit is not None and not self.idle_exit > 0:
            raise ImpactIQError(f"--idle-exit must be a positive number of seconds; got {self.idle_exit}.")

    @property
    def dead_letter_topic(self) -> str:
        return self.dead_letter or f"{self.topic_in}{DEAD_LETTER_SUFFIX}"

    def group_id(self, model) -> str:
        return self.group or f"impactiq-{model.name}"


@dataclass
class StreamReport:
    """What a scorer did: events read, scored, sent to the dead-letter topic, and replays the
    log already held (duplicates), in `seconds`; `stopped_by` says why it stopped."""

    events: int = 0
    scored: int = 0
    dead_letters: int = 0
    duplicates: int = 0
    batches: int = 0
    seconds: float = 0.0
    stopped_by: str = ""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def run_stream(
    model, log: ScoreLog, settings: StreamSettings, *, on_progress: Callable[[str], None] | None = None
) -> StreamReport:
    """Score events from Kafka until a stop condition of `settings`; return what was done.

    `model` is a `SavedModel` (two arms or several); `on_progress` receives progress lines and
    warnings (a commit that failed, to be retried by the next batch's commit). Raises
    ImpactIQError when the cluster cannot be reached, the input topic does not exist, or Kafka
    refuses the output (nothing of that batch is committed, so a restart scores it again).
    """
    say = on_progress or (lambda line: None)
    thresholds = None if model.arms else default_thresholds(model.holdout)
    _warm_up(model, thresholds)
    failures: list[str] = []
    consumer, producer = _clients(model, settings, failures)
    scorer = _BatchScorer(model, log, settings, producer, consumer, thresholds, failures, say)
    report = scorer.report
    started = last_event = last_progress = time.monotonic()
    try:
        check_topic(consumer, settings.kafka, settings.topic_in, settings.connect_timeout)
        consumer.subscribe([settings.topic_in])
        with _stop_on_signals() as stop:
            while not stop:
                wanted = settings.batch
                if settings.max_events is not None:
                    wanted = min(wanted, settings.max_events - report.events)
                messages = _events_only(_consume(consumer, wanted, settings.poll_seconds), say)
                now = time.monotonic()
                if messages:
                    scorer.process(messages)
                    last_event = now
                if settings.max_events is not None and report.events >= settings.max_events:
                    stop.append(f"after {report.events:,} events (--max-events)")
                elif settings.idle_exit is not None and now - last_event >= settings.idle_exit:
                    stop.append(f"idle for {settings.idle_exit:g} s (--idle-exit)")
                if now - last_progress >= PROGRESS_SECONDS:
                    say(_progress_line(report, now - started))
                    last_progress = now
            report.stopped_by = stop[0]
    finally:
        report.seconds = time.monotonic() - started
        consumer.close()
        producer.flush(FLUSH_TIMEOUT_SECONDS)
    return report


class _BatchScorer:
    """One micro-batch at a time: check, score, produce, log, flush, commit."""

    def __init__(self, model, log, settings, producer, consumer, thresholds, failures, say):
        self.model = model
        self.log = log
        self.settings = settings
        self.producer = producer
        self.consumer = consumer
        self.thresholds = thresholds
        self.failures = failures
        self.say = say
        self.report = StreamReport()
        self.per_arm = per_arm_fields(model)

    def process(self, messages: list) -> None:
        """Score one batch end to end; its offsets are committed last, after Kafka confirmed the
        output and the log holds it, so a crash anywhere before leaves the batch to be read again."""
        good, ids, features, dead = self._split(messages)
        if good:
            good, ids, scores, refused = self._score(good, ids, features)
            dead += refused
        scored_at = time.time()
        rows = self._produce_results(good, ids, scores, scored_at) if good else []
        dead_rows = self._produce_dead_letters(dead, scored_at)
        _, duplicates = self.log.write(rows, dead_rows)
        _flush(self.producer, self.failures)
        self._commit(messages)
        self.report.events += len(messages)
        self.report.scored += len(rows)
        self.report.dead_letters += len(dead_rows)
        self.report.duplicates += duplicates
        self.report.batches += 1

    def _score(self, good: list, ids: list, features: pd.DataFrame) -> tuple[list, list, pd.DataFrame, list]:
        """The checked events' scores. Should the model still refuse one (a check it passed did not
        foresee what scoring needs), the batch is scored event by event and the refused ones go to
        the dead-letter topic with the reason, rather than stop the stream on every restart."""
        try:
            return good, ids, score_events(self.model, features, self.thresholds), []
        except ImpactIQError:
            pass
        kept, kept_ids, parts, refused = [], [], [], []
        for k, message in enumerate(good):
            try:
                parts.append(
                    score_events(self.model, features.iloc[[k]].reset_index(drop=True), self.thresholds)
                )
            except ImpactIQError as error:
                refused.append((message, str(error)))
            else:
                kept.append(message)
                kept_ids.append(ids[k])
        scores = pd.concat(parts, ignore_index=True) if parts else None
        return kept, kept_ids, scores, refused

    def _split(self, messages: list) -> tuple[list, list, pd.DataFrame, list[tuple]]:
        """The messages that can be scored (with their events' ids and features), and the others
        with the reason, in the order they came."""
        events, positions, dead = [], [], {}
        for i, message in enumerate(messages):
            try:
                events.append(decode_event(message.value()))
                positions.append(i)
            except ImpactIQError as error:
                dead[i] = str(error)
        features, good, problems = check_events(self.model, events)
        dead.update({positions[k]: reason for k, reason in problems.items()})
        scorable = [messages[positions[k]] for k in good]
        ids = [events[k].get(ID_FIELD) for k in good]
        return scorable, ids, features, [(messages[i], reason) for i, reason in sorted(dead.items())]

    def _produce_results(
        self, messages: list, ids: list, scores: pd.DataFrame, scored_at: float
    ) -> list[tuple]:
        """Produce one JSON result per scored event; return the events' score-log rows."""
        keys = [m.key() for m in messages]
        texts = [_text(k) for k in keys]
        results = pd.concat(
            # Object dtype: one event without an id must not turn every id into a float.
            [
                pd.DataFrame({"key": texts, "id": pd.Series(ids, dtype=object), "model": self.model.name}),
                scores,
            ],
            axis=1,
        )
        for key, line in zip(keys, _json_lines(results), strict=True):
            _produce(self.producer, self.settings.topic_out, line, key)
        self.producer.poll(0)
        if self.model.arms:
            classes, best, arms = repeat(None), scores["best_arm"].tolist(), _json_lines(scores[self.per_arm])
        else:
            classes, best, arms = scores["class"].tolist(), repeat(None), repeat(None)
        return list(
            zip(
                [m.topic() for m in messages],
                [m.partition() for m in messages],
                [m.offset() for m in messages],
                texts,
                [None if i is None else i if isinstance(i, str) else json.dumps(i) for i in ids],
                repeat(self.model.name),
                [_produced_at(m) for m in messages],
                repeat(scored_at),
                scores["uplift"].tolist(),
                scores["uplift_lower"].tolist(),
                scores["uplift_upper"].tolist(),
                classes,
                best,
                arms,
            )
        )

    def _produce_dead_letters(self, dead: list[tuple], at: float) -> list[tuple]:
        """Produce each bad event to the dead-letter topic with its reason; return their log rows.

        The letter is JSON. Its payload is the event as sent: as text when it is UTF-8, else in
        base64 (`payload_base64`), so a binary event can be recovered byte for byte; beyond
        `MAX_LETTER_PAYLOAD_BYTES` only its start is kept (`payload_truncated`, `payload_bytes`),
        so a huge bad event cannot make the letter too large for Kafka and stop the scorer: the
        whole event stays in its own topic at the offset the letter gives."""
        rows = []
        for message, reason in dead:
            key = _text(message.key())
            letter = {
                "reason": reason,
                "topic": message.topic(),
                "partition": message.partition(),
                "offset": message.offset(),
                "key": key,
                **_payload(message.value()),
            }
            _produce(
                self.producer,
                self.settings.dead_letter_topic,
                json.dumps(letter, ensure_ascii=False),
                message.key(),
            )
            shown = letter.get("payload", letter.get("payload_base64"))
            short = None if shown is None else shown[:MAX_PAYLOAD_CHARS]
            rows.append(
                (
                    message.topic(),
                    message.partition(),
                    message.offset(),
                    key,
                    reason,
                    short,
                    at,
                    self.model.name,
                )
            )
        return rows

    def _commit(self, messages: list) -> None:
        """Commit the next offset after the batch's last event, per partition."""
        last: dict[tuple[str, int], int] = {}
        for message in messages:
            where = (message.topic(), message.partition())
            last[where] = max(last.get(where, -1), message.offset())
        offsets = [
            TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()
        ]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as error:
            # A rebalance moved the partitions: their new owner reads the batch again (duplicates, not losses).
            self.say(
                f"warning: could not commit offsets ({error.args[0].str()}); those events will be read again."
            )


def _clients(model, settings: StreamSettings, failures: list[str]) -> tuple[Consumer, Producer]:
    def delivered(error, message) -> None:
        if error is not None:
            failures.append(f"topic '{message.topic()}': {error.str()}")

    extra = settings.kafka_config
    try:
        consumer = Consumer(consumer_config(settings.kafka, settings.group_id(model), extra.get("consumer")))
        producer = Producer(
            {
                **producer_config(settings.kafka, extra.get("producer")),
                "on_delivery": delivered,
                "delivery.report.only.error": True,
            }
        )
    except KafkaException as error:
        raise ImpactIQError(
            f"Kafka refused the client settings: {error.args[0].str()}. Check --kafka-config."
        ) from error
    return consumer, producer


def _flush(producer: Producer, failures: list[str]) -> None:
    """Wait until Kafka holds a batch's output; refuse to go on (and commit) otherwise."""
    remaining = producer.flush(FLUSH_TIMEOUT_SECONDS)
    if failures:
        raise ImpactIQError(
            f"Kafka refused {len(failures):,} result(s) or dead letter(s) ({failures[0]}). The batch was "
            "not committed, so a restarted scorer scores it again; check the output topics exist."
        )
    if remaining:
        raise ImpactIQError(
            f"{remaining:,} result(s) were not delivered within {FLUSH_TIMEOUT_SECONDS:g} s. The batch "
            "was not committed, so a restarted scorer scores it again; check the brokers."
        )


def _consume(consumer: Consumer, wanted: int, seconds: float) -> list:
    try:
        return consumer.consume(num_messages=wanted, timeout=seconds)
    except KafkaException as error:  # a fatal error of the client: it cannot go on
        raise ImpactIQError(f"Kafka stopped the consumer: {error.args[0].str()}.") from error


def _events_only(messages: list, say: Callable[[str], None]) -> list:
    """The messages that are events; a missing topic or a fatal error stops the scorer."""
    events = []
    for message in messages:
        error = message.error()
        if error is None:
            events.append(message)
        elif error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
            raise ImpactIQError(f"The input topic is gone: {error.str()}.")
        elif error.fatal():
            raise ImpactIQError(f"Kafka reported a fatal error: {error.str()}.")
        elif error.code() != KafkaError._PARTITION_EOF:
            say(f"warning: {error.str()}")
    return events


@contextmanager
def _stop_on_signals() -> Iterator[list[str]]:
    """A list that SIGTERM or SIGINT append a reason to, so the loop ends after its batch."""
    stop: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def request(number, frame) -> None:
        stop.append(f"on {signal.Signals(number).name}")

    previous = {number: signal.signal(number, request) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _warm_up(model, thresholds) -> None:
    sample = model.holdout.head(WARM_UP_ROWS)
    score_events(model, model.features(sample), thresholds)


def _produce(producer: Producer, topic: str, value: str, key: bytes | None) -> None:
    """Produce one message, waiting for room when the client's queue is full."""
    while True:
        try:
            producer.produce(topic, value=value, key=key)
            return
        except BufferError:
            producer.poll(0.1)
        except KafkaException as error:  # refused at once: too large, or an invalid topic
            raise ImpactIQError(
                f"Kafka refused a message for topic '{topic}' ({error.args[0].str()}). The batch was not "
                "committed, so a restarted scorer scores it again."
            ) from error


def _json_lines(frame: pd.DataFrame) -> list[str]:
    """One JSON object per row; 15 decimals keep scores equal to the model's within 1e-15."""
    return frame.to_json(orient="records", lines=True, double_precision=15).splitlines()


def _payload(value: bytes | None) -> dict:
    """A dead letter's payload fields for the event bytes `value` (see `_produce_dead_letters`)."""
    if value is None:
        return {"payload": None}
    kept = value[:MAX_LETTER_PAYLOAD_BYTES]
    fields: dict = {}
    try:
        fields["payload"] = kept.decode("utf-8")
    except UnicodeDecodeError as error:
        # Text cut inside a character is still text; anything else is binary.
        if len(kept) < len(value) and error.start >= len(kept) - 3:
            fields["payload"] = kept[: error.start].decode("utf-8")
        else:
            fields["payload_base64"] = base64.b64encode(kept).decode("ascii")
    if len(kept) < len(value):
        fields.update(payload_truncated=True, payload_bytes=len(value))
    return fields


def _text(key: bytes | None) -> str | None:
    return None if key is None else key.decode("utf-8", errors="replace")


def _produced_at(message) -> float | None:
    kind, milliseconds = message.timestamp()
    return None if kind == TIMESTAMP_NOT_AVAILABLE else milliseconds / 1000


def _progress_line(report: StreamReport, seconds: float) -> str:
    return (
        f"{report.events:,} events in {seconds:,.0f} s ({report.events / max(seconds, 1e-9):,.0f}/s): "
        f"{report.scored:,} scored, {report.dead_letters:,} dead letters, {report.duplicates:,} duplicates"
    )
