"""The command line: train, score, evaluate, report on and segment with models, attribute journeys,
and score a Kafka stream.

    python -m impactiq train --data criteo.csv.gz --out models/visit_forest
    python -m impactiq score --model models/visit_forest --data new.csv --out scored.csv
    python -m impactiq evaluate --model models/visit_forest --data test.csv --json
    python -m impactiq report --model models/visit_forest --out visit_forest.html
    python -m impactiq demo-model --out models/demo
    python -m impactiq segments --model models/visit_forest --data test.csv --by channel --json
    python -m impactiq attribute --touchpoints touches.csv --conversions orders.csv --model all --json
    python -m impactiq stream --model models/visit_forest --kafka localhost:9092 --in events --out scores

A problem the user can fix (a missing column, an unknown model) prints its message and exits
with status 2; anything else is a bug and shows its traceback. Heavy modules are imported
inside the commands so that `--help` answers at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sqlite3
import sys
from pathlib import Path

from impactiq.errors import ImpactIQError

# Rows scored at a time: bounds the memory of a forest's per-row intermediate arrays.
SCORE_CHUNK_ROWS = 100_000
# The demo model: synthetic Criteo-style data with known effects, small enough to train in
# seconds on two cores, large enough that its intervals and Qini are stable.
DEMO_DATASET = "synthetic"
DEMO_ROWS = 50_000
DEMO_OUTCOME = "visit"
DEMO_SEED = 0
DEMO_ESTIMATOR = "causal_forest"
DEMO_PARAMS = None
EXIT_USER_ERROR = 2
# How often `train` repeats the progress line while one stage runs.
PROGRESS_SECONDS = 30.0
# What training stored about a model beyond its metrics, repeated in `evaluate --json`.
STORED_EVIDENCE = ("interval_calibration", "selection", "refutation")
# What `score --out` may be called: the two formats it writes.
SCORE_SUFFIXES = (".csv", ".parquet")
# `journeys.attribution.MODELS`, named here so that `--help` answers without importing pandas.
ATTRIBUTION_MODELS = ("first", "last", "linear", "time_decay", "position", "markov", "shapley")


def main(argv: list[str] | None = None) -> int:
    """Run one command; return the exit status (2 for a problem the user can fix)."""
    args = build_parser().parse_args(argv)
    try:
        args.command(args)
    except ImpactIQError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except sqlite3.Error as error:  # the stream's score log: a full disk, a lock held too long
        print(
            f"error: the score log could not be written ({error}); check the disk's free space and that no "
            "other program holds the log.",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    except OSError as error:  # a path that cannot be read or written: the system says why
        where = f" '{error.filename}'" if error.filename else ""
        print(
            f"error: cannot read or write{where}: {error.strerror or error}. Check the path and its permissions.",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m impactiq",
        description="Uplift modelling on randomized A/B data: train, score and evaluate models.",
    )
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train",
        help="train an uplift model on an experiment table and save it",
        description="Train an uplift model on a table and save it to a model folder. A table in the "
        "Criteo layout (f0..f11, treatment, visit/conversion) needs no column flags; any other "
        "table needs --treatment and --outcome.",
    )
    train.add_argument("--data", required=True, help="CSV (plain or .gz) or Parquet file")
    train.add_argument("--treatment", help="the treatment column (not needed for the Criteo layout)")
    train.add_argument("--treated", nargs="+", metavar="VALUE", help="treatment value(s) meaning treated")
    train.add_argument("--control", nargs="+", metavar="VALUE", help="treatment value(s) meaning control")
    train.add_argument(
        "--arms",
        nargs="+",
        metavar="VALUE",
        help="treatment values that are arms of their own (a multi-arm model, each against --control); "
        "--treated pools its values instead",
    )
    train.add_argument("--outcome", help="the outcome column (Criteo layout: visit by default)")
    train.add_argument("--features", nargs="+", metavar="COL", help="feature columns (default: all others)")
    train.add_argument(
        "--estimator",
        default="causal_forest",
        help="estimator name (default: causal_forest), or 'auto': compare all six (with --arms, the four that "
        "model several arms) on a validation fold and keep the one with the smallest doubly robust loss",
    )
    train.add_argument(
        "--no-calibration",
        action="store_true",
        help="keep the estimator's own interval width instead of calibrating it on a simulated twin",
    )
    train.add_argument("--params", type=_json_object, help="estimator parameters as a JSON object")
    train.add_argument("--sample", type=int, help="train on a stratified random sample of this many rows")
    train.add_argument("--seed", type=_seed, default=0, help="random seed (default: 0)")
    train.add_argument("--test-size", type=_share, default=0.3, help="holdout share (default: 0.3)")
    train.add_argument("--out", required=True, type=Path, help="model folder to write, e.g. models/NAME")
    train.add_argument(
        "--replace", action="store_true", help="replace the model already saved under --out (kept otherwise)"
    )
    _add_ray_flag(
        train,
        "the cross-fitting folds of causal_forest, linear_dml and dr (EconML's use_ray; the final stage is "
        "fitted here) and the meta-learners' bootstrap refits (their one full fit stays here) run as Ray tasks",
    )
    train.set_defaults(command=_train)

    score = commands.add_parser(
        "score",
        help="add uplift and its 95%% interval to every row of a table",
        description="Score every row of a table with a saved model. The output is the input plus the "
        "columns uplift, uplift_lower and uplift_upper (the last two when the estimator has intervals); "
        "for a multi-arm model, uplift_<arm>, uplift_<arm>_lower and uplift_<arm>_upper for every arm and "
        "best_arm (the arm with the largest estimated uplift, or the control value when none is positive).",
    )
    score.add_argument("--model", required=True, type=Path, help="model folder, e.g. models/NAME")
    score.add_argument(
        "--data", required=True, help="CSV (plain or .gz) or Parquet file with the feature columns"
    )
    score.add_argument("--out", required=True, type=Path, help="output file: .csv, or .parquet for Parquet")
    _add_ray_flag(score, f"the table's chunks of {SCORE_CHUNK_ROWS:,} rows are scored as Ray tasks")
    score.set_defaults(command=_score)

    evaluate = commands.add_parser(
        "evaluate",
        help="score a saved model on labelled data: Qini, uplift at k, average effect",
        description="Evaluate a saved model on a labelled experiment table it was not trained on. "
        "Scores follow scikit-uplift's definitions; each carries its 95% interval.",
    )
    evaluate.add_argument("--model", required=True, type=Path, help="model folder, e.g. models/NAME")
    evaluate.add_argument(
        "--data", required=True, help="CSV (plain or .gz) or Parquet file with treatment and outcome"
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument("--seed", type=_seed, default=0, help="bootstrap seed (default: 0)")
    evaluate.set_defaults(command=_evaluate)

    report = commands.add_parser(
        "report",
        help="write a saved model's report: one HTML file that opens offline",
        description="Write everything known about a saved model to one self-contained HTML file that "
        "opens in any browser without a network: what it was trained on, holdout metrics and verdicts "
        "with 95% intervals, validation (best linear predictor, calibration, targeting curve), interval "
        "calibration, the estimator comparison and the refutation checks, with charts.",
    )
    report.add_argument("--model", required=True, type=Path, help="model folder, e.g. models/NAME")
    report.add_argument("--out", required=True, type=Path, help="the HTML file to write, e.g. report.html")
    report.set_defaults(command=_write_report)

    demo = commands.add_parser(
        "demo-model",
        help="train the demo model on synthetic data, unless it is up to date",
        description=f"Train the demo model: the default estimator on {DEMO_ROWS:,} rows of synthetic "
        f"Criteo-style data, outcome {DEMO_OUTCOME}. Skipped when the folder already holds a model of the "
        "same data trained with the installed library versions.",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("models/demo"), help="model folder (default: models/demo)"
    )
    demo.set_defaults(command=_demo_model)

    segments = commands.add_parser(
        "segments",
        help="per segment: credited against incremental conversions, and where a budget should go",
        description="Score a labelled table with a saved model, split it into segments and compare "
        "traditional with causal attribution: uplift per segment (observed, predicted, doubly robust) "
        "with 95% intervals, credited, incremental and wasted conversions, ROI, the allocation of a "
        "budget under both attributions, and random, response and uplift targeting. The budget is "
        "money: contacts = budget / cost.",
    )
    segments.add_argument("--model", required=True, type=Path, help="model folder, e.g. models/NAME")
    segments.add_argument(
        "--data", required=True, help="CSV (plain or .gz) or Parquet file with treatment and outcome"
    )
    segments.add_argument("--by", required=True, help="COLUMN, kmeans:K, uplift:Q or persuadability")
    segments.add_argument("--cost", type=float, help="cost per contact (default: 0.1)")
    segments.add_argument(
        "--value", type=float, help="value per conversion (default: 10; 1 per unit of an amount)"
    )
    segments.add_argument("--budget", type=float, help="budget in money (default: 30%% of the rows x cost)")
    segments.add_argument("--seed", type=_seed, default=0, help="K-means seed (default: 0)")
    segments.add_argument(
        "--json", action="store_true", help="print tables, allocation and strategies as JSON"
    )
    segments.set_defaults(command=_segments)

    attribute = commands.add_parser(
        "attribute",
        help="multi-touch attribution of conversions to channels from touchpoint logs",
        description="Link touchpoints and conversions to people (customer id, phone, e-mail), cut each "
        "conversion's path within the lookback window, and credit channels by rule (first, last, linear, "
        "time decay, position-based), by Markov removal effect and by Shapley value. Default column names: "
        "timestamp, channel, customer_id, phone, email (touchpoints); timestamp, customer_id, phone, email, "
        "stage, revenue (conversions).",
    )
    attribute.add_argument(
        "--touchpoints", required=True, help="CSV (plain or .gz) or Parquet touchpoint log"
    )
    attribute.add_argument(
        "--conversions", required=True, help="CSV (plain or .gz) or Parquet conversion log"
    )
    attribute.add_argument(
        "--customers", help="optional CRM table: customer_id, phone, email (one row per pair)"
    )
    attribute.add_argument("--channel-map", help="optional CSV: source, channel[, group]")
    attribute.add_argument(
        "--holdouts",
        help="optional table: per channel, its eligible people (customer_id, phone or email), channel and "
        "held_out; adds each channel's measured incremental conversions",
    )
    attribute.add_argument(
        "--spend", help="optional table: channel, spend[, date]; adds ROI, ROAS and cost per conversion"
    )
    attribute.add_argument(
        "--revenue-kind",
        metavar="CATEGORY",
        help="read --conversions as revenue events (identifier, date, amount, category): each customer's "
        "first event of this category is the conversion, credited with the customer's revenue",
    )
    attribute.add_argument(
        "--model",
        default="all",
        choices=["all", *ATTRIBUTION_MODELS],
        help="the model to run (default: all, side by side)",
    )
    attribute.add_argument(
        "--lookback", type=_positive, default=30.0, help="lookback window in days (default: 30)"
    )
    attribute.add_argument(
        "--half-life", type=_positive, default=7.0, help="time-decay half-life in days (default: 7)"
    )
    attribute.add_argument("--stage", help="attribute only the conversions of this stage (default: all)")
    attribute.add_argument(
        "--by-day", action="store_true", help="touches of one person on the same day share that day's credit"
    )
    attribute.add_argument("--region", default="US", help="default phone region, e.g. US, GB (default: US)")
    attribute.add_argument(
        "--touch-columns",
        nargs="+",
        default=[],
        metavar="ROLE=COLUMN",
        help="other touchpoint column names, e.g. channel=source phone=caller (roles: timestamp, channel, "
        "customer_id, phone, email, cost; COLUMN '-' for none)",
    )
    attribute.add_argument(
        "--conversion-columns",
        nargs="+",
        default=[],
        metavar="ROLE=COLUMN",
        help="other conversion column names (roles: timestamp, customer_id, phone, email, stage, revenue)",
    )
    attribute.add_argument(
        "--json", action="store_true", help="print each model's credit per channel as JSON"
    )
    attribute.set_defaults(command=_attribute)

    stream = commands.add_parser(
        "stream",
        help="score events from a Kafka topic as they arrive; results to a topic and a score log",
        description="Consume user events (JSON objects holding the model's features; an 'id' field is copied "
        "to the result) from --in, score them in micro-batches and write one JSON result per event to --out "
        "(key = the event's key; uplift, uplift_lower, uplift_upper and class, or for a multi-arm model "
        "best_arm and every arm's uplift and interval) and to the score log. Offsets are committed after the "
        "results are written, so a scorer killed and restarted loses no event (at-least-once; replays are "
        "counted as duplicates). An event that cannot be scored goes to the dead-letter topic with the reason.",
    )
    stream.add_argument("--model", required=True, type=Path, help="model folder, e.g. models/NAME")
    stream.add_argument(
        "--kafka", required=True, metavar="BOOTSTRAP", help="the brokers, e.g. broker1:9092,broker2:9092"
    )
    stream.add_argument("--in", required=True, dest="topic_in", metavar="TOPIC", help="the topic of events")
    stream.add_argument(
        "--out", required=True, dest="topic_out", metavar="TOPIC", help="the topic of results"
    )
    stream.add_argument(
        "--dead-letter",
        metavar="TOPIC",
        help="the topic of events that cannot be scored (default: IN.dead-letter)",
    )
    stream.add_argument("--group", metavar="ID", help="the consumer group (default: impactiq-MODEL_NAME)")
    stream.add_argument(
        "--log",
        type=Path,
        help="the score log, an SQLite file the app's Stream page reads "
        "(default: $IMPACTIQ_SCORE_LOG, else scores.sqlite here)",
    )
    stream.add_argument("--batch", type=int, metavar="N", help="events per micro-batch (default: 5000)")
    stream.add_argument("--max-events", type=int, metavar="N", help="stop after N events")
    stream.add_argument(
        "--idle-exit",
        type=_positive,
        metavar="SECONDS",
        help="stop after this long without an event (from the start too)",
    )
    stream.add_argument(
        "--kafka-config",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="librdkafka settings for both clients, e.g. security.protocol=SASL_SSL sasl.mechanism=PLAIN; "
        "prefix consumer. or producer. for one, e.g. consumer.session.timeout.ms=10000. Pairs in "
        "$IMPACTIQ_KAFKA_CONFIG come first: put passwords there, not on the command line",
    )
    stream.add_argument(
        "--connect-timeout",
        type=_positive,
        metavar="SECONDS",
        help="give up when the brokers do not answer within this long at start (default: 10)",
    )
    stream.set_defaults(command=_stream)
    return parser


def _add_ray_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--ray",
        nargs="?",
        const="auto",
        metavar="auto|ADDRESS",
        help=f"scale out on Ray: {what}; results equal a run without Ray. auto (also --ray alone): the "
        "cluster in RAY_ADDRESS, else one started on this machine with `ray start`, else a new local Ray; "
        "ADDRESS: a cluster's ray://HEAD:10001 or HEAD:6379 (see README)",
    )


def _train(args: argparse.Namespace) -> None:
    from impactiq.data.experiment import prepare_experiment
    from impactiq.data.reader import read_table
    from impactiq.uplift.cluster import session
    from impactiq.uplift.store import check_name, check_unused

    check_name(args.out.name)
    _check_model_out(args.out)
    if not args.replace:
        check_unused(args.out)
    df = read_table(args.data, max_bytes=None)
    if args.treatment is None:
        # Recognised like an upload in the app: constant features are dropped with a warning.
        schema, outcome, features = None, _criteo_outcome(df, args), args.features
    else:
        schema, outcome, features = _mapped_schema(df, args), args.outcome, None
    experiment = prepare_experiment(df, schema, name=Path(args.data).name)
    _report(experiment.warnings)
    with session(args.ray):
        trained = _fit_and_save(
            experiment,
            args.out,
            outcome=outcome,
            estimator=args.estimator,
            features=features,
            sample=args.sample,
            test_size=args.test_size,
            seed=args.seed,
            replace=args.replace,
            params=args.params,
            calibrate=not args.no_calibration,
            use_ray=args.ray is not None,
        )
    print(_training_summary(trained, args.out))


def _criteo_outcome(df, args: argparse.Namespace) -> str:
    """The outcome to model in a Criteo-layout table (visit unless --outcome says otherwise)."""
    from impactiq.data.schema import detect_criteo

    if args.treated or args.control or args.arms:
        raise ImpactIQError(
            "--treated, --control and --arms need --treatment: name the treatment column too."
        )
    schema = detect_criteo(df.columns)
    if schema is None:
        raise ImpactIQError(
            f"'{args.data}' is not in the Criteo layout (f0..f11, treatment, visit/conversion). Name its "
            "columns: --treatment COL --outcome COL, and --treated VALUE --control VALUE when the "
            "treatment column's values are not an obvious treated/control pair."
        )
    outcome = args.outcome or schema.outcomes[0]
    if outcome not in schema.outcomes:
        raise ImpactIQError(
            f"--outcome {outcome} is not an outcome here; choose one of {', '.join(schema.outcomes)}."
        )
    return outcome


def _mapped_schema(df, args: argparse.Namespace):
    from impactiq.data.schema import build_schema, suggest_treated_values

    if args.outcome is None:
        raise ImpactIQError(
            "--outcome is required with --treatment: name the outcome column (e.g. --outcome visit)."
        )
    if args.treatment not in df.columns:
        raise ImpactIQError(
            f"The treatment column '{args.treatment}' is not in '{args.data}'. Columns found: "
            f"{', '.join(map(str, list(df.columns)[:20]))}."
        )
    if args.arms is not None:
        if args.treated is not None or args.control is None:
            raise ImpactIQError(
                "--arms needs --control (the value every arm is compared with) and replaces --treated: "
                "give --arms A B ... --control VALUE."
            )
        return build_schema(
            df,
            treatment=args.treatment,
            treated_values=args.arms,
            control_values=args.control,
            outcomes=[args.outcome],
            features=args.features,
            separate_arms=True,
        )
    if (args.treated is None) != (args.control is None):
        raise ImpactIQError(
            "Give both --treated and --control, or neither (for an obvious pair such as 0/1)."
        )
    treated, control = args.treated, args.control
    if treated is None:
        values = list(df[args.treatment].dropna().unique())
        suggestion = suggest_treated_values(values)
        if suggestion is None:
            shown = ", ".join(repr(str(v)) for v in values[:10])
            raise ImpactIQError(
                f"Which values of '{args.treatment}' mean treated and which control? It holds {shown}. "
                "Say so with --treated VALUE... --control VALUE..."
            )
        treated, control = suggestion
        print(
            f"treated: {', '.join(map(str, treated))}; control: {', '.join(map(str, control))}",
            file=sys.stderr,
        )
    schema = build_schema(
        df,
        treatment=args.treatment,
        treated_values=treated,
        control_values=control,
        outcomes=[args.outcome],
        features=args.features,
    )
    return schema


def _fit_and_save(experiment, out: Path, *, replace: bool, **options):
    from impactiq.evaluation.progress import reporting_every, training_progress
    from impactiq.evaluation.training import train_model
    from impactiq.uplift.store import save_model

    # Each stage's line carries the time elapsed and a forecast of the time left; a long stage
    # repeats it every PROGRESS_SECONDS ("still fitting ...").
    progress = training_progress(experiment.n_rows, **options)

    def on_stage(stage: str) -> None:
        progress.start(stage)
        _progress_line(progress.line())

    with reporting_every(progress, _progress_line, PROGRESS_SECONDS):
        trained = train_model(experiment, on_stage=on_stage, **options)
    progress.finish()
    save_model(trained, out.name, models_dir=out.parent, replace=replace)
    return trained


def _progress_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _training_summary(trained, out: Path) -> str:
    from impactiq.present.tables import uncalibrated_reason

    data = trained.data
    lines = [
        f"Trained {trained.estimator} for '{trained.outcome}' on {data['n_train']:,} rows in "
        f"{trained.fit['seconds']:.1f} s; holdout {data['n_holdout']:,} rows."
    ]
    if trained.arms:
        lines += [
            f"Holdout Qini AUC of {arm} against control (scikit-uplift, 95% CI): "
            f"{_interval(trained.arm_metrics[arm]['qini_auc_score'])}"
            for arm in trained.arms
        ]
    else:
        lines.append(
            f"Holdout Qini AUC (scikit-uplift, 95% CI): {_interval(trained.metrics['qini_auc_score'])}"
        )
    if "selection" in data:
        selection = data["selection"]
        lines.append(
            f"Chosen by 'auto' from {len(selection['candidates']) - 1} estimators: the smallest doubly robust "
            f"loss on {selection['n_validation']:,} validation rows."
        )
    calibration = data.get("interval_calibration", {})
    if "scale" in calibration:
        factors = ", ".join(f"{factor:.2f}" for factor in calibration["scale"])
        lines.append(f"Interval width calibrated on a simulated twin: factor {factors}.")
    elif trained.has_intervals:
        lines.append(uncalibrated_reason(data))
    lines.append(f"Saved to {out}")
    return "\n".join(lines)


def _score(args: argparse.Namespace) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from impactiq.data.reader import read_table
    from impactiq.present.export import write_csv
    from impactiq.uplift.cluster import map_in_order, session
    from impactiq.uplift.scoring import score_rows
    from impactiq.uplift.store import load_model

    _check_out(args.out, data=args.data)
    if args.out.suffix.lower() not in SCORE_SUFFIXES:
        raise ImpactIQError(
            f"--out '{args.out}' must end in {' or '.join(SCORE_SUFFIXES)}: the scored table is written as CSV "
            "or Parquet, and another name would hide which."
        )
    model = load_model(args.model)
    _report(model.warnings)
    df = read_table(args.data, max_bytes=None)
    # Every feature checked on the whole table first: a bad value found inside one chunk would be
    # named by its place in that chunk, and counted there only.
    model.features(df)
    parquet = args.out.suffix.lower() == ".parquet"
    partial = args.out.with_name(f".{args.out.name}.partial")
    writer = None
    chunks = (df.iloc[start : start + SCORE_CHUNK_ROWS] for start in range(0, len(df), SCORE_CHUNK_ROWS))
    try:
        # With --ray the chunks are Ray tasks, gathered in order: the file is written the same way.
        with session(args.ray):
            scored = (
                map_in_order(score_rows, model, chunks)
                if args.ray
                else (score_rows(model, c) for c in chunks)
            )
            for number, chunk in enumerate(scored):
                if parquet:
                    table = pa.Table.from_pandas(chunk, preserve_index=False)
                    writer = writer or pq.ParquetWriter(partial, table.schema)
                    writer.write_table(table)
                else:
                    write_csv(chunk, partial, append=number > 0)
        if writer is not None:
            writer.close()
        os.replace(partial, args.out)
    finally:
        partial.unlink(missing_ok=True)
    if not model.has_intervals:
        print(f"note: {model.estimator} gives no intervals, so only 'uplift' was added.", file=sys.stderr)
    print(f"Scored {len(df):,} rows with {args.model}; wrote {args.out}")


def _evaluate(args: argparse.Namespace) -> None:
    from impactiq.data.experiment import check_outcome
    from impactiq.data.reader import read_table
    from impactiq.evaluation.holdout import holdout_metrics
    from impactiq.evaluation.validation import validation_summary
    from impactiq.uplift.arms import arm_view_frame, score_arm_experiment
    from impactiq.uplift.scoring import score_experiment
    from impactiq.uplift.store import json_ready, load_model

    model = load_model(args.model)
    _report(model.warnings)
    df = read_table(args.data, max_bytes=None)
    experiment = _experiment_as_trained(model, df, Path(args.data).name)
    _report(experiment.warnings)
    check_outcome(experiment, model.outcome)
    binary = model.schema.is_binary(model.outcome)
    # Scored once, then judged like a holdout: the metrics of `evaluation.holdout.evaluate_model`
    # (or `evaluate_arms`, each arm on the rows of control and that arm) and the validation.
    if model.arms:
        scored = score_arm_experiment(model, experiment, model.outcome)
        frames = {arm: arm_view_frame(scored, model.arms, arm) for arm in model.arms}
    else:
        frames = {None: score_experiment(model, experiment)}
    evaluated = {
        arm: {
            **holdout_metrics(frame, binary=binary, seed=args.seed),
            "validation": validation_summary(frame),
        }
        for arm, frame in frames.items()
    }
    result = {"model": str(args.model), "outcome": model.outcome, "data": str(args.data)}
    stored = {key: model.data[key] for key in STORED_EVIDENCE if key in model.data}
    if args.json:
        scores = {"arms": evaluated} if model.arms else evaluated[None]
        print(json.dumps(json_ready({**result, **scores, **stored}), indent=2, allow_nan=False))
        return
    for arm, scores in evaluated.items():
        if arm is not None:
            print(f"## {arm} against control")
        print(_evaluation_summary({**result, **scores}, binary=binary, frame=frames[arm]))


def _experiment_as_trained(model, df, name: str):
    """The table as an experiment coded the way `model` was trained; when no row matches an arm,
    how the model reads the treatment column (the file must be recoded: there is no mapping step)."""
    from impactiq.data.experiment import EmptyArmError, prepare_experiment

    try:
        return prepare_experiment(df, _evaluation_schema(model, df.columns), name=name)
    except EmptyArmError as error:
        schema = model.schema
        raise ImpactIQError(
            f"No row of '{name}' is in the {error.arm} arm: its '{schema.treatment}' holds {error.held}. The "
            f"model reads {', '.join(map(repr, schema.treated_values))} as treated and "
            f"{', '.join(map(repr, schema.control_values))} as control; recode the column that way."
        ) from error


def _evaluation_schema(model, columns):
    """The model's schema narrowed to its own outcome (and its true effect when present)."""
    from impactiq.data.schema import Schema

    schema = model.schema.to_dict()
    truth = model.schema.truth.get(model.outcome)
    arm_truth = {a: c for a, c in model.schema.arm_truth.get(model.outcome, {}).items() if c in set(columns)}
    schema.update(
        outcomes=[model.outcome],
        binary_outcomes=[o for o in schema["binary_outcomes"] if o == model.outcome],
        truth={model.outcome: truth} if truth in set(columns) else {},
        arm_truth={model.outcome: arm_truth} if arm_truth else {},
    )
    return Schema.from_dict(schema)


def _evaluation_summary(result: dict, *, binary: bool, frame) -> str:
    """The scores in `result` as text; `frame` (the scored rows) for the heterogeneity verdict."""
    from impactiq.present.formatting import effect_unit, format_estimate
    from impactiq.present.tables import holdout_heterogeneity_verdict

    effect = effect_unit(binary)
    lines = [
        f"{result['model']} on {result['data']}: {result['n_rows']:,} rows "
        f"({result['n_treated']:,} treated, {result['n_control']:,} control), outcome '{result['outcome']}'",
        f"Qini AUC:             {_interval(result['qini_auc_score'])}",
        f"Uplift AUC:           {_interval(result['uplift_auc_score'])}",
    ]
    for strategy, by_k in result["uplift_at_k"].items():
        for k, score in by_k.items():
            lines.append(f"Uplift at top {float(k):.0%} ({strategy}): {_interval(score, effect)}")
    lines += [
        f"Average effect (AIPW): {_interval(result['ate'], effect)}",
        f"Difference in means:   {_interval(result['naive_ate'], effect)}",
    ]
    if "pehe" in result:
        lines.append(
            f"True average effect {format_estimate(result['true_ate'], unit=effect)}; "
            f"PEHE {format_estimate(result['pehe'], unit=effect, signed=False)}"
        )
    if "interval_coverage" in result:
        lines.append(
            f"95% interval coverage of the true effect: {format_estimate(result['interval_coverage'], unit='share')}"
        )
    heterogeneity = holdout_heterogeneity_verdict(frame, binary=binary)[1]
    targeting = result["validation"]["targeting"]
    if "autoc" in targeting:
        autoc = (
            f"{_interval(targeting['autoc'], effect)}; the average effect among the users the model ranks "
            "highest minus everyone's, over all shares targeted: above 0, targeting by it beats random"
        )
    else:
        autoc = f"not available ({targeting['unavailable']})"
    lines += [f"Heterogeneity (BLP):   {heterogeneity}", f"Targeting (AUTOC):     {autoc}"]
    lines.append("Scores follow scikit-uplift's definitions; brackets hold 95% CIs.")
    return "\n".join(lines)


def _write_report(args: argparse.Namespace) -> None:
    from impactiq.present.report import model_report
    from impactiq.uplift.store import load_model

    _check_out(args.out)
    model = load_model(args.model)
    _report(model.warnings)
    document = model_report(model)
    partial = args.out.with_name(f".{args.out.name}.partial")
    try:
        partial.write_text(document, encoding="utf-8")
        os.replace(partial, args.out)
    finally:
        partial.unlink(missing_ok=True)
    size = args.out.stat().st_size
    print(f"Wrote the report of {args.model} to {args.out} ({size / 1024:,.0f} KB, self-contained HTML)")


def _demo_model(args: argparse.Namespace) -> None:
    from impactiq.data.demo import SYNTHETIC_TITLE, load_demo
    from impactiq.data.fingerprint import fingerprint_experiment
    from impactiq.uplift.store import check_name, library_versions, load_model

    check_name(args.out.name)
    _check_model_out(args.out)
    experiment = load_demo(DEMO_DATASET, n_rows=DEMO_ROWS, seed=DEMO_SEED)
    fingerprint = fingerprint_experiment(experiment, DEMO_OUTCOME)
    if (args.out / "metadata.json").is_file():
        try:
            model = load_model(args.out)
        except ImpactIQError as error:
            print(f"retraining: {error}", file=sys.stderr)
        else:
            saved = model.metadata
            if not str(saved["data"].get("name", "")).startswith(SYNTHETIC_TITLE):
                raise ImpactIQError(
                    f"'{args.out}' holds a model trained on {saved['data'].get('name')!r}, not the demo data, so "
                    "it is not replaced. Choose another --out, or delete that model first."
                )
            same_data = saved["data"].get("fingerprint", {}).get("sha256") == fingerprint["sha256"]
            # A demo model saved before interval calibration existed is trained again to get it.
            calibrated = "interval_calibration" in saved["data"]
            if same_data and calibrated and saved.get("versions") == library_versions():
                _compile_scoring(model)
                print(f"{args.out} is up to date (same data and library versions); nothing to do.")
                return
    trained = _fit_and_save(
        experiment,
        args.out,
        outcome=DEMO_OUTCOME,
        estimator=DEMO_ESTIMATOR,
        params=DEMO_PARAMS,
        seed=DEMO_SEED,
        replace=True,
    )
    print(_training_summary(trained, args.out))


def _compile_scoring(model) -> None:
    """Score one row with the saved demo model, so that the compiled scoring loops are built and
    cached on disk now (seconds, once per machine) rather than on the app's first visitor. Training
    does this by itself when it scores the holdout; a model found up to date needs it here."""
    row = model.holdout[list(model.schema.features)].iloc[:1]
    model.predict_outcomes(row, uplift=model.effect_with_interval(row)[0])


def _segments(args: argparse.Namespace) -> None:
    from impactiq.data.reader import read_table
    from impactiq.decisions.channel_segments import arm_segmentation
    from impactiq.decisions.segments import segment_report
    from impactiq.present.segment_tables import report_dict, report_markdown
    from impactiq.uplift.arms import ArmView, arm_view_frame, score_arm_experiment
    from impactiq.uplift.scoring import score_experiment
    from impactiq.uplift.store import json_ready, load_model

    model = load_model(args.model)
    _report(model.warnings)
    df = read_table(args.data, max_bytes=None)
    experiment = _experiment_as_trained(model, df, Path(args.data).name)
    _report(experiment.warnings)
    options = {
        "by": args.by,
        "cost": args.cost,
        "value": args.value,
        "budget": args.budget,
        "seed": args.seed,
    }
    if not model.arms:
        report = segment_report(model, score_experiment(model, experiment), **options)
        if args.json:
            result = {"model": str(args.model), "data": str(args.data), **report_dict(report)}
            print(json.dumps(json_ready(result), indent=2, allow_nan=False))
        else:
            print(report_markdown(report))
        return
    # A multi-arm model: every arm against control, each on the rows of control and that arm.
    scored = score_arm_experiment(model, experiment, model.outcome)
    reports = {
        arm: segment_report(
            ArmView(model, arm),
            arm_view_frame(scored, model.arms, arm),
            segmentation=arm_segmentation(scored, model.arms, arm, model.schema, args.by, seed=args.seed),
            **options,
        )
        for arm in model.arms
    }
    if args.json:
        by_arm = {arm: report_dict(report) for arm, report in reports.items()}
        print(
            json.dumps(
                json_ready({"model": str(args.model), "data": str(args.data), "arms": by_arm}), indent=2
            )
        )
    else:
        for arm, report in reports.items():
            print(f"# {arm} against control\n")
            print(report_markdown(report))


def _attribute(args: argparse.Namespace) -> None:
    from impactiq.data.reader import read_table
    from impactiq.journeys.attribution import MODELS, AttributionSettings, attribute
    from impactiq.journeys.causal import credit_against_lift
    from impactiq.journeys.check import measured_lift
    from impactiq.journeys.events import ConversionColumns, TouchpointColumns, prepare_events
    from impactiq.journeys.revenue import conversions_from_revenue
    from impactiq.journeys.spend import channel_roi, spend_by_channel
    from impactiq.present import journey_tables
    from impactiq.uplift.store import json_ready

    touchpoints = read_table(args.touchpoints, max_bytes=None)
    conversions = read_table(args.conversions, max_bytes=None)
    if args.revenue_kind is not None:
        conversions = conversions_from_revenue(
            conversions, kind=args.revenue_kind, region=args.region, name=Path(args.conversions).name
        )
    channel_map = read_table(args.channel_map, max_bytes=None) if args.channel_map else None
    touch_columns = _columns(
        TouchpointColumns.suggest(touchpoints.columns), args.touch_columns, "--touch-columns"
    )
    conversion_columns = _columns(
        ConversionColumns.suggest(conversions.columns), args.conversion_columns, "--conversion-columns"
    )
    events = prepare_events(
        touchpoints,
        conversions,
        touch_columns=touch_columns,
        conversion_columns=conversion_columns,
        customers=read_table(args.customers, max_bytes=None) if args.customers else None,
        channel_map=channel_map,
        holdouts=read_table(args.holdouts, max_bytes=None) if args.holdouts else None,
        region=args.region,
        names=(
            Path(args.touchpoints).name,
            Path(args.conversions).name,
            Path(args.holdouts).name if args.holdouts else "holdouts",
        ),
    )
    _report(events.warnings)
    models = MODELS if args.model == "all" else (args.model,)
    settings = AttributionSettings(
        lookback_days=args.lookback, half_life_days=args.half_life, by_day=args.by_day, stage=args.stage
    )
    result = attribute(events, models, settings)
    _report(list(result.notes))
    credit = result.credit
    if args.spend:
        spend = spend_by_channel(
            read_table(args.spend, max_bytes=None), channel_map=channel_map, name=Path(args.spend).name
        )
        credit = channel_roi(credit, spend)
    measured = measured_lift(events, args.stage)
    if measured is not None:
        measured = measured.set_index("channel")
    if args.json:
        fields = ["conversions", "conversions_se", "revenue", "revenue_se"]
        if args.spend:
            fields += ["spend", "roi", "roas", "cost_per_conversion", "note"]
        by_model = {
            model: {row["channel"]: {f: row[f] for f in fields} for _, row in rows.iterrows()}
            for model, rows in credit.groupby("model", sort=False)
        }
        summary = {
            "conversions": result.journeys.n_conversions,
            "attributed": result.attributed,
            "unattributed": result.journeys.unattributed,
            "lookback_days": args.lookback,
            "stage": args.stage,
        }
        if measured is not None:
            summary["incremental"] = {
                channel: {
                    "lift": row["lift"],
                    "lift_lower": row["lift_lower"],
                    "lift_upper": row["lift_upper"],
                    "incremental": row["incremental"],
                    "incremental_lower": row["incremental_lower"],
                    "incremental_upper": row["incremental_upper"],
                }
                for channel, row in measured.iterrows()
            }
        print(json.dumps(json_ready({**summary, "models": by_model}), indent=2, allow_nan=False))
        return
    # The tables the Journeys page shows, in the same words and number formats.
    print(
        f"{result.attributed:,} of {result.journeys.n_conversions:,} conversions have a touch in the "
        f"{args.lookback:g} days before them; credited conversions per channel (95% CI where the model "
        "samples):\n"
    )
    print(journey_tables.credit_table(result.credit).to_string(index=False))
    if args.spend:
        for model, rows in credit.groupby("model", sort=False):
            print(f"\nSpend and return by {journey_tables.MODEL_NAMES.get(model, model)} credit:\n")
            print(journey_tables.roi_table(rows).to_string(index=False))
    if measured is not None:
        check = credit_against_lift(result.credit, measured.reset_index())
        print("\nAgainst the incremental conversions each channel's holdout measured (95% CI):\n")
        models = list(result.credit["model"].unique())
        print(journey_tables.check_table(check, models).to_string(index=False))


def _stream(args: argparse.Namespace) -> None:
    from impactiq.serving.kafka import environment_pairs, parse_kafka_config
    from impactiq.serving.scorelog import default_log_path, open_score_log
    from impactiq.serving.stream import StreamSettings, run_stream
    from impactiq.uplift.store import load_model

    # Flags left out take StreamSettings' defaults, which the help text quotes.
    optional = {"batch": args.batch, "connect_timeout": args.connect_timeout}
    settings = StreamSettings(
        kafka=args.kafka,
        topic_in=args.topic_in,
        topic_out=args.topic_out,
        dead_letter=args.dead_letter,
        group=args.group,
        max_events=args.max_events,
        idle_exit=args.idle_exit,
        kafka_config=parse_kafka_config([*environment_pairs(), *args.kafka_config]),
        **{name: value for name, value in optional.items() if value is not None},
    )
    model = load_model(args.model)
    _report(model.warnings)
    path = args.log or default_log_path()
    with open_score_log(path) as log:
        print(
            f"Scoring '{settings.topic_in}' with {args.model} as group '{settings.group_id(model)}': results to "
            f"'{settings.topic_out}', dead letters to '{settings.dead_letter_topic}', log {path}",
            file=sys.stderr,
            flush=True,
        )
        report = run_stream(
            model, log, settings, on_progress=lambda line: print(line, file=sys.stderr, flush=True)
        )
    print(
        f"Read {report.events:,} events in {report.seconds:,.1f} s ({report.events_per_second:,.0f} events/s): "
        f"{report.scored:,} scored, {report.dead_letters:,} dead letters, {report.duplicates:,} duplicates; "
        f"stopped {report.stopped_by}. Log: {path}"
    )


def _columns(suggested, pairs: list[str], flag: str):
    """The suggested column mapping with the user's ROLE=COLUMN changes ('-' for none)."""
    changes = {}
    roles = set(dataclasses.asdict(suggested))
    # A role whose type admits no None must have a column (annotations are strings here).
    required = {field.name for field in dataclasses.fields(suggested) if "None" not in str(field.type)}
    for pair in pairs:
        role, _, column = pair.partition("=")
        if role not in roles or not column:
            raise ImpactIQError(
                f"{flag} takes ROLE=COLUMN with ROLE one of {', '.join(sorted(roles))}; got '{pair}'."
            )
        if column == "-" and role in required:
            raise ImpactIQError(
                f"{flag}: every row needs a {role}, so '{pair}' cannot leave it out; name its column."
            )
        changes[role] = None if column == "-" else column
    return dataclasses.replace(suggested, **changes)


def _check_model_out(out: Path) -> None:
    """Refuse, before anything is trained, a model path whose folder cannot hold it: the time of
    training would be lost to a file-system error at the end."""
    parent = out.parent
    existing = next(folder for folder in (parent, *parent.parents) if os.path.lexists(folder))
    if not existing.is_dir():
        raise ImpactIQError(
            f"'{existing}' is a file, not a folder; --out names a model folder, e.g. models/NAME."
        )
    if not os.access(existing, os.W_OK):
        raise ImpactIQError(f"The folder '{existing}' cannot be written; choose another --out.")


def _check_out(out: Path, *, data: str | None = None) -> None:
    """Refuse, before any work is done, an output path that cannot be written or that would
    overwrite what the user has: the input table (`data`), or a file in a saved model's folder,
    which would leave the model refused as tampered with."""
    from impactiq.uplift.store import METADATA_FILE, VERSIONS_DIR

    if out.is_dir():
        raise ImpactIQError(f"--out '{out}' is a folder; name the file to write, inside it or elsewhere.")
    if not out.parent.is_dir():
        raise ImpactIQError(
            f"The folder '{out.parent}' for --out does not exist; create it or choose another path."
        )
    if not os.access(out.parent, os.W_OK):
        raise ImpactIQError(f"The folder '{out.parent}' for --out cannot be written; choose another path.")
    target = out.resolve()
    if data is not None and target == Path(data).resolve():
        raise ImpactIQError(f"--out '{out}' is the input table itself; write the result to another file.")
    for folder in target.parents:
        if (folder / METADATA_FILE).is_file() or folder.name == VERSIONS_DIR:
            raise ImpactIQError(
                f"--out '{out}' is inside the saved model folder '{folder}'; a file added there makes the "
                "model refused as changed. Write it elsewhere."
            )


def _seed(text: str) -> int:
    """A random seed: a whole number from 0 to 2**32 - 1, what NumPy and scikit-learn accept."""
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"must be a whole number, e.g. 0; got {text!r}") from error
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be from 0 to {2**32 - 1}; got {value}")
    return value


def _share(text: str) -> float:
    """A share strictly between 0 and 1, e.g. 0.3."""
    value = _number(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, e.g. 0.3; got {text!r}")
    return value


def _positive(text: str) -> float:
    """A finite number above 0 (days, seconds)."""
    value = _number(text)
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0; got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"must be a number; got {text!r}") from error


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({error}); e.g. '{{\"n_estimators\": 100}}'"
        ) from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object, e.g. '{\"n_estimators\": 100}'")
    return value


def _interval(score: dict, unit: str = "score") -> str:
    from impactiq.present.formatting import format_estimate

    if "unavailable" in score:
        return f"not available ({score['unavailable']})"
    return format_estimate(score["estimate"], score["lower"], score["upper"], unit)


def _report(warnings: list[str]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
