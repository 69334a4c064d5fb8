"""ImpactIQ: uplift modelling on randomized A/B data.

Headless use of a saved model:

    from impactiq import load_model
    model = load_model("models/demo")
    uplift = model.effect(df)
    lower, upper = model.effect_interval(df, alpha=0.05)

Importing the package is cheap: the modelling libraries (EconML, LightGBM) load only when a
model is trained or loaded, so the app and `python -m impactiq --help` start fast.
"""

from impactiq.errors import ImpactIQError

__all__ = ["ImpactIQError", "list_models", "load_model", "save_model", "train_model"]

_LAZY = {
    "load_model": "impactiq.artifacts",
    "save_model": "impactiq.artifacts",
    "list_models": "impactiq.artifacts",
    "train_model": "impactiq.training",
}


def __getattr__(name: str):
    """Import `load_model` and friends on first use (PEP 562), keeping `import impactiq` light."""
    if name not in _LAZY:
        raise AttributeError(f"module 'impactiq' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)
