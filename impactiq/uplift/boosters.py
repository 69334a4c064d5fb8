"""LightGBM models read from LightGBM's own text format and evaluated in NumPy.

A saved model keeps each fitted LightGBM booster as the text `Booster.model_to_string()` writes:
a documented, human-readable format that LightGBM itself can load to check any number. Loading
and scoring, though, must not need LightGBM (importing it also imports scikit-learn) and must
never run code from a file, so this module parses the text and evaluates the trees itself,
following LightGBM's split rule (see `trees`) and objective transforms (LightGBM 4.x):

- the raw score is the sum of every tree's leaf value (learning rates are already in them);
- `binary` outputs `1 / (1 + exp(-sigmoid * raw))`, `cross_entropy` `1 / (1 + exp(-raw))`,
  `regression` the raw score.

Only what ImpactIQ trains is accepted (numerical splits, one output, those objectives); anything
else is refused, not guessed. Tests check predictions against LightGBM's own.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.uplift.trees import PackedTrees, children_descend

_CATEGORICAL = 1
_DEFAULT_LEFT = 2
# More encoded features than any table ImpactIQ reads could give (see encoding.MAX_LEVELS).
_MAX_FEATURES = 1_000_000
_OBJECTIVES = ("binary", "cross_entropy", "regression")


class TextBooster:
    """A LightGBM booster parsed from its text; `predict(X)` equals LightGBM's `predict`."""

    def __init__(self, text: str):
        self.text = text
        try:
            header, trees = _parse(text)
            self.n_features_ = int(header["max_feature_idx"]) + 1
            self.objective_, self.sigmoid_ = _objective(header.get("objective", ""))
            self._stack(trees)
        except ImpactIQError:
            raise
        except (KeyError, ValueError, OverflowError) as error:
            raise ImpactIQError(
                f"A saved LightGBM model is damaged ({error!r}); retrain the model."
            ) from error
        if not 0 < self.n_features_ <= _MAX_FEATURES:
            raise ImpactIQError("A saved LightGBM model has an impossible feature count; retrain the model.")

    def _stack(self, trees: list[dict]) -> None:
        """All trees in flat arrays: internal nodes and leaves numbered across trees."""
        features, thresholds, kinds, lefts, rights, values, roots = [], [], [], [], [], [], []
        node_offset = leaf_offset = 0
        for tree in trees:
            leaf_values = _numbers(tree, "leaf_value", float)
            n_leaves = int(tree["num_leaves"])
            if int(tree.get("num_cat", 0)) or int(tree.get("is_linear", 0)) or leaf_values.size != n_leaves:
                raise ImpactIQError(
                    "A saved LightGBM tree uses categorical splits or linear leaves, which ImpactIQ never "
                    "trains: the model file was not written by ImpactIQ. Retrain the model."
                )
            values.append(leaf_values)
            if n_leaves == 1:
                roots.append(-(leaf_offset + 1))
            else:
                n_nodes = n_leaves - 1
                for key, out in (("left_child", lefts), ("right_child", rights)):
                    child = _numbers(tree, key, int)
                    out.append(np.where(child >= 0, child + node_offset, child - leaf_offset))
                features.append(_numbers(tree, "split_feature", int))
                thresholds.append(_numbers(tree, "threshold", float))
                kinds.append(_numbers(tree, "decision_type", int))
                if any(
                    a.size != n_nodes
                    for a in (features[-1], thresholds[-1], kinds[-1], lefts[-1], rights[-1])
                ):
                    raise ImpactIQError("A saved LightGBM tree is inconsistent; the model file is damaged.")
                roots.append(node_offset)
                node_offset += n_nodes
            leaf_offset += n_leaves

        def flat(parts: list[np.ndarray], dtype) -> np.ndarray:
            return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)

        self.roots_ = np.array(roots, dtype=np.int64)
        self.feature_ = flat(features, np.int64)
        self.threshold_ = flat(thresholds, np.float64)
        kind = flat(kinds, np.int64)
        if np.any(kind & _CATEGORICAL):
            raise ImpactIQError("A saved LightGBM tree uses categorical splits; retrain the model.")
        self.default_left_ = (kind & _DEFAULT_LEFT) > 0
        self.missing_type_ = (kind >> 2) & 3
        self.left_ = flat(lefts, np.int64)
        self.right_ = flat(rights, np.int64)
        self.leaf_value_ = flat(values, np.float64)
        if self.feature_.size and (self.feature_.min() < 0 or self.feature_.max() >= self.n_features_):
            raise ImpactIQError("A saved LightGBM tree splits on a feature the model does not have.")
        if not children_descend(self.left_, self.right_, self.roots_, len(self.leaf_value_)):
            raise ImpactIQError(
                "A saved LightGBM tree's nodes do not form a tree; the model file is damaged."
            )

    def raw_score(self, X: np.ndarray) -> np.ndarray:
        """The sum of the trees' leaf values for each row of X (n, n_features)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ImpactIQError(
                f"The LightGBM model expects {self.n_features_} feature columns; got an array of shape {X.shape}."
            )
        return self._packed.leaf_sum(X, self.leaf_value_)

    @cached_property
    def _packed(self) -> PackedTrees:
        """The trees in the compiled walk's layout, built on the first prediction (not at load)."""
        return PackedTrees(
            self.roots_,
            self.feature_,
            self.threshold_,
            self.left_,
            self.right_,
            n_leaves=len(self.leaf_value_),
            default_left=self.default_left_,
            missing_type=self.missing_type_,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        """What LightGBM's `predict` returns: a probability for binary and cross-entropy models."""
        raw = self.raw_score(X)
        if self.objective_ == "regression":
            return raw
        return 1.0 / (1.0 + np.exp(-self.sigmoid_ * raw))


def _parse(text: str) -> tuple[dict, list[dict]]:
    """The header's `key=value` lines and one such dict per `Tree=` block."""
    if not isinstance(text, str) or not text.startswith("tree\n"):
        raise ImpactIQError("A saved LightGBM model is not in LightGBM's text format; retrain the model.")
    body = text.split("end of trees", 1)[0]
    blocks = body.split("\nTree=")
    header = _pairs(blocks[0])
    trees = [_pairs(block.split("\n", 1)[1] if "\n" in block else "") for block in blocks[1:]]
    if int(header.get("num_class", "1")) != 1 or int(header.get("num_tree_per_iteration", "1")) != 1:
        raise ImpactIQError("A saved LightGBM model has several outputs; ImpactIQ trains only one.")
    if "average_output" in blocks[0].splitlines():
        raise ImpactIQError(
            "A saved LightGBM model averages its trees (a random forest); ImpactIQ never trains one."
        )
    if "max_feature_idx" not in header:
        raise ImpactIQError("A saved LightGBM model lacks its feature count; the model file is damaged.")
    return header, trees


def _pairs(block: str) -> dict[str, str]:
    pairs = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            pairs[key.strip()] = value.strip()
    return pairs


def _numbers(tree: dict, key: str, kind: type) -> np.ndarray:
    if key not in tree:
        raise ImpactIQError(f"A saved LightGBM tree lacks '{key}'; the model file is damaged.")
    try:
        return np.array([kind(v) for v in tree[key].split()], dtype=np.float64 if kind is float else np.int64)
    except (ValueError, OverflowError) as error:
        raise ImpactIQError(
            f"A saved LightGBM tree has a bad '{key}' ({error}); the model file is damaged."
        ) from error


def _objective(line: str) -> tuple[str, float]:
    """('binary' | 'cross_entropy' | 'regression', sigmoid scale) from the `objective=` line.

    Options that change the output (a square-root regression, say) are refused: the
    transform here would not be LightGBM's.
    """
    name, *options = line.split() or [""]
    if name not in _OBJECTIVES:
        raise ImpactIQError(
            f"A saved LightGBM model has objective {name!r}; ImpactIQ trains only {', '.join(_OBJECTIVES)}."
        )
    sigmoid = 1.0
    for option in options:
        key, _, value = option.partition(":")
        if name == "binary" and key == "sigmoid":
            try:
                sigmoid = float(value)
            except ValueError as error:
                raise ImpactIQError(
                    f"A saved LightGBM model has a bad sigmoid {value!r}; retrain it."
                ) from error
        else:
            raise ImpactIQError(
                f"A saved LightGBM model has objective option {option!r}, which ImpactIQ never uses."
            )
    return name, sigmoid
