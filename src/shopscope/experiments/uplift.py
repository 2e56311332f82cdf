"""Uplift targeting: who does a coupon or a campaign actually move?

An A/B test answers "does the e-mail work on average?". Uplift modelling asks the question a
promotion budget needs: *for whom* does it work. The *uplift* (conditional average treatment
effect) of a customer with features ``x`` is ``τ(x) = E[Y | x, treated] − E[Y | x, control]``.
It cannot be observed for one customer (each is either treated or not), so it is estimated
from a randomised experiment by a *meta-learner*, which turns ordinary scikit-learn
classifiers or regressors into an uplift model:

* :class:`TwoModelUplift` (T-learner): one outcome model per arm, ``τ̂ = μ̂₁(x) − μ̂₀(x)``.
* :class:`TransformedOutcomeUplift` (Athey & Imbens transformed outcome, the general form of
  the class transformation of Jaśkowski & Jaroszewicz): with the known propensity ``e``
  (the share assigned to treatment), ``Z = Y·(T − e) / (e·(1 − e))`` has ``E[Z | x] = τ(x)``,
  so one regressor of ``Z`` on ``x`` estimates the uplift directly.
* :class:`XLearnerUplift` (Künzel et al. 2019): outcome models per arm, then models of the
  imputed individual effects in each arm, blended with the propensity.

All three keep the scikit-learn estimator contract: hyperparameters in ``__init__`` (the base
estimators are cloned, never fitted in place), ``fit(X, treatment, y)`` returns ``self``,
learned state ends in ``_``, ``predict_uplift(X)`` never refits.

A model is judged on held-out data by how much incremental outcome it captures when the
customers are targeted in order of predicted uplift (:func:`qini_curve`, :func:`uplift_curve`,
:func:`qini_coefficient`, :func:`auuc`): random targeting captures a straight line, a useful
model bows above it. :func:`uplift_audience` turns a fitted model into the list of customers
worth targeting, for the audiences export.

Training needs unit-level rows, so :func:`training_frame` projects only the id, feature,
treatment and outcome columns in the engine and brings those (and nothing else) to Python.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.uniform(size=(4000, 2))
>>> treatment = rng.integers(0, 2, size=4000)
>>> y = rng.binomial(1, 0.2 + 0.3 * treatment * X[:, 0])   # the effect grows with x0
>>> from sklearn.linear_model import LogisticRegression
>>> model = TwoModelUplift(LogisticRegression()).fit(X, treatment, y)
>>> low, high = model.predict_uplift(np.array([[0.05, 0.5], [0.95, 0.5]]))
>>> bool(high > low)
True
>>> qini_coefficient(y, treatment, model.predict_uplift(X)) > 0
True

References
----------
Radcliffe, N. J. (2007). Using control groups to target on predicted lift: building and
assessing uplift models. *Direct Marketing Analytics Journal*, 1, 14–21.

Gutierrez, P., & Gérardy, J.-Y. (2017). Causal inference and uplift modelling: a review of
the literature. *Proceedings of Machine Learning Research*, 67, 1–13.

Athey, S., & Imbens, G. W. (2015). Machine learning methods for estimating heterogeneous
causal effects. arXiv:1504.01132.

Jaśkowski, M., & Jaroszewicz, S. (2012). Uplift modeling for clinical trial data. ICML
Workshop on Clinical Data Analysis.

Künzel, S. R., Sekhon, J. S., Bickel, P. J., & Yu, B. (2019). Metalearners for estimating
heterogeneous treatment effects using machine learning. *PNAS*, 116(10), 4156–4165.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted

from shopscope.errors import OptionError

__all__ = [
    "CurveKind",
    "TransformedOutcomeUplift",
    "TwoModelUplift",
    "UpliftCurve",
    "UpliftData",
    "XLearnerUplift",
    "auuc",
    "qini_coefficient",
    "qini_curve",
    "training_frame",
    "uplift_audience",
    "uplift_curve",
]

CurveKind = Literal["qini", "uplift"]


# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------
def _treatment(treatment: Any, n: int | None = None) -> np.ndarray:
    """The treatment indicator as a 0/1 int array; anything but 0/1 (or bool) is refused."""
    t = np.asarray(treatment)
    if t.ndim != 1:
        raise OptionError(f"treatment must be one-dimensional, got shape {t.shape}",
                          hint="pass one 0/1 value per unit")
    if n is not None and len(t) != n:
        raise OptionError(f"treatment has {len(t)} values for {n} units",
                          hint="pass one treatment value per row of X / y")
    if t.dtype == bool:
        return t.astype(np.int8)
    bad = set(pd.unique(t)) - {0, 1}
    if bad:
        shown = sorted(map(repr, bad))[:5]
        raise OptionError(f"treatment must be 0 (control) or 1 (treated), got {', '.join(shown)}",
                          hint="map the variant names to 0/1 first (training_frame does this)")
    return t.astype(np.int8)


def _outcome(y: Any, n: int | None = None, name: str = "y") -> np.ndarray:
    """A finite float outcome vector of the expected length."""
    v = np.asarray(y, dtype=float)
    if v.ndim != 1:
        raise OptionError(f"{name} must be one-dimensional, got shape {v.shape}")
    if n is not None and len(v) != n:
        raise OptionError(f"{name} has {len(v)} values for {n} units",
                          hint="pass one value per unit")
    if not np.all(np.isfinite(v)):
        raise OptionError(f"{name} contains missing or infinite values",
                          hint="fill or drop them before fitting")
    return v


def _both_arms(t: np.ndarray) -> None:
    """Refuse data that lacks a treated or a control unit: no contrast can be made."""
    n_t = int(t.sum())
    if n_t == 0 or n_t == len(t):
        raise OptionError(f"needs treated and control units, got {n_t} treated of {len(t)}",
                          hint="use the rows of a randomised experiment with both arms")


def _propensity(value: float | None, t: np.ndarray) -> float:
    """The stated propensity, or the treated share of the data when none is stated."""
    e = float(t.mean()) if value is None else float(value)
    if not 0.0 < e < 1.0:
        raise OptionError(f"propensity must be strictly between 0 and 1, got {value!r}",
                          hint="state the share of units assigned to treatment, e.g. 0.5")
    return e


def _matrix(X: Any) -> Any:
    """Lists become arrays; arrays, DataFrames and sparse matrices pass unchanged."""
    return X if hasattr(X, "shape") else np.asarray(X)


def _rows(X: Any, mask: np.ndarray) -> Any:
    """Rows of X (array or DataFrame) selected by a boolean mask."""
    return X[mask] if not isinstance(X, pd.DataFrame) else X.loc[mask]


def _is_binary(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _default_outcome_model(binary: bool) -> BaseEstimator:
    """Small boosted trees: nonlinear, robust to unscaled features, reproducible."""
    common = {"max_iter": 50, "learning_rate": 0.1, "max_leaf_nodes": 8,
              "min_samples_leaf": 100, "early_stopping": False, "random_state": 0}
    return HistGradientBoostingClassifier(**common) if binary else \
        HistGradientBoostingRegressor(**common)


def _default_effect_model() -> BaseEstimator:
    """Effect targets are noisy (transformed outcomes swing ±1/e): shallow, slow learning."""
    return HistGradientBoostingRegressor(max_iter=50, learning_rate=0.05, max_leaf_nodes=6,
                                         min_samples_leaf=200, early_stopping=False,
                                         random_state=0)


class _Constant:
    """Fallback outcome model for an arm whose outcome never varies (e.g. nobody bought)."""

    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X: Any) -> np.ndarray:
        return np.full(X.shape[0], self.value)


def _fit_outcome(template: BaseEstimator | None, X: Any, y: np.ndarray, binary: bool) -> Any:
    """Fit a clone of the outcome model; a classifier needs both classes, else a constant."""
    model = clone(template) if template is not None else _default_outcome_model(binary)
    if is_classifier(model) and len(np.unique(y)) < 2:
        return _Constant(float(y[0]))
    return model.fit(X, y)


def _predict_outcome(model: Any, X: Any) -> np.ndarray:
    """Expected outcome: P(y = 1) for a classifier, the prediction for a regressor."""
    if isinstance(model, _Constant) or not is_classifier(model):
        return np.asarray(model.predict(X), dtype=float)
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    return proba[:, classes.index(1)] if 1 in classes else np.zeros(X.shape[0])


class _UpliftModel(BaseEstimator):
    """Shared checks of the meta-learners (one line: validate, then ``_fit``)."""

    def fit(self, X: Any, treatment: Any, y: Any) -> _UpliftModel:
        """Fit on a randomised experiment; returns ``self``.

        Parameters
        ----------
        X
            Features, array-like or DataFrame of shape (n, p) — anything the base
            estimators accept (a :class:`~sklearn.pipeline.Pipeline` may one-hot encode).
        treatment
            0 (control) or 1 (treated) per unit.
        y
            The outcome per unit: binary (0/1, e.g. visited) or continuous (e.g. spend).

        Returns
        -------
        self

        Raises
        ------
        OptionError
            Lengths differ, treatment is not 0/1, y has missing values, an arm is empty,
            or the propensity is not in (0, 1).
        """
        X = _matrix(X)
        n = X.shape[0]
        t = _treatment(treatment, n)
        v = _outcome(y, n)
        _both_arms(t)
        self.outcome_kind_ = "binary" if _is_binary(v) else "continuous"
        self.n_treated_ = int(t.sum())
        self.n_control_ = int(n - t.sum())
        self._fit(X, t, v)
        return self

    def _fit(self, X: Any, t: np.ndarray, y: np.ndarray) -> None:
        raise NotImplementedError

    def predict_uplift(self, X: Any) -> np.ndarray:
        """Predicted uplift τ̂(x) per row of X (same units as y: a probability difference
        for a binary outcome, an amount for a continuous one)."""
        check_is_fitted(self, "outcome_kind_")
        return np.asarray(self._predict(_matrix(X)), dtype=float)

    def _predict(self, X: Any) -> np.ndarray:
        raise NotImplementedError


# --------------------------------------------------------------------------------------
# Meta-learners
# --------------------------------------------------------------------------------------
class TwoModelUplift(_UpliftModel):
    """T-learner: separate outcome models for the treated and the control arm.

    ``τ̂(x) = μ̂₁(x) − μ̂₀(x)`` where ``μ̂ₐ`` is fitted on arm ``a`` only. Simple and
    unbiased when both models are good; its weakness is that the two models' errors do not
    cancel, so a small effect can drown in their noise (which the other learners address).

    Parameters
    ----------
    estimator
        Base outcome model, cloned once per arm. A classifier (its ``predict_proba`` for
        class 1 is used) or a regressor (``predict``). ``None``: small gradient-boosted
        trees, a classifier when ``y`` is 0/1 and a regressor otherwise.

    Attributes
    ----------
    model_treated_, model_control_
        The fitted outcome models (a constant when an arm's outcome never varies).
    outcome_kind_
        ``"binary"`` or ``"continuous"``.
    n_treated_, n_control_
        Units per arm seen in ``fit``.
    """

    def __init__(self, estimator: BaseEstimator | None = None) -> None:
        self.estimator = estimator

    def _fit(self, X: Any, t: np.ndarray, y: np.ndarray) -> None:
        binary = self.outcome_kind_ == "binary"
        treated = t == 1
        self.model_treated_ = _fit_outcome(self.estimator, _rows(X, treated), y[treated], binary)
        self.model_control_ = _fit_outcome(self.estimator, _rows(X, ~treated), y[~treated],
                                           binary)

    def _predict(self, X: Any) -> np.ndarray:
        return _predict_outcome(self.model_treated_, X) - _predict_outcome(self.model_control_, X)


class TransformedOutcomeUplift(_UpliftModel):
    """Transformed outcome (class transformation) learner with a known propensity.

    With ``e`` the probability of assignment to treatment, the transformed outcome
    ``Z = Y · (T − e) / (e · (1 − e))`` (``Y/e`` for treated units, ``−Y/(1 − e)`` for
    controls) satisfies ``E[Z | x] = τ(x)`` in a randomised experiment, so a single
    regressor of ``Z`` on ``x`` estimates the uplift. For a binary outcome and ``e = ½`` the
    class transformation of Jaśkowski & Jaroszewicz (``Z' = 1`` when ``Y = T``) identifies
    the same ``τ(x) = 2·P(Z' = 1 | x) − 1``; the transformed outcome extends it to any
    propensity and to continuous outcomes. One model sees all the data, but ``Z`` is noisy
    (``Y`` scaled by ``1/e`` or ``−1/(1 − e)``), so the regressor must be regularised.

    With ``center=True`` (default) the mean outcome ``ȳ`` of the fit data is subtracted
    first: ``Z = (Y − ȳ) · (T − e) / (e · (1 − e))``. This keeps ``E[Z | x] = τ(x)``
    (randomisation makes ``E[T − e | x] = 0``, so a constant shift drops out) and removes
    most of the noise when the outcome has a large baseline (spend, basket size): without
    it every treated unit's ``Z`` carries ``+baseline/e`` and every control's
    ``−baseline/(1 − e)``.

    Parameters
    ----------
    estimator
        Regressor of ``Z`` (cloned). ``None``: shallow, slowly learning boosted trees.
    propensity
        The share of units randomised to treatment (known by design, e.g. ½ for a 50/50
        split). ``None``: the treated share of the data passed to ``fit``.
    center
        Subtract the mean outcome before transforming (see above).

    Attributes
    ----------
    model_
        The fitted regressor of ``Z``.
    propensity_
        The propensity used.
    offset_
        The constant subtracted from ``Y`` (``ȳ``, or 0 when ``center=False``).
    """

    def __init__(self, estimator: BaseEstimator | None = None,
                 propensity: float | None = None, center: bool = True) -> None:
        self.estimator = estimator
        self.propensity = propensity
        self.center = center

    def _fit(self, X: Any, t: np.ndarray, y: np.ndarray) -> None:
        e = _propensity(self.propensity, t)
        offset = float(y.mean()) if self.center else 0.0
        z = (y - offset) * (t - e) / (e * (1.0 - e))
        model = clone(self.estimator) if self.estimator is not None else _default_effect_model()
        if is_classifier(model):
            raise OptionError(f"the transformed outcome needs a regressor, got {model!r}",
                              hint="pass e.g. HistGradientBoostingRegressor() or Ridge()")
        self.propensity_ = e
        self.offset_ = offset
        self.model_ = model.fit(X, z)

    def _predict(self, X: Any) -> np.ndarray:
        return self.model_.predict(X)


class XLearnerUplift(_UpliftModel):
    """X-learner (Künzel et al. 2019): impute individual effects across arms, then model them.

    1. Outcome models ``μ̂₀`` on controls and ``μ̂₁`` on treated units (as the T-learner).
    2. Imputed effects: ``D¹ = Y − μ̂₀(x)`` for treated units, ``D⁰ = μ̂₁(x) − Y`` for
       controls; regressors ``τ̂₁`` of ``D¹`` (on treated rows) and ``τ̂₀`` of ``D⁰`` (on
       control rows).
    3. ``τ̂(x) = e · τ̂₀(x) + (1 − e) · τ̂₁(x)`` with the propensity ``e`` — the effect model
       of the larger arm gets the larger weight, which helps when arms are unbalanced.

    Parameters
    ----------
    outcome_estimator
        Outcome model of step 1 (cloned per arm); ``None`` as in :class:`TwoModelUplift`.
    effect_estimator
        Regressor of step 2 (cloned per arm); ``None``: shallow boosted trees.
    propensity
        Share randomised to treatment; ``None``: the treated share of the fit data.

    Attributes
    ----------
    outcome_treated_, outcome_control_, effect_treated_, effect_control_
        The four fitted models.
    propensity_
        The blending weight ``e``.
    """

    def __init__(self, outcome_estimator: BaseEstimator | None = None,
                 effect_estimator: BaseEstimator | None = None,
                 propensity: float | None = None) -> None:
        self.outcome_estimator = outcome_estimator
        self.effect_estimator = effect_estimator
        self.propensity = propensity

    def _fit(self, X: Any, t: np.ndarray, y: np.ndarray) -> None:
        e = _propensity(self.propensity, t)
        binary = self.outcome_kind_ == "binary"
        treated = t == 1
        x1, x0 = _rows(X, treated), _rows(X, ~treated)
        mu1 = _fit_outcome(self.outcome_estimator, x1, y[treated], binary)
        mu0 = _fit_outcome(self.outcome_estimator, x0, y[~treated], binary)
        d1 = y[treated] - _predict_outcome(mu0, x1)
        d0 = _predict_outcome(mu1, x0) - y[~treated]

        def effect_model() -> BaseEstimator:
            est = self.effect_estimator
            return clone(est) if est is not None else _default_effect_model()

        self.propensity_ = e
        self.outcome_treated_, self.outcome_control_ = mu1, mu0
        self.effect_treated_ = effect_model().fit(x1, d1)
        self.effect_control_ = effect_model().fit(x0, d0)

    def _predict(self, X: Any) -> np.ndarray:
        e = self.propensity_
        return e * self.effect_control_.predict(X) + (1.0 - e) * self.effect_treated_.predict(X)


# --------------------------------------------------------------------------------------
# Evaluation: Qini and uplift curves
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class UpliftCurve:
    """Cumulative incremental outcome when targeting units in order of decreasing score.

    One point per distinct score (units with equal scores enter together, so the curve
    does not depend on how ties happen to be ordered), plus the origin.

    Attributes
    ----------
    kind
        ``"qini"`` or ``"uplift"`` (definitions at :func:`qini_curve`, :func:`uplift_curve`).
    targeted
        Number of units targeted at each point, ``0 … n``.
    share
        ``targeted / n``, from 0 to 1.
    gain
        Incremental outcome (in outcome units, e.g. extra visits or extra spend) of
        targeting those units; ``gain[-1]`` is what targeting everyone gives.
    n, n_treated, n_control
        Units in the evaluation data.
    """

    kind: CurveKind
    targeted: np.ndarray
    share: np.ndarray
    gain: np.ndarray
    n: int
    n_treated: int
    n_control: int

    @property
    def random_gain(self) -> np.ndarray:
        """The random-targeting line: a share φ of units captures φ · ``gain[-1]``."""
        return self.share * self.gain[-1]

    @property
    def area(self) -> float:
        """Area under ``gain / n`` over the share targeted (trapezoid rule)."""
        return float(np.trapezoid(self.gain / self.n, self.share))

    @property
    def random_area(self) -> float:
        """Area under the random-targeting line, ``gain[-1] / n / 2``."""
        return float(self.gain[-1] / self.n / 2.0)

    @property
    def coefficient(self) -> float:
        """``area − random_area``: > 0 when the score targets better than chance."""
        return self.area - self.random_area

    def to_frame(self) -> pd.DataFrame:
        """The points as a table (targeted, share, gain, random_gain) for charts."""
        return pd.DataFrame({"targeted": self.targeted, "share": self.share,
                             "gain": self.gain, "random_gain": self.random_gain})


def _cumulative(y: Any, treatment: Any, score: Any) -> tuple[np.ndarray, ...]:
    """Cumulative counts and outcome sums per arm at the end of each tie group."""
    s = np.asarray(score, dtype=float)
    if s.ndim != 1 or len(s) == 0:
        raise OptionError(f"uplift_score must be a non-empty 1-d array, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise OptionError("uplift_score contains missing or infinite values",
                          hint="score every unit")
    n = len(s)
    t = _treatment(treatment, n)
    v = _outcome(y, n)
    _both_arms(t)
    order = np.argsort(-s, kind="stable")
    s, t, v = s[order], t[order], v[order]
    n_t = np.cumsum(t)
    n_c = np.cumsum(1 - t)
    y_t = np.cumsum(v * t)
    y_c = np.cumsum(v * (1 - t))
    ends = np.r_[np.flatnonzero(np.diff(s) != 0), n - 1]
    zero = np.zeros(1)
    return tuple(np.r_[zero, a[ends]] for a in (n_t, n_c, y_t, y_c))


def _curve(kind: CurveKind, y: Any, treatment: Any, score: Any) -> UpliftCurve:
    n_t, n_c, y_t, y_c = _cumulative(y, treatment, score)
    both = (n_t > 0) & (n_c > 0)
    safe_t, safe_c = np.where(both, n_t, 1.0), np.where(both, n_c, 1.0)
    if kind == "qini":
        gain = y_t - y_c * n_t / safe_c
    else:
        gain = (y_t / safe_t - y_c / safe_c) * (n_t + n_c)
    gain = np.where(both, gain, 0.0)
    targeted = (n_t + n_c).astype(np.int64)
    n = int(targeted[-1])
    return UpliftCurve(kind=kind, targeted=targeted, share=targeted / n, gain=gain, n=n,
                       n_treated=int(n_t[-1]), n_control=int(n_c[-1]))


def qini_curve(y: Any, treatment: Any, uplift_score: Any) -> UpliftCurve:
    """Qini curve: incremental outcome of targeting the top-scored units (Radcliffe 2007).

    Sort units by decreasing ``uplift_score``. For the top ``k`` units let ``N_T(k)``,
    ``N_C(k)`` be the treated and control counts and ``Y_T(k)``, ``Y_C(k)`` the sums of
    the outcome in each arm. Then

    ``Q(k) = Y_T(k) − Y_C(k) · N_T(k) / N_C(k)``

    — the treated outcomes minus what the same number of treated units would have
    produced at the control rate: the incremental outcome among the treated part of the
    top ``k`` (Gutierrez & Gérardy 2017, eq. 13). ``Q(k) = 0`` while either arm is still
    empty. Ties in the score enter together (one point per distinct score).

    Parameters
    ----------
    y
        Outcome per unit (0/1 or continuous).
    treatment
        0/1 per unit.
    uplift_score
        Predicted uplift (or any score: only its order matters).

    Returns
    -------
    UpliftCurve
        ``kind="qini"``.

    Raises
    ------
    OptionError
        Lengths differ, treatment not 0/1, missing values, or an arm is empty.

    Examples
    --------
    >>> c = qini_curve([1, 0, 1, 1, 0, 1], [1, 0, 1, 0, 1, 0],
    ...                [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    >>> c.gain.tolist()
    [0.0, 0.0, 1.0, 2.0, 1.0, 0.5, 0.0]
    >>> round(c.coefficient, 6)
    0.125
    """
    return _curve("qini", y, treatment, uplift_score)


def uplift_curve(y: Any, treatment: Any, uplift_score: Any) -> UpliftCurve:
    """Uplift curve: the top-``k`` rate difference scaled to the ``k`` units targeted.

    With the notation of :func:`qini_curve`,

    ``U(k) = (Y_T(k) / N_T(k) − Y_C(k) / N_C(k)) · (N_T(k) + N_C(k))``

    — the estimated incremental outcome if all ``k`` top units were treated (Gutierrez &
    Gérardy 2017, eq. 14; Rzepakowski & Jaroszewicz 2012). ``U(k) = 0`` while either arm
    is empty. Unlike the Qini curve it extrapolates to the control units of the top ``k``;
    both end at an effect proportional to the average treatment effect (``U(n) = ATE · n``,
    ``Q(n) = ATE · N_T``).

    Parameters, Returns and Raises as for :func:`qini_curve` (``kind="uplift"``).

    Examples
    --------
    >>> c = uplift_curve([1, 0, 1, 1, 0, 1], [1, 0, 1, 0, 1, 0],
    ...                  [0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    >>> c.gain.round(4).tolist()
    [0.0, 0.0, 2.0, 3.0, 2.0, 0.8333, 0.0]
    """
    return _curve("uplift", y, treatment, uplift_score)


def qini_coefficient(y: Any, treatment: Any, uplift_score: Any) -> float:
    """Area between the Qini curve and the random-targeting line, per unit.

    ``∫₀¹ (Q(φ) − φ · Q(1)) / n dφ`` over the share targeted ``φ`` (trapezoid rule over
    the curve's points): the average extra outcome per unit, over all targeting depths,
    that the ranking captures beyond random targeting. 0 for a random ranking (in
    expectation), positive when the score ranks persuadable units first, negative when it
    ranks them last. It is *not* divided by the area of the best possible curve (Radcliffe's
    ratio form), because that curve exists only for binary outcomes.

    Examples
    --------
    >>> qini_coefficient([1, 0, 1, 1, 0, 1], [1, 0, 1, 0, 1, 0], [6, 5, 4, 3, 2, 1])
    0.125
    """
    return qini_curve(y, treatment, uplift_score).coefficient


def auuc(y: Any, treatment: Any, uplift_score: Any) -> float:
    """Area under the uplift curve above the random-targeting line, per unit.

    ``∫₀¹ (U(φ) − φ · U(1)) / n dφ`` (trapezoid rule); the raw area under the curve is
    :attr:`UpliftCurve.area` of :func:`uplift_curve`. Same reading as
    :func:`qini_coefficient`.

    Examples
    --------
    >>> round(auuc([1, 0, 1, 1, 0, 1], [1, 0, 1, 0, 1, 0], [6, 5, 4, 3, 2, 1]), 6)
    0.217593
    """
    return uplift_curve(y, treatment, uplift_score).coefficient


# --------------------------------------------------------------------------------------
# Data in, audience out
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class UpliftData:
    """Unit-level training data: features, 0/1 treatment, outcome, and the unit ids."""

    X: pd.DataFrame
    treatment: np.ndarray
    y: np.ndarray
    ids: np.ndarray | None


def _names(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def training_frame(
    table: ir.Table,
    *,
    treatment: str,
    treated: str | Sequence[str],
    control: str | Sequence[str],
    outcome: str,
    features: Sequence[str],
    unit: str | None = None,
) -> UpliftData:
    """Fetch only what an uplift model needs from an engine table.

    The rows of the chosen arms are filtered, the variant column is turned into 0/1 and
    the outcome cast to float in the engine; only ``unit``, ``features``, treatment and
    outcome reach Python (sorted by ``unit`` when given, so every engine returns the same
    order).

    Parameters
    ----------
    table
        One row per unit (e.g. assignments joined with outcomes and customer features).
    treatment
        The column holding the variant of each unit.
    treated, control
        Variant value(s) of the treated arm and of the control arm; other variants are
        dropped.
    outcome
        Outcome column (bool, 0/1 or numeric; missing values are refused later by ``fit``).
    features
        Feature columns, returned as they are (encode them in the model's pipeline).
    unit
        Optional id column (becomes :attr:`UpliftData.ids`).

    Returns
    -------
    UpliftData

    Raises
    ------
    OptionError
        A column does not exist, or a variant value is both treated and control.
    """
    treated_v, control_v = _names(treated), _names(control)
    if set(treated_v) & set(control_v):
        raise OptionError(f"variants {sorted(set(treated_v) & set(control_v))} are both "
                          "treated and control", hint="give each variant to one arm only")
    wanted = [treatment, outcome, *features, *([unit] if unit else [])]
    missing = [c for c in wanted if c not in table.columns]
    if missing:
        raise OptionError(f"unknown column(s) {missing}",
                          hint=f"the table has: {', '.join(table.columns)}")
    rows = table.filter(table[treatment].isin([*treated_v, *control_v]))
    expr = rows.select(
        *([rows[unit].name("__unit")] if unit else []),
        *[rows[f] for f in features],
        rows[treatment].isin(treated_v).cast("int8").name("__treatment"),
        rows[outcome].cast("float64").name("__outcome"),
    )
    if unit:
        expr = expr.order_by("__unit")
    df = expr.execute()
    return UpliftData(
        X=df[list(features)].reset_index(drop=True),
        treatment=df["__treatment"].to_numpy(dtype=np.int8),
        y=df["__outcome"].to_numpy(dtype=float),
        ids=df["__unit"].to_numpy() if unit else None,
    )


def uplift_audience(
    model: Any,
    X: Any,
    ids: Any,
    *,
    top_share: float | None = None,
    min_uplift: float | None = None,
    id_column: str = "customer_id",
) -> pd.DataFrame:
    """The customers worth targeting, best first.

    Every unit is scored with ``model.predict_uplift(X)`` and ranked by decreasing
    predicted uplift (ties by id, so the order is reproducible). ``top_share`` keeps the
    first ``⌈top_share · n⌉`` ranks (a budget: "mail 30%"); ``min_uplift`` keeps units whose
    predicted uplift is *strictly* above it (``0``: only those the campaign is predicted to
    move at all; a break-even value such as coupon cost / margin for spend). Given both,
    a unit must pass both; given neither, everyone is returned, ranked.

    Parameters
    ----------
    model
        A fitted uplift model (anything with ``predict_uplift``).
    X
        Features of the candidate customers.
    ids
        One id per row of X (unique).
    top_share
        Share of candidates to keep, in (0, 1].
    min_uplift
        Keep only predicted uplift > ``min_uplift``.
    id_column
        Name of the id column in the result.

    Returns
    -------
    pandas.DataFrame
        Columns ``id_column``, ``uplift`` (predicted), ``rank`` (1 = highest uplift; ranks
        are over all candidates, so they stay comparable between filters).

    Raises
    ------
    OptionError
        ``top_share`` outside (0, 1], ids of the wrong length or not unique, or a model
        without ``predict_uplift``.

    Examples
    --------
    >>> class Fixed:
    ...     def predict_uplift(self, X):
    ...         return np.asarray(X, dtype=float)[:, 0]
    >>> uplift_audience(Fixed(), [[0.1], [0.3], [-0.2], [0.3]], ["a", "b", "c", "d"],
    ...                 top_share=0.75, min_uplift=0.2)
      customer_id  uplift  rank
    0           b     0.3     1
    1           d     0.3     2
    """
    if not hasattr(model, "predict_uplift"):
        raise OptionError(f"{type(model).__name__} has no predict_uplift",
                          hint="pass a fitted TwoModelUplift, TransformedOutcomeUplift, …")
    if top_share is not None and not 0.0 < top_share <= 1.0:
        raise OptionError(f"top_share must be in (0, 1], got {top_share!r}",
                          hint="e.g. 0.3 to target the top 30%")
    X = _matrix(X)
    id_values = pd.Series(np.asarray(ids))
    if len(id_values) != X.shape[0]:
        raise OptionError(f"{len(id_values)} ids for {X.shape[0]} rows of X",
                          hint="pass one id per row")
    if id_values.duplicated().any():
        raise OptionError("ids are not unique", hint="score one row per customer")
    scores = np.asarray(model.predict_uplift(X), dtype=float)
    frame = pd.DataFrame({id_column: id_values, "uplift": scores})
    frame = frame.sort_values(["uplift", id_column], ascending=[False, True], kind="stable")
    frame["rank"] = np.arange(1, len(frame) + 1, dtype=np.int64)
    keep = np.ones(len(frame), dtype=bool)
    if top_share is not None:
        # The tolerance keeps 0.3 · 10 = 3.0000000000000004 at 3 units, not 4.
        keep &= frame["rank"].to_numpy() <= math.ceil(top_share * len(frame) - 1e-9)
    if min_uplift is not None:
        keep &= frame["uplift"].to_numpy() > min_uplift
    return frame[keep].reset_index(drop=True)
