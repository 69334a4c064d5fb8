"""The serving layer: scoring events as they arrive, and the log of what was scored.

A scorer reads user events from a Kafka topic, scores them in micro-batches with a saved model
and writes one result per event to an output topic and to the score log (`stream`). Events
that cannot be scored go to a dead-letter topic with the reason (`events`). The score log is an
embedded SQLite database that the app's Stream page reads while a scorer writes it
(`scorelog`); `kafka` holds the client settings and librdkafka's in-process mock cluster that
tests and benchmarks run against. The layer sits above `journeys` and below `present`: it
scores with what `uplift` and `decisions` provide and imports nothing above it.
"""
