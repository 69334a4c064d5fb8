"""ImpactIQ: uplift modelling on randomized A/B data. Who converts because we treated them?

What a notebook needs, from the package's top:

    from impactiq import load_demo, train_model, save_model, load_model
    experiment = load_demo("hillstrom")                      # or prepare_experiment(read_table(path), schema)
    trained = train_model(experiment, outcome="visit")       # fit, then judge on a holdout
    trained.metrics["qini_auc_score"]                        # {estimate, lower, upper}
    save_model(trained, "visit_forest")
    model = load_model("models/visit_forest")
    uplift, lower, upper = model.effect_with_interval(df)

The package is layered, each subpackage with one job and importing only from those below it:
`data` → `uplift` → `evaluation` → `decisions` → `journeys` → `serving` → `present` → the command line
and the pages.
Importing the package is cheap: each name below loads its module on first use (PEP 562), so
the app and `python -m impactiq --help` start fast.
"""

from impactiq.errors import ImpactIQError

_PUBLIC = {
    "read_table": "impactiq.data.reader",
    "prepare_experiment": "impactiq.data.experiment",
    "Experiment": "impactiq.data.experiment",
    "load_demo": "impactiq.data.demo",
    "UpliftModel": "impactiq.uplift.estimators",
    "load_model": "impactiq.uplift.store",
    "save_model": "impactiq.uplift.store",
    "list_models": "impactiq.uplift.store",
    "train_model": "impactiq.evaluation.training",
    "evaluate_model": "impactiq.evaluation.holdout",
}

__all__ = ["ImpactIQError", *_PUBLIC]


def __getattr__(name: str):
    """Import a public name's module on first use, keeping `import impactiq` light."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'impactiq' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
