"""The uplift layer: estimators, the features as a model saw them, scoring, and the model store.

Builds on the data layer only; it knows nothing of metrics, decisions or display.
"""
