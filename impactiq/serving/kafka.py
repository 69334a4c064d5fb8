"""Kafka clients for the stream scorer, and librdkafka's in-process mock cluster.

The scorer's consumer never commits on its own (`enable.auto.commit` is off): the scorer
commits a batch's offsets after its results are written, which is what makes delivery
at-least-once. Settings that would undo that, or that have flags of their own, cannot be
overridden with `--kafka-config`; everything else (security, timeouts, the group protocol)
passes through to librdkafka, to both clients or, prefixed `consumer.` or `producer.`, to one.
Secrets belong in $IMPACTIQ_KAFKA_CONFIG rather than on the command line, where any user of
the machine can read them (`ps`).

`mock_cluster` starts librdkafka's mock cluster, which speaks the Kafka protocol on localhost
for as long as the client that created it lives: tests and the benchmark run real clients
against it, in this process and in others, with no broker installed.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka import KafkaException, Producer

from impactiq.errors import ImpactIQError

# Settings the scorer owns, and where the user sets them instead.
RESERVED = {
    "bootstrap.servers": "it is --kafka",
    "group.id": "it is --group",
    "enable.auto.commit": "the scorer commits after writing, which makes delivery at-least-once",
    "enable.auto.offset.store": "the scorer commits the offsets of each written batch itself",
}
CLIENTS = ("consumer", "producer")
# KEY=VALUE pairs like --kafka-config's, separated by spaces (shell quoting allowed), read first.
KAFKA_CONFIG_ENV = "IMPACTIQ_KAFKA_CONFIG"
# librdkafka logs at syslog levels; 4 keeps warnings and errors and drops the mock cluster's notices.
QUIET_LOG_LEVEL = 4


def environment_pairs() -> list[str]:
    """The KEY=VALUE pairs in $IMPACTIQ_KAFKA_CONFIG (none when unset)."""
    text = os.environ.get(KAFKA_CONFIG_ENV, "")
    try:
        return shlex.split(text)
    except ValueError as error:
        raise ImpactIQError(f"${KAFKA_CONFIG_ENV} cannot be read as KEY=VALUE pairs: {error}.") from error


def parse_kafka_config(pairs: list[str]) -> dict[str, dict[str, str]]:
    """`--kafka-config` pairs as settings per client: {"consumer": {...}, "producer": {...}}.

    KEY=VALUE goes to both clients, consumer.KEY=VALUE or producer.KEY=VALUE to one (no
    librdkafka setting starts with those words). Keys in `RESERVED` are refused.
    """
    settings: dict[str, dict[str, str]] = {client: {} for client in CLIENTS}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ImpactIQError(
                f"--kafka-config takes KEY=VALUE, e.g. security.protocol=SASL_SSL or "
                f"consumer.session.timeout.ms=10000; got '{pair}'."
            )
        client, dot, rest = key.partition(".")
        targets = [client] if client in CLIENTS and dot else list(CLIENTS)
        key = rest if client in CLIENTS and dot else key
        if key in RESERVED:
            raise ImpactIQError(f"--kafka-config cannot set '{key}': {RESERVED[key]}.")
        for target in targets:
            settings[target][key] = value
    return settings


def consumer_config(bootstrap: str, group: str, extra: dict[str, str] | None = None) -> dict:
    """The scorer's consumer: reads from the earliest uncommitted event and never commits by itself."""
    return {
        "auto.offset.reset": "earliest",
        **(extra or {}),
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
    }


def producer_config(bootstrap: str, extra: dict[str, str] | None = None) -> dict:
    """The scorer's producer of results and dead letters."""
    return {**(extra or {}), "bootstrap.servers": bootstrap}


def check_topic(client, bootstrap: str, topic: str, timeout: float) -> None:
    """Refuse an unreachable cluster or a missing topic before the scorer joins its group.

    Kafka clients retry an unreachable broker for ever; a scorer started with a wrong address
    should say so instead of waiting in silence.
    """
    try:
        metadata = client.list_topics(timeout=timeout)
    except KafkaException as error:
        raise ImpactIQError(
            f"Could not reach Kafka at {bootstrap} within {timeout:g} s ({error.args[0].str()}). "
            "Check --kafka and that the brokers are up."
        ) from error
    found = metadata.topics.get(topic)
    if found is None or found.error is not None:
        known = sorted(t for t in metadata.topics if not t.startswith("__"))
        shown = ", ".join(map(repr, known[:10])) or "none"
        raise ImpactIQError(
            f"The topic '{topic}' does not exist on {bootstrap} (topics there: {shown}). "
            "Create it, or check --in."
        )


@contextmanager
def mock_cluster(*, topics: tuple[str, ...] = (), brokers: int = 1) -> Iterator[str]:
    """librdkafka's mock Kafka cluster while the context is open; yields its bootstrap address.

    `topics` are created first (with the mock's default of 4 partitions); others are created
    when first produced to. Clients in other processes reach it at the address it yields.
    """
    holder = Producer({"test.mock.num.brokers": brokers, "log_level": QUIET_LOG_LEVEL})
    try:
        metadata = holder.list_topics(timeout=10)
        bootstrap = ",".join(f"{b.host}:{b.port}" for b in metadata.brokers.values())
        for topic in topics:
            holder.list_topics(topic=topic, timeout=10)
        yield bootstrap
    finally:
        holder.flush(0)
        del holder
