"""The evaluation layer: uplift metrics, a model judged on its holdout, and training (fit, then judge).

Builds on the data and uplift layers; decisions and display build on it.
"""
