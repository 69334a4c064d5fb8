"""An uplift model as data: arrays, LightGBM text and JSON, scored without EconML or pickles.

A pickled model runs code when it is loaded, and a hash stored beside it only catches
accidents: whoever can rewrite the file can rewrite the hash. So a saved model holds no pickle.
What every page and command needs from a model (effects and their intervals, expected outcomes,
the meta-learners' bootstrap refits) is a handful of arrays and trees:

- causal forest and forest DR learner: the final forest's node arrays (`forest.ForestPredictor`);
- LinearDML: the final stage's coefficients (intercept first) and their covariance matrix;
- T-, X- and S-learner: their LightGBM boosters, and those of each bootstrap refit;
- every estimator: the LightGBM outcome models that give the expected outcome, and the
  feature encoding.

`UpliftModel` exports this after fitting and predicts through it, so a model scores the same
just trained and loaded again. Two files hold it: `model.json` (the structure, the encoding and
the boosters in LightGBM's own text format) and `model.npz` (the arrays, read with
`allow_pickle=False`). Loading needs NumPy alone and never executes anything from the files;
damaged or foreign content is refused with `ImpactIQError`.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from statistics import NormalDist

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.uplift.boosters import TextBooster
from impactiq.uplift.encoding import FeatureEncoder
from impactiq.uplift.forest import ARRAY_NAMES, ArmForests, ForestPredictor

JSON_FILE = "model.json"
ARRAYS_FILE = "model.npz"
FORMAT = 1
ESTIMATORS = ("causal_forest", "linear_dml", "dr", "t_learner", "x_learner", "s_learner")
_FORESTS = ("causal_forest", "dr")
# Estimators that fit several treated arms; the others fit one (see `UpliftModel.fit`).
MULTI_ARM_ESTIMATORS = ("causal_forest", "dr", "t_learner", "s_learner")
MAX_ARMS = 8
# The range an interval calibration factor may take (`evaluation.calibration` keeps to it).
MIN_INTERVAL_SCALE, MAX_INTERVAL_SCALE = 0.25, 4.0
_META = ("t_learner", "x_learner", "s_learner")
# Boosters of one effect estimate: T (control, treated arm), X (effect on control, on treated), S.
_EFFECT_BOOSTERS = {"t_learner": ("arms", 2), "x_learner": ("cate", 2), "s_learner": ("overall", 1)}
# Boosters giving the expected outcome: one per cross-fitting fold (DML on X, DR on [X, arm]).
_OUTCOME_BOOSTERS = {
    "causal_forest": "outcome",
    "linear_dml": "outcome",
    "dr": "outcome_by_arm",
    "t_learner": "arms",
    "x_learner": "arms",
    "s_learner": "overall",
}


class PortableModel:
    """The prediction side of a fitted `UpliftModel`, in the vocabulary of EconML.

    `effect(X)`, `effect_interval(X, alpha)`, `effect_with_interval(X, alpha)` and
    `predict_outcomes(X)` take a feature table (raw columns; encoded here) and give exactly
    what `UpliftModel` gives for a two-arm experiment. A multi-arm model (`n_arms` > 1:
    causal forest, forest DR learner, T- and S-learner) answers `effect_by_arm`, `effect_by_arm_with_interval`
    and `predict_arm_outcomes` instead, one column per arm. Build one with `UpliftModel`
    (fitting exports it) or `load`.
    """

    def __init__(
        self,
        *,
        estimator: str,
        binary_outcome: bool,
        propensity: float,
        outcome_floor: float,
        interval_method: str,
        encoder: FeatureEncoder,
        boosters: dict[str, list[TextBooster]],
        forest: ForestPredictor | ArmForests | None = None,
        linear: tuple[np.ndarray, np.ndarray] | None = None,
        arm_shares: tuple[float, ...] | None = None,
        interval_scale: tuple[float, ...] | None = None,
        n_jobs: int = -1,
    ):
        self.estimator = estimator
        self.binary_outcome = bool(binary_outcome)
        self.propensity_ = float(propensity)
        # Every arm's known probability, control first; two arms unless told otherwise.
        shares = (1.0 - self.propensity_, self.propensity_) if arm_shares is None else arm_shares
        self.arm_shares_ = tuple(float(share) for share in shares)
        self.outcome_floor_ = float(outcome_floor)
        self.interval_method = interval_method
        # Each arm's factor on its interval's half-width, learned by `evaluation.calibration`.
        self.interval_scale_ = tuple(float(v) for v in (interval_scale or (1.0,) * (len(shares) - 1)))
        self.encoder_ = encoder
        self.boosters_ = boosters
        self.forest_ = forest
        self.linear_ = linear
        self.n_jobs = n_jobs
        self._check()

    @property
    def n_arms(self) -> int:
        """How many treated arms the model compares with control (1 for a two-arm experiment)."""
        return len(self.arm_shares_) - 1

    # ---------------------------------------------------------------- checks
    def _check(self) -> None:
        """Refuse parts that do not make the estimator's model (a damaged or foreign file)."""
        if self.estimator not in ESTIMATORS:
            raise ImpactIQError(f"The saved model names an unknown estimator {self.estimator!r}; retrain it.")
        if not 0.0 < self.propensity_ < 1.0 or self.outcome_floor_ not in (0.0, -np.inf):
            raise ImpactIQError("The saved model's propensity or outcome floor is out of range; retrain it.")
        shares = np.asarray(self.arm_shares_)
        k = self.n_arms
        if not (1 <= k <= MAX_ARMS and np.all(shares > 0) and abs(shares.sum() - 1.0) < 1e-9):
            raise ImpactIQError("The saved model's arm shares are not probabilities; retrain it.")
        if k > 1 and self.estimator not in MULTI_ARM_ESTIMATORS:
            raise ImpactIQError(f"A saved {self.estimator} model cannot have {k} arms; retrain it.")
        scale = np.asarray(self.interval_scale_)
        if scale.shape != (k,) or not np.all((scale >= MIN_INTERVAL_SCALE) & (scale <= MAX_INTERVAL_SCALE)):
            raise ImpactIQError(
                "The saved model's interval calibration is not one factor per arm in range; retrain it."
            )
        n_out = len(self.encoder_.feature_names_out_)
        needed = {_OUTCOME_BOOSTERS[self.estimator]}
        if self.estimator in _META:
            needed.add(_EFFECT_BOOSTERS[self.estimator][0])
        lacking = sorted(needed - set(self.boosters_))
        if lacking:
            raise ImpactIQError(f"The saved model lacks its {', '.join(lacking)} models; retrain it.")
        extra = {"outcome_by_arm": k, "overall": k + 1}
        for role, boosters in self.boosters_.items():
            width = (
                n_out
                + extra.get(role, 0)
                + (k + 1 if role == "bootstrap" and self.estimator == "s_learner" else 0)
            )
            if not boosters or any(b.n_features_ != width for b in boosters):
                raise ImpactIQError(f"The saved {role} models do not fit the model's features; retrain it.")
        if self.estimator in _META:
            role, size = self._effect_boosters()
            arms = self.boosters_[_OUTCOME_BOOSTERS[self.estimator]]
            wrong_arms = self.estimator != "s_learner" and len(arms) != k + 1
            if (
                wrong_arms
                or len(self.boosters_[role]) != size
                or len(self.boosters_.get("bootstrap", [])) % size
            ):
                raise ImpactIQError("The saved model has the wrong number of boosters; retrain it.")
        if self.estimator in _FORESTS and (
            self.forest_ is None or self.forest_.n_features_ != n_out or self.forest_.n_relevant_outputs_ != k
        ):
            raise ImpactIQError("The saved model's forest does not fit its features and arms; retrain it.")
        if self.estimator == "linear_dml":
            coef, cov = self.linear_ if self.linear_ is not None else (np.empty(0), np.empty(0))
            if coef.shape != (n_out + 1,) or cov.shape != (n_out + 1, n_out + 1):
                raise ImpactIQError("The saved linear model does not fit its features; retrain it.")

    def _effect_boosters(self) -> tuple[str, int]:
        """The role of the boosters one effect estimate needs, and how many there are."""
        role, size = _EFFECT_BOOSTERS[self.estimator]
        return role, (self.n_arms + 1 if self.estimator == "t_learner" else size)

    def check_single_arm(self, asked: str) -> None:
        """Refuse a two-arm question (`asked`) of a multi-arm model, naming the multi-arm one."""
        if self.n_arms > 1:
            raise ImpactIQError(
                f"This model compares {self.n_arms} arms with control, so {asked} has no single answer; "
                "ask for every arm at once (effect_by_arm, effect_by_arm_with_interval, predict_arm_outcomes)."
            )

    # ---------------------------------------------------------------- estimates
    @property
    def feature_names_in_(self) -> tuple[str, ...]:
        return self.encoder_.feature_names_in_

    @property
    def has_intervals(self) -> bool:
        """Whether `effect_interval` can answer: analytic estimators, or bootstrap refits kept."""
        return self.estimator not in _META or bool(self.boosters_.get("bootstrap"))

    def encode(self, X) -> np.ndarray:
        """The encoded matrix of a feature table (see `FeatureEncoder`)."""
        return self.encoder_.transform(X)

    def effect(self, X) -> np.ndarray:
        """Estimated individual effect of treatment for each row of X, shape (n,)."""
        self.check_single_arm("effect")
        return self.effect_of(self.encode(X))

    def effect_of(self, features: np.ndarray) -> np.ndarray:
        """`effect` of rows already encoded (two-arm models)."""
        self.check_single_arm("effect")
        return self.effects_of(features)[:, 0]

    def effect_by_arm(self, X) -> np.ndarray:
        """Each row's effect of every arm against control, shape (n, n_arms)."""
        return self.effects_of(self.encode(X))

    def effects_of(self, features: np.ndarray) -> np.ndarray:
        """`effect_by_arm` of rows already encoded."""
        if self.forest_ is not None:
            theta, _ = self.forest_.predict(features, var=False, n_threads=self._threads())
            return theta
        if self.linear_ is not None:
            return (_with_intercept(features) @ self.linear_[0])[:, None]
        role, _ = self._effect_boosters()
        return self._meta_effects(self.boosters_[role], features)

    def effect_interval(self, X, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper (1 - alpha) interval bounds of each row's effect, each shape (n,)."""
        _, lower, upper = self.effect_with_interval(X, alpha=alpha)
        return lower, upper

    def effect_with_interval(self, X, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(effect, lower, upper) of each row: a normal interval around the point estimate.

        The standard error is the forest's variance (bootstrap of little bags), the linear
        stage's OLS standard error, or the spread of the bootstrap refits.
        """
        self.check_single_arm("effect_with_interval")
        point, lower, upper = self.effect_by_arm_with_interval(X, alpha=alpha)
        return point[:, 0], lower[:, 0], upper[:, 0]

    def effect_by_arm_with_interval(
        self, X, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(effect, lower, upper) of every arm against control, each shape (n, n_arms)."""
        z = normal_quantile(alpha)
        features = self.encode(X)
        if self.forest_ is not None:
            point, variance = self.forest_.predict(features, var=True, n_threads=self._threads())
            se = np.sqrt(variance)
        elif self.linear_ is not None:
            coef, cov = self.linear_
            augmented = _with_intercept(features)
            point = (augmented @ coef)[:, None]
            se = np.sqrt(np.einsum("ij,jk,ik->i", augmented, cov, augmented))[:, None]
        else:
            point = self.effects_of(features)
            se = self._bootstrap_by_arm(features).std(axis=0, ddof=1)
        se = se * np.asarray(self.interval_scale_)[None, :]
        return point, point - z * se, point + z * se

    def compare_arms(
        self, X, first: int, second: int, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(difference, lower, upper): each row's effect of arm `first` minus that of `second`.

        Arms are numbered as in fitting (0 control, 1..n_arms); comparing with 0 gives an arm's
        own effect. The forest's interval is EconML's for `effect_interval(X, T0=second,
        T1=first)`: the variance of the projection, not a sum of two variances, since the two
        effects come from one forest and are correlated; the meta-learners use the spread of
        their refits' differences.
        """
        k = self.n_arms
        if not {first, second} <= set(range(k + 1)) or first == second:
            raise ImpactIQError(
                f"Compare two different arms among 0 (control) to {k}; got {first} and {second}."
            )
        z = normal_quantile(alpha)
        features = self.encode(X)
        sign = np.zeros(k)
        for arm, weight in ((first, 1.0), (second, -1.0)):
            if arm:
                sign[arm - 1] = weight
        if self.forest_ is not None:
            projector = np.tile(sign, (len(features), 1))
            point, variance = self.forest_.predict(
                features, var=True, n_threads=self._threads(), projector=projector
            )
            point, se = point[:, 0], np.sqrt(variance[:, 0])
        elif self.linear_ is not None:
            point, lower, upper = self.effect_by_arm_with_interval(X, alpha=alpha)
            if sign[0] > 0:
                return point[:, 0], lower[:, 0], upper[:, 0]
            return -point[:, 0], -upper[:, 0], -lower[:, 0]
        else:
            point = self.effects_of(features) @ sign
            se = (self._bootstrap_by_arm(features) @ sign).std(axis=0, ddof=1)
        # A difference of two arms takes the root mean square of their calibration factors.
        scales = np.asarray(self.interval_scale_)[np.flatnonzero(sign)]
        se = se * float(np.sqrt(np.mean(scales**2)))
        return point, point - z * se, point + z * se

    def bootstrap_effects(self, features: np.ndarray) -> np.ndarray:
        """Each bootstrap refit's effect on encoded rows, shape (refits, n) (two-arm models)."""
        self.check_single_arm("bootstrap_effects")
        return self._bootstrap_by_arm(features)[:, :, 0]

    def _bootstrap_by_arm(self, features: np.ndarray) -> np.ndarray:
        """Each bootstrap refit's effect of every arm, shape (refits, n, n_arms)."""
        refits = self.boosters_.get("bootstrap", [])
        if self.estimator not in _META or not refits:
            raise ImpactIQError(
                f"The {self.estimator} model has no bootstrap refits, so no bootstrap intervals; "
                "refit it with n_bootstrap of 20 or more."
            )
        _, size = self._effect_boosters()
        return np.stack(
            [self._meta_effects(refits[i : i + size], features) for i in range(0, len(refits), size)]
        )

    def _meta_effects(self, boosters: list[TextBooster], features: np.ndarray) -> np.ndarray:
        """EconML's meta-learner effects (econml 0.17 `const_marginal_effect`), known propensity,
        one column per arm."""
        if self.estimator == "t_learner":
            control, *arms = (b.predict(features) for b in boosters)
            return np.column_stack([arm - control for arm in arms])
        if self.estimator == "x_learner":
            on_control, on_treated = boosters
            e = self.propensity_
            return (e * on_control.predict(features) + (1.0 - e) * on_treated.predict(features))[:, None]
        (overall,) = boosters
        arms = [
            overall.predict(_with_arm_columns(features, arm, self.n_arms)) for arm in range(self.n_arms + 1)
        ]
        return np.column_stack([arm - arms[0] for arm in arms[1:]])

    def predict_outcomes(self, X, uplift: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Expected outcome of each row without and with treatment, `(y0, y1)` (two-arm models).

        From the expected outcome under the experiment's mix, m(x) = e·y1 + (1 − e)·y0, and the
        effect tau = y1 − y0 follow y0 = m − e·tau and y1 = m + (1 − e)·tau, so that y1 − y0 is
        exactly the model's effect. m comes from the estimator's own outcome models: the
        cross-fitted E[Y|X] models (DML), the arm-specific regressions (DR, T-, X-, S-learner),
        averaged as e·mu1 + (1 − e)·mu0. Binary outcomes are clipped to [0, 1], and an outcome
        that was never negative in training (spend) to [0, inf). Pass `uplift` when `effect(X)`
        is already known, to save computing it again.
        """
        self.check_single_arm("predict_outcomes")
        features = self.encode(X)
        e = self.propensity_
        if uplift is None:
            uplift = self.effect_of(features)
        mixed = self._expected_outcome(features)
        y0 = mixed - e * uplift
        y1 = mixed + (1.0 - e) * uplift
        upper = 1.0 if self.binary_outcome else np.inf
        return np.clip(y0, self.outcome_floor_, upper), np.clip(y1, self.outcome_floor_, upper)

    def predict_arm_outcomes(self, X) -> np.ndarray:
        """Each row's expected outcome under control and under every arm, shape (n, n_arms + 1).

        As in `predict_outcomes`: with the arms' known shares e_k and effects tau_k, the mix
        m(x) = sum_k e_k·y_k gives y_0 = m − sum_k e_k·tau_k and y_k = y_0 + tau_k, so every
        difference y_k − y_0 is exactly the model's effect of arm k (before clipping).
        """
        features = self.encode(X)
        tau = self.effects_of(features)
        y0 = self._expected_outcome(features) - tau @ np.asarray(self.arm_shares_[1:])
        outcomes = np.column_stack([y0, y0[:, None] + tau])
        upper = 1.0 if self.binary_outcome else np.inf
        return np.clip(outcomes, self.outcome_floor_, upper)

    def _expected_outcome(self, features: np.ndarray) -> np.ndarray:
        """m(x) = E[Y | x] under the experiment's arm shares, from the outcome models."""
        shares = np.asarray(self.arm_shares_)
        if self.estimator in ("causal_forest", "linear_dml"):
            return np.mean([b.predict(features) for b in self.boosters_["outcome"]], axis=0)
        if self.estimator == "dr":
            # EconML's regression reads the features and the treatment one-hot without control.
            folds = self.boosters_["outcome_by_arm"]
            arms = [
                np.mean([b.predict(_with_treated_columns(features, arm, self.n_arms)) for b in folds], axis=0)
                for arm in range(self.n_arms + 1)
            ]
        elif self.estimator == "s_learner":
            (overall,) = self.boosters_["overall"]
            arms = [
                overall.predict(_with_arm_columns(features, arm, self.n_arms))
                for arm in range(self.n_arms + 1)
            ]
        else:
            arms = [b.predict(features) for b in self.boosters_["arms"]]
        return sum(share * arm for share, arm in zip(shares[::-1], arms[::-1], strict=True))

    def _threads(self) -> int:
        """Threads for forest prediction (the walk itself keeps small inputs on one thread)."""
        if self.n_jobs == -1:
            return os.cpu_count() or 1
        return max(1, self.n_jobs)

    # ---------------------------------------------------------------- files
    def save(self, folder: str | os.PathLike) -> None:
        """Write `model.json` and `model.npz` into `folder`."""
        folder = Path(folder)
        structure = {
            "format": FORMAT,
            "estimator": self.estimator,
            "binary_outcome": self.binary_outcome,
            "propensity": self.propensity_,
            "arm_shares": list(self.arm_shares_),
            "outcome_floor": None if np.isinf(self.outcome_floor_) else self.outcome_floor_,
            "interval_method": self.interval_method,
            "interval_scale": list(self.interval_scale_),
            "encoder": self.encoder_.to_dict(),
            "boosters": {role: [b.text for b in boosters] for role, boosters in self.boosters_.items()},
        }
        (folder / JSON_FILE).write_text(json.dumps(structure), encoding="utf-8")
        arrays = {}
        if self.forest_ is not None:
            arrays.update({f"forest.{name}": value for name, value in self.forest_.arrays().items()})
        if self.linear_ is not None:
            arrays["linear.coef"], arrays["linear.cov"] = self.linear_
        with (folder / ARRAYS_FILE).open("wb") as handle:
            np.savez(handle, **arrays)

    @classmethod
    def load(cls, folder: str | os.PathLike) -> PortableModel:
        """The model in `folder`'s `model.json` and `model.npz`; never unpickles anything."""
        folder = Path(folder)
        return cls.from_bytes((folder / JSON_FILE).read_bytes(), (folder / ARRAYS_FILE).read_bytes())

    @classmethod
    def from_bytes(cls, structure_json: bytes, arrays_npz: bytes) -> PortableModel:
        """The model from the contents of `model.json` and `model.npz` (checked by the caller)."""
        try:
            structure = json.loads(structure_json.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:
            raise ImpactIQError(
                f"The saved {JSON_FILE} is not valid JSON ({error}); retrain the model."
            ) from error
        if not isinstance(structure, dict):
            raise ImpactIQError(f"The saved {JSON_FILE} does not describe a model; retrain the model.")
        return cls.from_parts(structure, _read_arrays(arrays_npz))

    @classmethod
    def from_parts(cls, structure: dict, arrays: dict[str, np.ndarray]) -> PortableModel:
        """A model from the parsed JSON structure and the arrays, after checking both."""
        try:
            if structure["format"] != FORMAT:
                raise ImpactIQError(
                    f"The saved model has format {structure['format']!r}; this ImpactIQ reads {FORMAT}. Retrain it."
                )
            boosters = {
                str(role): [TextBooster(text) for text in texts]
                for role, texts in structure["boosters"].items()
            }
            floor = structure["outcome_floor"]
            forest = linear = None
            n_arms = len(structure["arm_shares"]) - 1
            if structure["estimator"] == "dr" and n_arms > 1:
                forest = ArmForests.from_arrays(
                    {
                        name[len("forest.") :]: value
                        for name, value in arrays.items()
                        if name.startswith("forest.")
                    },
                    n_arms,
                )
            elif structure["estimator"] in _FORESTS:
                forest = ForestPredictor.from_arrays({name: arrays[f"forest.{name}"] for name in ARRAY_NAMES})
            if structure["estimator"] == "linear_dml":
                linear = (
                    np.asarray(arrays["linear.coef"], dtype=np.float64),
                    np.asarray(arrays["linear.cov"], dtype=np.float64),
                )
            return cls(
                estimator=str(structure["estimator"]),
                binary_outcome=bool(structure["binary_outcome"]),
                propensity=float(structure["propensity"]),
                arm_shares=tuple(float(v) for v in structure["arm_shares"]),
                outcome_floor=-np.inf if floor is None else float(floor),
                interval_method=str(structure["interval_method"]),
                # Models saved before interval calibration existed have uncalibrated intervals.
                interval_scale=tuple(float(v) for v in structure.get("interval_scale", [1.0] * n_arms)),
                encoder=FeatureEncoder.from_dict(structure["encoder"]),
                boosters=boosters,
                forest=forest,
                linear=linear,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            if isinstance(error, ImpactIQError):
                raise
            raise ImpactIQError(
                f"The saved model is damaged or incomplete ({error!r}); retrain it."
            ) from error


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _read_arrays(content: bytes) -> dict[str, np.ndarray]:
    """The arrays of a `model.npz`, read only after checking that they are what they claim.

    `numpy.savez` stores each array uncompressed with a header giving its dtype and shape; a
    damaged or crafted file could claim a shape far larger than its bytes (numpy would try to
    allocate it) or hold a compressed bomb. Each member must be stored, and its header's
    size must fit the member; object arrays (pickles) are refused by `allow_pickle=False`.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for info in archive.infolist():
                if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(content):
                    raise ImpactIQError(
                        f"The saved {ARRAYS_FILE} holds a member it should not; retrain the model."
                    )
                with archive.open(info) as member:
                    read_header = _NPY_HEADERS.get(np.lib.format.read_magic(member))
                    if read_header is None:
                        raise ImpactIQError(
                            f"The saved {ARRAYS_FILE} is in an unknown format; retrain the model."
                        )
                    shape, _, dtype = read_header(member)
                    if dtype.hasobject or math.prod(shape) * dtype.itemsize > info.file_size:
                        raise ImpactIQError(
                            f"The saved {ARRAYS_FILE} holds an array that does not match its size; retrain the model."
                        )
        with np.load(io.BytesIO(content), allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}
    except ImpactIQError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, OverflowError) as error:
        raise ImpactIQError(
            f"The saved {ARRAYS_FILE} cannot be read ({error}); retrain the model."
        ) from error


def normal_quantile(alpha: float) -> float:
    """z such that a normal interval point ± z·se has level 1 − alpha."""
    if not 0.0 < alpha < 1.0:
        raise ImpactIQError(f"alpha must lie strictly between 0 and 1 (0.05 for 95%); got {alpha}.")
    return NormalDist().inv_cdf(1 - alpha / 2)


def _with_intercept(features: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(features)), features])


def _with_treated_columns(features: np.ndarray, arm: int, n_arms: int) -> np.ndarray:
    """The DR learner's regression input: features, then the treated arms' one-hot columns
    (control is all zeros; one column, the treatment itself, for a two-arm experiment)."""
    onehot = np.zeros((len(features), n_arms))
    if arm:
        onehot[:, arm - 1] = 1.0
    return np.column_stack([features, onehot])


def _with_arm_columns(features: np.ndarray, arm: int, n_arms: int) -> np.ndarray:
    """The S-learner's input: features, then EconML's one-hot treatment columns (control first)."""
    onehot = np.zeros((len(features), n_arms + 1))
    onehot[:, arm] = 1.0
    return np.column_stack([features, onehot])
