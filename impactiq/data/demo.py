"""Ready-made experiments, so the app and the command line work before anyone uploads a file.

Each demo goes through `read_table` and `prepare_experiment` like an upload, so it is validated
exactly as a user's file would be. The real files live in the project's `data/` folder (see
data/README.md for their provenance and licences); the synthetic one is drawn on demand.
"""

from __future__ import annotations

from pathlib import Path

from impactiq.data import multichannel
from impactiq.data.experiment import Experiment, prepare_experiment
from impactiq.data.reader import read_table
from impactiq.data.schema import build_schema
from impactiq.data.synthetic import make_criteo_like
from impactiq.errors import ImpactIQError

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
HILLSTROM_FILE = DATA_DIR / "hillstrom.csv.gz"
CRITEO_SAMPLE_FILE = DATA_DIR / "criteo_sample_1k.csv"
DEFAULT_ROWS = 100_000

DEMO_DATASETS = {
    "synthetic": (
        "Criteo-style synthetic experiment with known true effects (100,000 rows by default, seed 0): "
        "the one data set where estimates can be checked against the truth."
    ),
    "hillstrom": (
        "Real e-mail experiment (Hillstrom, MineThatData 2008): 64,000 customers randomized to a men's "
        "e-mail, a women's e-mail or none; outcomes visit, conversion and spend."
    ),
    "multichannel": (
        "Synthetic multi-channel experiment (e-mail, social, display or nothing; 100,000 rows by default, "
        "seed 0) whose channels work for different behavioural segments, with every channel's true effect."
    ),
    "criteo_sample": (
        "1,000 real rows of the Criteo Uplift data set: the real file's exact format, but far too small "
        "for statistics (2 conversions), so its estimates are noise."
    ),
}

HILLSTROM_TREATMENT = "segment"
HILLSTROM_CONTROL = "No E-Mail"
# Which e-mail(s) count as treated, each compared with no e-mail; 'separate' keeps both e-mails
# as arms of their own (a three-arm experiment).
HILLSTROM_ARMS = {
    "any": ("Mens E-Mail", "Womens E-Mail"),
    "mens": ("Mens E-Mail",),
    "womens": ("Womens E-Mail",),
    "separate": ("Mens E-Mail", "Womens E-Mail"),
}
HILLSTROM_OUTCOMES = ("visit", "conversion", "spend")
HILLSTROM_FEATURES = (
    "recency",
    "history",
    "mens",
    "womens",
    "newbie",
    "history_segment",
    "zip_code",
    "channel",
)

_CRITEO_SAMPLE_WARNING = (
    "This is a 1,000-row sample of the real Criteo data with 2 conversions: it shows the real "
    "file's format, but its effects are noise. Use the synthetic demo or the full file for statistics."
)

# The synthetic demo set's name begins with this, whatever its size and seed.
SYNTHETIC_TITLE = "Synthetic Criteo-style"


def load_demo(name: str, *, n_rows: int = DEFAULT_ROWS, seed: int = 0, arm: str = "any") -> Experiment:
    """The demo experiment `name` (a key of `DEMO_DATASETS`), validated like an upload.

    `n_rows` and `seed` apply to the synthetic data sets; `arm` (a key of `HILLSTROM_ARMS`) to
    Hillstrom, where 'mens' or 'womens' compares that e-mail alone with no e-mail and leaves the
    other e-mail's rows out (with a warning), and 'separate' keeps both e-mails as arms.
    """
    if name not in DEMO_DATASETS:
        raise ImpactIQError(f"There is no demo data set '{name}'. Choose one of: {', '.join(DEMO_DATASETS)}.")
    if arm not in HILLSTROM_ARMS:
        raise ImpactIQError(f"There is no Hillstrom arm '{arm}'. Choose one of: {', '.join(HILLSTROM_ARMS)}.")
    if name == "synthetic":
        frame = make_criteo_like(n_rows, seed=seed)
        return prepare_experiment(frame, name=f"{SYNTHETIC_TITLE} ({n_rows:,} rows, seed {seed})")
    if name == "hillstrom":
        return _load_hillstrom(arm)
    if name == "multichannel":
        return _load_multichannel(n_rows, seed)
    experiment = prepare_experiment(
        read_table(CRITEO_SAMPLE_FILE, max_bytes=None), name="Criteo sample (1,000 real rows)"
    )
    experiment.warnings.insert(0, _CRITEO_SAMPLE_WARNING)
    return experiment


def _load_hillstrom(arm: str) -> Experiment:
    frame = read_table(HILLSTROM_FILE, max_bytes=None)
    schema = build_schema(
        frame,
        treatment=HILLSTROM_TREATMENT,
        treated_values=HILLSTROM_ARMS[arm],
        control_values=(HILLSTROM_CONTROL,),
        outcomes=HILLSTROM_OUTCOMES,
        features=HILLSTROM_FEATURES,
        separate_arms=arm == "separate",
    )
    joined = " and ".join if arm == "separate" else " or ".join
    return prepare_experiment(
        frame, schema, name=f"Hillstrom e-mail test ({joined(HILLSTROM_ARMS[arm])} vs {HILLSTROM_CONTROL})"
    )


def _load_multichannel(n_rows: int, seed: int) -> Experiment:
    """The synthetic multi-channel experiment, every channel an arm of its own."""
    return multichannel_experiment(
        multichannel.make_multichannel(n_rows, seed=seed),
        name=f"Synthetic multi-channel ({n_rows:,} rows, seed {seed})",
    )


def multichannel_experiment(frame, *, separate_arms: bool = True, name: str = "multichannel") -> Experiment:
    """A `multichannel.make_multichannel` table as an experiment: each channel an arm of its
    own, or (`separate_arms=False`) every channel pooled into one treatment."""
    schema = build_schema(
        frame,
        treatment=multichannel.TREATMENT,
        treated_values=multichannel.DEFAULT_CHANNELS,
        control_values=(multichannel.CONTROL,),
        outcomes=(multichannel.OUTCOME,),
        features=multichannel.FEATURES,
        separate_arms=separate_arms,
    )
    return prepare_experiment(frame, schema, name=name)
