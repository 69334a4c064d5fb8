"""Tests of impactiq.serving.kafka: settings per client, the ones the scorer owns, and the mock cluster."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from impactiq.errors import ImpactIQError
from impactiq.serving.kafka import (
    KAFKA_CONFIG_ENV,
    check_topic,
    consumer_config,
    environment_pairs,
    mock_cluster,
    parse_kafka_config,
    producer_config,
)


def test_settings_go_to_both_clients_or_to_the_one_named():
    settings = parse_kafka_config(
        ["security.protocol=SASL_SSL", "consumer.session.timeout.ms=6000", "producer.linger.ms=20", "x.y=a=b"]
    )
    assert settings == {
        "consumer": {"security.protocol": "SASL_SSL", "session.timeout.ms": "6000", "x.y": "a=b"},
        "producer": {"security.protocol": "SASL_SSL", "linger.ms": "20", "x.y": "a=b"},
    }


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("enable.auto.commit=true", "at-least-once"),
        ("consumer.group.id=other", "it is --group"),
        ("bootstrap.servers=elsewhere:9092", "it is --kafka"),
        ("linger.ms", "takes KEY=VALUE"),
        ("=5", "takes KEY=VALUE"),
    ],
)
def test_settings_the_scorer_owns_or_malformed_pairs_are_refused(pair, message):
    with pytest.raises(ImpactIQError, match=message):
        parse_kafka_config([pair])


def test_the_consumer_never_commits_by_itself_whatever_it_is_given():
    config = consumer_config("b:9092", "g", {"auto.offset.reset": "latest", "fetch.wait.max.ms": "10"})
    assert config["enable.auto.commit"] is False and config["enable.auto.offset.store"] is False
    assert config["auto.offset.reset"] == "latest" and config["fetch.wait.max.ms"] == "10"
    assert consumer_config("b:9092", "g")["auto.offset.reset"] == "earliest"
    assert producer_config("b:9092", {"acks": "all"}) == {"acks": "all", "bootstrap.servers": "b:9092"}


def test_secrets_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(KAFKA_CONFIG_ENV, "sasl.username=scorer 'sasl.password=two words'")
    assert environment_pairs() == ["sasl.username=scorer", "sasl.password=two words"]
    monkeypatch.setenv(KAFKA_CONFIG_ENV, "sasl.password='unclosed")
    with pytest.raises(ImpactIQError, match=KAFKA_CONFIG_ENV):
        environment_pairs()
    monkeypatch.delenv(KAFKA_CONFIG_ENV)
    assert environment_pairs() == []


def test_the_mock_cluster_creates_topics_and_check_topic_finds_them():
    with mock_cluster(topics=("events",)) as bootstrap:
        client = Producer({"bootstrap.servers": bootstrap})
        check_topic(client, bootstrap, "events", timeout=10)
        with pytest.raises(ImpactIQError, match="'absent' does not exist.*'events'"):
            check_topic(client, bootstrap, "absent", timeout=10)
