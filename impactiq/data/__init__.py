"""The data layer: reading tables, saying what their columns mean, validating and summarising them.

Everything above works on an `Experiment` from `prepare_experiment`, never on a raw table.
This layer imports nothing from the layers above it (uplift, evaluation, decisions, present).
"""
