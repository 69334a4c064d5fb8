"""A digest of the data a model saw, so that a saved model can say which rows made it.

With the seed and the sample size, the fingerprint pins down the rows a model was trained on;
`make setup` compares it to skip retraining a demo model that is still current.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from impactiq.data.experiment import Experiment
from impactiq.data.schema import restrict_features


def fingerprint_experiment(experiment: Experiment, outcome: str, features=None) -> dict:
    """The fingerprint of the columns a model of `outcome` on `features` reads.

    Those are the treatment, the outcome, the features and the outcome's true effect if the
    data has one. With the seed and the sample size it pins down the rows a model saw.
    """
    schema = restrict_features(experiment.schema, features)
    truth = [schema.truth[outcome]] if outcome in schema.truth else []
    return data_fingerprint(experiment.frame, [schema.treatment, outcome, *schema.features, *truth])


def data_fingerprint(frame: pd.DataFrame, columns) -> dict:
    """sha256 over the row hashes and names of `columns`: equal data gives an equal digest.

    Row hashes are pandas' `hash_pandas_object` (values only, not the index), so the digest
    changes when a value, a row's position, a column's name or its order changes.
    """
    columns = list(columns)
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy().tobytes())
    return {"sha256": digest.hexdigest(), "n_rows": len(frame), "n_columns": len(columns), "columns": columns}
