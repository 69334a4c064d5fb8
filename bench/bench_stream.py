"""How fast `python -m impactiq stream` scores a Kafka stream, and how long an event waits.

Runs librdkafka's mock cluster in this process and the scorer as its own process, as in
production (`python -m impactiq stream`, default batch), on the demo model (`make setup` trains
it: the default causal forest, 12 numeric features; uplift, 95% interval and class per event).
Two measurements:

- throughput: --events events (holdout users, as JSON) are produced as fast as the backlog
  allows (at most `MAX_BACKLOG` waiting: the mock keeps only 5 MB per partition), so the scorer
  always has full batches. Events/s = the events after the first batch over the time from the
  first batch's score to the last (the group join and the model's warm-up are not counted);
- latency: a fresh scorer, already in its group, gets --rate events/s for --seconds seconds;
  p50/p99/max milliseconds from each event's Kafka timestamp (set when it is produced) to its
  score, read from the score log. Above the scorer's throughput the backlog grows, and so does
  latency; so when the target rate is above what the scorer sustains, a second run at half the
  measured throughput shows the latency of a scorer that keeps up.

Targets: >= 20,000 events/s on two cores; p99 latency reported at 20,000 events/s.

    .venv/bin/python bench/bench_stream.py [--events 200000] [--rate 20000] [--seconds 10] [--model models/demo]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confluent_kafka import Producer  # noqa: E402

from impactiq.serving.kafka import mock_cluster  # noqa: E402
from impactiq.serving.scorelog import read_score_log  # noqa: E402
from impactiq.uplift.store import load_model  # noqa: E402

OUT = ROOT / "bench" / "out"
# The mock cluster answers a fetch that found nothing only when fetch.wait.max.ms (500 ms by
# default) has passed, even if events arrived meanwhile; a real broker answers as soon as they
# do. A 10 ms wait keeps that artefact of the mock out of the latency.
SCORER_OPTIONS = ("--kafka-config", "consumer.fetch.wait.max.ms=10")
TARGETS = {"events_per_s": 20_000.0}
# The producer sends each tick's share of the rate, then sleeps to the next tick.
TICK_SECONDS = 0.01
# At most this many events wait in the input topic: the mock cluster keeps only 5 MB per partition
# (4 partitions), about 60,000 of these events, and drops the oldest beyond that.
MAX_BACKLOG = 40_000
WAIT_SECONDS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "demo", help="model folder")
    parser.add_argument("--events", type=int, default=200_000, help="events to drain (default 200k)")
    parser.add_argument("--rate", type=int, default=20_000, help="events/s in the latency run (default 20k)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each latency run (default 10)")
    args = parser.parse_args()
    if not (args.model / "metadata.json").is_file():
        sys.exit(f"no model at {args.model}: run `make setup` (or python -m impactiq demo-model) first")

    model = load_model(args.model)
    payloads = _payloads(model, max(args.events, int(args.rate * args.seconds)))
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "model": f"{model.name} ({model.estimator}, {len(model.schema.features)} features)",
    }
    topics = ("drain", "paced-target", "paced-sustained")
    with mock_cluster(topics=topics) as bootstrap, tempfile.TemporaryDirectory() as folder:
        run = functools.partial(_Run, bootstrap, args.model, Path(folder))
        results["throughput"] = _throughput(run("drain"), payloads[: args.events])
        sustained = int(results["throughput"]["events_per_s"] / 2)
        results["latency"] = [_latency(run("paced-target"), payloads, args.rate, args.seconds)]
        if sustained < args.rate:
            # Beside the target rate, one the scorer keeps up with: latency without a growing backlog.
            results["latency"].append(_latency(run("paced-sustained"), payloads, sustained, args.seconds))
    met = results["throughput"]["events_per_s"] >= TARGETS["events_per_s"]
    results["targets"] = {"events_per_s": {"target": TARGETS["events_per_s"], "met": met}}
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_stream.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


class _Run:
    """One scorer on one input topic, its own group and score log; `scored()` polls the log."""

    def __init__(self, bootstrap: str, model_path: Path, folder: Path, topic: str):
        self.bootstrap, self.model_path, self.topic = bootstrap, model_path, topic
        self.log_path = folder / f"{topic}.sqlite"
        self.producer = Producer({"bootstrap.servers": bootstrap})
        self.scorer: subprocess.Popen | None = None

    def start(self, *extra: str) -> None:
        command = [sys.executable, "-m", "impactiq", "stream", "--model", str(self.model_path)]
        command += ["--kafka", self.bootstrap, "--in", self.topic, "--out", f"{self.topic}.scores"]
        command += ["--log", str(self.log_path), "--group", f"bench-{self.topic}", *SCORER_OPTIONS, *extra]
        self.scorer = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def scored(self) -> int:
        """Events in the log. Its largest rowid: a count with no table scan, since rows are never
        deleted and a replay is not stored."""
        if not self.log_path.is_file():
            return 0
        with contextlib.closing(sqlite3.connect(self.log_path)) as connection:
            try:
                return connection.execute("SELECT max(rowid) FROM scores").fetchone()[0] or 0
            except sqlite3.OperationalError:  # the scorer is creating the log
                return 0

    def feed(self, payloads: list[bytes], *, rate: float | None = None, offset: int = 0) -> dict:
        """Produce `payloads` at `rate` events/s (None: as fast as allowed), never letting more than
        `MAX_BACKLOG` wait; `offset` events were in the log before. Returns seconds and whether the
        backlog limit held the producer back."""
        started, sent, tick, throttled = time.perf_counter(), 0, 0, False
        while sent < len(payloads):
            tick += 1
            due = len(payloads) if rate is None else min(len(payloads), round(rate * tick * TICK_SECONDS))
            room = MAX_BACKLOG - (sent - (self.scored() - offset))
            throttled |= room < due - sent
            for payload in payloads[sent : sent + max(0, min(due - sent, room))]:
                _produce(self.producer, self.topic, payload, offset + sent)
                sent += 1
            self.producer.poll(0)
            time.sleep(max(0.0, started + tick * TICK_SECONDS - time.perf_counter()))
        seconds = time.perf_counter() - started
        self.producer.flush(60)
        return {"seconds": seconds, "throttled": throttled}

    def wait_scored(self, n: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.scored() < n:
            if self.scorer.poll() is not None:
                sys.exit(f"the scorer stopped:\n{self.scorer.communicate()[1][-3000:]}")
            if time.monotonic() > deadline:
                sys.exit(f"the scorer did not score {n:,} events within {WAIT_SECONDS:g} s")
            time.sleep(0.05)

    def stop(self, *, terminate: bool = True) -> str:
        """Wait for the scorer to end, first sending SIGTERM (it finishes its batch) if `terminate`;
        return its summary line."""
        if terminate and self.scorer.poll() is None:
            self.scorer.send_signal(signal.SIGTERM)
        out, err = self.scorer.communicate(timeout=60)
        if self.scorer.returncode != 0:
            sys.exit(f"the scorer failed:\n{err[-3000:]}")
        return out.strip()


def _payloads(model, n: int) -> list[bytes]:
    """`n` holdout users as JSON events with an id, drawn with replacement (seed 0)."""
    holdout = model.holdout[list(model.schema.features)]
    rows = holdout.sample(n, replace=True, random_state=0).to_dict("records")
    return [json.dumps({"id": i, **row}).encode() for i, row in enumerate(rows)]


def _throughput(run: _Run, payloads: list[bytes]) -> dict:
    """Events/s of a scorer that always has a full backlog, from the batches in its log."""
    run.start("--max-events", str(len(payloads)))
    fed = run.feed(payloads)
    summary = run.stop(terminate=False)  # it stops by itself after --max-events
    batches = _batches(run.log_path)
    first_size, first_at, last_at = batches[0][1], batches[0][0], batches[-1][0]
    return {
        "events": len(payloads),
        "batches": len(batches),
        "seconds_first_to_last_batch": last_at - first_at,
        "events_per_s": (len(payloads) - first_size) / (last_at - first_at),
        "producer_throttled_by_backlog": fed["throttled"],
        "scorer_summary": summary,
    }


def _latency(run: _Run, payloads: list[bytes], rate: int, seconds: float) -> dict:
    """Produce-to-score latency at `rate` events/s for `seconds`, after the scorer is ready."""
    run.start()
    try:
        # One event first: once it is scored, the scorer has joined its group and warmed up.
        _produce(run.producer, run.topic, payloads[0], -1)
        run.producer.flush(10)
        run.wait_scored(1)
        ready = time.time()
        n = int(rate * seconds)
        fed = run.feed(payloads[:n], rate=rate, offset=1)
        run.wait_scored(n + 1)
    finally:
        summary = run.stop()
    with read_score_log(run.log_path) as log:
        # The window starts after the first event was scored, which leaves it out.
        percentiles = log.latency_percentiles((50, 99, 100), window_seconds=time.time() - ready)
    return {
        "rate": rate,
        "events": n,
        "produced_per_s": n / fed["seconds"],
        "producer_throttled_by_backlog": fed["throttled"],
        "p50_ms": percentiles[50],
        "p99_ms": percentiles[99],
        "max_ms": percentiles[100],
        "scorer_summary": summary,
    }


def _produce(producer: Producer, topic: str, payload: bytes, key: int) -> None:
    while True:
        try:
            producer.produce(topic, value=payload, key=str(key))
            return
        except BufferError:
            producer.poll(0.05)


def _batches(log_path: Path) -> list[tuple[float, int]]:
    """(scored_at, events) of each batch in the log: a batch's events share one scored_at."""
    with sqlite3.connect(log_path) as connection:
        rows = connection.execute(
            "SELECT scored_at, count(*) FROM scores GROUP BY scored_at ORDER BY scored_at"
        )
        return [(float(at), int(count)) for at, count in rows]


if __name__ == "__main__":
    main()
