"""Shared machinery of the CLV models: inputs, grouping, maximum likelihood, errors.

The models are fitted on per-customer summaries (see
:func:`shopscope.customers.customer_summary`). Customers with identical
summaries contribute identical likelihood terms, so the data are grouped first and each
distinct row is evaluated once with its count as a weight (day-granular summaries of a
million customers over two years have about half a million distinct rows; a weekly or
monthly grain far fewer). Within a likelihood evaluation, terms that depend on one column
only (``frequency``, ``recency`` or ``T``) are computed once per distinct value of that
column, so a row costs a few additions and one exponential.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import optimize

from shopscope.errors import ShopscopeError

__all__ = [
    "MIN_REPEATERS",
    "ClvConvergenceWarning",
    "ClvError",
    "FitState",
    "NotFittedError",
]

#: Fewest customers with a repeat purchase that a model is fitted on.
MIN_REPEATERS = 10

_LOG_BOUND = 23.0  # parameters are kept within exp(±23) ≈ [1e-10, 1e10]


class ClvError(ShopscopeError, ValueError):
    """A CLV model cannot use its input (or is used before it is fitted).

    ``code`` is stable for programs: ``"empty"``, ``"too_few_repeaters"``,
    ``"invalid_summary"``, ``"missing_column"``, ``"not_fitted"``, ``"invalid_option"``.
    """

    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.code = code


class NotFittedError(ClvError, AttributeError):
    """A fitted attribute or a prediction was asked of a model before ``fit``."""


class ClvConvergenceWarning(UserWarning):
    """The likelihood maximisation stopped before its gradient vanished."""


# --------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------
def as_columns(data: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Float arrays of ``names`` from a DataFrame, mapping, Arrow/Ibis table or sequence."""
    if hasattr(data, "to_pyarrow") and hasattr(data, "select"):  # an Ibis table
        missing = [n for n in names if n not in data.columns]
        if missing:
            _missing(missing, list(data.columns))
        data = data.select(*names).to_pyarrow()
    if hasattr(data, "column_names") and hasattr(data, "column"):  # a pyarrow Table
        missing = [n for n in names if n not in data.column_names]
        if missing:
            _missing(missing, list(data.column_names))
        return {n: np.asarray(data.column(n).to_numpy(), dtype=float) for n in names}
    if isinstance(data, pd.DataFrame | Mapping):
        cols = list(data.keys())
        missing = [n for n in names if n not in data]
        if missing:
            _missing(missing, cols)
        return {n: np.asarray(data[n], dtype=float).ravel() for n in names}
    if isinstance(data, Sequence) and len(data) == len(names):
        return {n: np.asarray(v, dtype=float).ravel() for n, v in zip(names, data, strict=True)}
    raise ClvError(
        "invalid_summary",
        f"cannot read a customer summary from {type(data).__name__}",
        hint=f"pass a DataFrame (or Ibis/Arrow table, or mapping) with columns {list(names)}, "
        "e.g. from shopscope.customers.customer_summary",
    )


def _missing(missing: list[str], have: list[str]) -> None:
    raise ClvError(
        "missing_column",
        f"the summary has no column(s) {missing}",
        hint=f"it has {have}; customer_summary() makes frequency, recency, T, monetary_value",
    )


def check_rfm(x: np.ndarray, tx: np.ndarray, T: np.ndarray, *, fitting: bool) -> None:
    """Fail loudly on summaries no buy-till-you-die model can have produced."""
    if not (x.shape == tx.shape == T.shape):
        raise ClvError("invalid_summary", "frequency, recency and T differ in length",
                       hint="pass one value of each per customer")
    if fitting and x.size == 0:
        raise ClvError("empty", "no customers to fit the model on",
                       hint="check the calibration period and the filters of customer_summary")
    problems = [
        ("non-finite values", ~(np.isfinite(x) & np.isfinite(tx) & np.isfinite(T))),
        ("a negative or fractional frequency", (x < 0) | (x != np.round(x))),
        ("a negative recency", tx < 0),
        ("recency greater than T", tx > T * (1 + 1e-9) + 1e-12),
        ("a non-zero recency with frequency 0", (x == 0) & (tx != 0)),
    ]
    for what, bad in problems:
        n = int(np.count_nonzero(bad))
        if n:
            i = int(np.flatnonzero(bad)[0])
            raise ClvError(
                "invalid_summary",
                f"{n} customer(s) have {what} (first at position {i}: frequency={x[i]!r}, "
                f"recency={tx[i]!r}, T={T[i]!r})",
                hint="frequency counts repeat purchases (an integer >= 0); recency is the time "
                "from the first to the last purchase (0 without repeats) and cannot exceed T",
            )


def check_repeaters(x: np.ndarray, weights: np.ndarray | None = None) -> None:
    n = float(np.sum(weights[x > 0])) if weights is not None else int(np.count_nonzero(x > 0))
    if n < MIN_REPEATERS:
        raise ClvError(
            "too_few_repeaters",
            f"only {n:g} customer(s) made a repeat purchase; at least {MIN_REPEATERS} are needed "
            "to fit a purchase model",
            hint="use a longer calibration period or more customers; with few repeat buyers "
            "report repeat rates instead of a fitted CLV model",
        )


def check_weights(weights: Any, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float).ravel()
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ClvError("invalid_summary", "weights must be finite, >= 0, one per customer",
                       hint="weights count identical customers (e.g. a grouped summary)")
    return w


def scalar_or_array(value: np.ndarray, scalar: bool) -> Any:
    return float(value[0]) if scalar else value


def broadcast(*arrays: Any) -> tuple[bool, list[np.ndarray]]:
    """Float arrays broadcast together, and whether every input was a scalar."""
    scalar = all(np.ndim(a) == 0 for a in arrays)
    out = np.broadcast_arrays(*[np.asarray(a, dtype=float) for a in arrays])
    return scalar, [np.ascontiguousarray(a).ravel() for a in out]


def wdot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of products without BLAS (whose threads stall when the cores are busy)."""
    return float(np.einsum("i,i->", a, b))


# --------------------------------------------------------------------------------------
# Grouping
# --------------------------------------------------------------------------------------
def group_rows(*cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of equal-length columns: (index of one row per group, inverse, counts).

    Hash-based (``pandas.factorize``), so linear in the number of rows; groups come in
    order of first appearance.
    """
    n = cols[0].size
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    codes = np.zeros(n, dtype=np.int64)
    size = 1
    for c in cols:
        col_codes, uniques = pd.factorize(c)
        k = len(uniques)
        if k == n:  # one column is all distinct, so are the rows (exact timestamps)
            every = np.arange(n, dtype=np.int64)
            return every, every, np.ones(n, dtype=np.int64)
        if size * k >= 2**62:  # re-number before the combined key could overflow
            codes, _ = pd.factorize(codes)
            codes = codes.astype(np.int64)
            size = int(codes.max()) + 1
        codes = codes * k + col_codes
        size *= k
    inverse, uniques = pd.factorize(codes)
    inverse = inverse.astype(np.int64, copy=False)
    first = np.empty(len(uniques), dtype=np.int64)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    counts = np.bincount(inverse, minlength=len(uniques))
    return first, inverse, counts


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct values, index of each value among them)."""
    codes, uniques = pd.factorize(values)
    return np.asarray(uniques, dtype=float), codes.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------
# Maximum likelihood
# --------------------------------------------------------------------------------------
ObjectiveFn = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass(frozen=True)
class FitState:
    """What a fit learned, in the model's natural parameters."""

    params: Mapping[str, float]
    standard_errors: Mapping[str, float]
    covariance: np.ndarray
    log_likelihood: float
    converged: bool
    n_iter: int
    message: str
    n_customers: float
    n_rows: int


def numerical_hessian(grad: Callable[[np.ndarray], np.ndarray], theta: np.ndarray,
                      step: float = 1e-5) -> np.ndarray:
    """Hessian by central differences of an analytic gradient, symmetrised."""
    k = theta.size
    h = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step
        h[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * step)
    return (h + h.T) / 2


def maximize(
    objective: ObjectiveFn,
    theta0: np.ndarray,
    *,
    max_iter: int,
    tol: float,
) -> tuple[np.ndarray, float, bool, int, str]:
    """Minimise ``objective`` (a mean negative log-likelihood in log-parameters).

    L-BFGS-B does the work (stopping when the largest gradient entry, per customer, is
    below ``tol``); if it stops earlier on its function-change rule, a few Newton steps
    with a finite-difference Hessian of the analytic gradient finish the job. Returns
    ``(theta, value, converged, iterations, message)``.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * theta0.size
    with np.errstate(all="ignore"):
        res = optimize.minimize(
            objective, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": max_iter, "ftol": 1e-13, "gtol": tol, "maxcor": 20},
        )
    theta, value = np.asarray(res.x, dtype=float), float(res.fun)
    g = np.asarray(res.jac, dtype=float)
    n_iter = int(res.nit)

    def grad(t: np.ndarray) -> np.ndarray:
        return objective(t)[1]

    # Newton polish, only when L-BFGS-B stopped (on its function-change rule) short of a
    # small gradient; each step costs a Hessian (2k gradient evaluations). Near the optimum
    # the objective no longer changes in floating point, so a step is also taken when it
    # keeps the value (to rounding) and shrinks the gradient.
    tiny_step = False
    for _ in range(6):
        gmax = float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else math.inf
        if not math.isfinite(gmax) or gmax < tol:
            break
        with np.errstate(all="ignore"):
            hess = numerical_hessian(grad, theta)
        try:
            np.linalg.cholesky(hess)
        except np.linalg.LinAlgError:
            break
        step = -np.linalg.solve(hess, g)
        if float(np.max(np.abs(step))) < 1e-8:
            tiny_step = True
            break
        improved = False
        slack = 1e-12 * (1.0 + abs(value))
        for shrink in (1.0, 0.5, 0.25, 0.1):
            cand = np.clip(theta + shrink * step, -_LOG_BOUND, _LOG_BOUND)
            with np.errstate(all="ignore"):
                cval, cgrad = objective(cand)
            cgrad = np.asarray(cgrad, dtype=float)
            if np.isfinite(cval) and (cval < value or (
                    cval <= value + slack and np.max(np.abs(cgrad)) < gmax)):
                theta, value, g, improved = cand, float(cval), cgrad, True
                break
        n_iter += 1
        if not improved:
            break
    at_bound = bool(np.any(np.abs(theta) >= _LOG_BOUND - 1e-6))
    small = bool(np.all(np.isfinite(g)) and (np.max(np.abs(g)) < tol or tiny_step))
    converged = small and not at_bound
    gmax = float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else math.inf
    message = f"{res.message or 'stopped'}; largest gradient entry {gmax:.2g}"
    if at_bound:
        message = "a parameter reached its bound (exp(±23)); the data may not identify it"
    elif not converged and np.max(np.abs(theta)) > 12:
        message += ("; some estimates are huge (e.g. a shape and a rate growing together, "
                    "which means no heterogeneity): the model may not suit these data")
    return theta, value, converged, n_iter, message


def finish_fit(
    names: Sequence[str],
    objective_total: ObjectiveFn,
    theta: np.ndarray,
    log_likelihood: float,
    unscale: Callable[[np.ndarray], np.ndarray],
    converged: bool,
    n_iter: int,
    message: str,
    model: str,
    n_customers: float,
    n_rows: int,
) -> FitState:
    """Natural parameters, their standard errors (inverse Hessian) and the fit record.

    The Hessian is taken in log-parameters, where the time scaling used during the fit is
    a shift and so does not change it; the delta method maps it to natural parameters.
    """
    params = unscale(np.exp(theta))
    with np.errstate(all="ignore"):
        hess = numerical_hessian(lambda t: objective_total(t)[1], theta)
    try:
        cov_log = np.linalg.inv(hess)
        if not np.all(np.isfinite(cov_log)) or np.any(np.diag(cov_log) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov_log = np.full_like(hess, np.nan)
    jac = np.diag(params)
    cov = jac @ cov_log @ jac
    se = np.sqrt(np.diag(cov))
    if not converged:
        warnings.warn(f"{model}: the fit did not converge ({message})", ClvConvergenceWarning,
                      stacklevel=3)
    return FitState(
        params=MappingProxyType({n: float(v) for n, v in zip(names, params, strict=True)}),
        standard_errors=MappingProxyType({n: float(v) for n, v in zip(names, se, strict=True)}),
        covariance=cov,
        log_likelihood=float(log_likelihood),
        converged=converged,
        n_iter=n_iter,
        message=message,
        n_customers=float(n_customers),
        n_rows=int(n_rows),
    )


class FittedMixin:
    """Fitted-state accessors shared by the CLV models (attributes end in ``_``)."""

    _param_names: tuple[str, ...] = ()
    _model_name = "model"

    def _state(self) -> FitState:
        state = getattr(self, "_fit_state", None)
        if state is None:
            raise NotFittedError("not_fitted", f"this {type(self).__name__} is not fitted yet",
                           hint="call .fit(summary) first")
        return state

    @property
    def params_(self) -> Mapping[str, float]:
        """Maximum-likelihood estimates by name."""
        return self._state().params

    @property
    def standard_errors_(self) -> Mapping[str, float]:
        """Asymptotic standard errors from the inverse Hessian (NaN if it is singular)."""
        return self._state().standard_errors

    @property
    def covariance_(self) -> np.ndarray:
        """Asymptotic covariance of the estimates, in :attr:`params_` order."""
        return self._state().covariance.copy()

    @property
    def log_likelihood_(self) -> float:
        """Log-likelihood at the estimates, in the units of the data."""
        return self._state().log_likelihood

    @property
    def converged_(self) -> bool:
        """Whether the gradient vanished (within ``tol``) away from the parameter bounds."""
        return self._state().converged

    @property
    def n_customers_(self) -> float:
        """Customers (total weight) the model was fitted on."""
        return self._state().n_customers

    @property
    def n_distinct_(self) -> int:
        """Distinct summary rows the likelihood was evaluated on."""
        return self._state().n_rows

    def _p(self) -> tuple[float, ...]:
        params = self._state().params
        return tuple(params[n] for n in self._param_names)

    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors and 95% Wald intervals (on the log scale)."""
        state = self._state()
        est = np.array([state.params[n] for n in self._param_names])
        se = np.array([state.standard_errors[n] for n in self._param_names])
        half = 1.959963984540054 * se / est
        return pd.DataFrame(
            {"estimate": est, "std_error": se, "lower_95": est * np.exp(-half),
             "upper_95": est * np.exp(half)},
            index=pd.Index(self._param_names, name="parameter"),
        )

    def __repr__(self) -> str:
        state = getattr(self, "_fit_state", None)
        if state is None:
            return f"{type(self).__name__}(unfitted)"
        inner = ", ".join(f"{k}={v:.4g}" for k, v in state.params.items())
        return f"{type(self).__name__}({inner}, log_likelihood={state.log_likelihood:.2f})"


def check_options(penalizer: float, max_iter: int, tol: float) -> None:
    if not (isinstance(penalizer, int | float) and math.isfinite(penalizer) and penalizer >= 0):
        raise ClvError("invalid_option", f"penalizer must be a number >= 0, got {penalizer!r}",
                       hint="0 (the default) is plain maximum likelihood")
    if not (isinstance(max_iter, int) and max_iter > 0):
        raise ClvError("invalid_option", f"max_iter must be a positive int, got {max_iter!r}",
                       hint="e.g. 1000")
    if not (isinstance(tol, int | float) and 0 < tol < 1):
        raise ClvError("invalid_option", f"tol must be in (0, 1), got {tol!r}", hint="e.g. 1e-8")


def log1mexp(u: np.ndarray) -> np.ndarray:
    """log(1 - exp(u)) for u <= 0, accurate at both ends (-inf at u = 0)."""
    u = np.asarray(u, dtype=float)
    out = np.empty_like(u)
    near = u > -math.log(2.0)
    with np.errstate(divide="ignore"):
        out[near] = np.log(-np.expm1(u[near]))
    out[~near] = np.log1p(-np.exp(u[~near]))
    return out


# --------------------------------------------------------------------------------------
# Purchase-count models (BG/NBD, Pareto/NBD): the shared fit
# --------------------------------------------------------------------------------------
RFM_COLUMNS = ("frequency", "recency", "T")


class CountingModel(FittedMixin):
    """Fit plumbing of the buy-till-you-die models; subclasses supply the likelihood.

    Subclasses define ``_param_names``, ``_time_params`` (names of the parameters measured
    in units of time), ``_prepare(x, tx, T, w)``, ``_loglik(params, prepared)`` returning
    the weighted log-likelihood and its gradient in natural parameters, and
    ``_start(prepared)``.
    """

    _time_params: tuple[str, ...] = ()

    def __init__(self, *, penalizer: float = 0.0, max_iter: int = 1000, tol: float = 1e-7) -> None:
        self.penalizer = penalizer
        self.max_iter = max_iter
        self.tol = tol

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters given to the constructor."""
        return {"penalizer": self.penalizer, "max_iter": self.max_iter, "tol": self.tol}

    # -- subclass hooks ------------------------------------------------------------------
    def _prepare(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> Any:
        raise NotImplementedError

    def _loglik(self, params: np.ndarray, prepared: Any) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def _start(self, prepared: Any) -> np.ndarray:
        raise NotImplementedError

    # -- fit -----------------------------------------------------------------------------
    def fit(self, data: Any, *, weights: Any = None) -> Self:
        """Maximum-likelihood fit on a customer summary; returns ``self``.

        Parameters
        ----------
        data
            Columns ``frequency``, ``recency`` and ``T`` (a DataFrame, an Ibis or Arrow
            table, a mapping of arrays, or a sequence of the three arrays in that order),
            such as :func:`shopscope.customers.customer_summary` makes.
        weights
            Optional count of customers per row (for an already grouped summary).

        Raises
        ------
        ClvError
            Empty input, fewer than :data:`MIN_REPEATERS` repeat customers, or a summary
            no purchase process can produce (negative or fractional frequency, recency
            above ``T``, …).
        """
        check_options(self.penalizer, self.max_iter, self.tol)
        cols = as_columns(data, RFM_COLUMNS)
        x, tx, T = (cols[c] for c in RFM_COLUMNS)
        check_rfm(x, tx, T, fitting=True)
        w = check_weights(weights, x.size)
        rep, inverse, counts = group_rows(x, tx, T)
        cw = counts.astype(float) if w is None else np.bincount(inverse, weights=w,
                                                                 minlength=rep.size)
        keep = cw > 0
        xu, txu, Tu, cw = x[rep][keep], tx[rep][keep], T[rep][keep], cw[keep]
        if cw.size == 0:
            raise ClvError("empty", "every customer has weight 0", hint="check the weights")
        check_repeaters(xu, cw)
        total_w = float(cw.sum())
        # Times are divided by the mean T so that the time parameters start near 1; the
        # log-likelihood of the original data differs by a constant (a Jacobian).
        scale = float(np.average(Tu, weights=cw))
        if not (np.isfinite(scale) and scale > 0):
            scale = 1.0
        prepared = self._prepare(xu, txu / scale, Tu / scale, cw)
        scale_vec = np.array([scale if n in self._time_params else 1.0
                              for n in self._param_names])
        penalizer = float(self.penalizer)

        def total(theta: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            ll, grad = self._loglik(params, prepared)
            return -ll, -grad * params

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(theta)
            ll, grad = self._loglik(params, prepared)
            natural = params * scale_vec
            value = -ll / total_w + penalizer * float(np.sum(natural**2))
            gradient = -grad * params / total_w + 2.0 * penalizer * natural**2
            if not np.isfinite(value):
                return np.inf, np.zeros_like(theta)
            return value, gradient

        theta0 = np.log(self._start(prepared))
        theta, _, converged, n_iter, message = maximize(
            objective, theta0, max_iter=self.max_iter, tol=self.tol)
        ll = -total(theta)[0] - float(np.sum(cw * xu)) * math.log(scale)
        self._fit_state = finish_fit(
            self._param_names, total, theta, ll, lambda p: p * scale_vec, converged, n_iter,
            message, type(self).__name__, total_w, xu.size)
        return self

    def _rfm(self, frequency: Any, recency: Any, T: Any, *extra: Any
             ) -> tuple[bool, list[np.ndarray]]:
        scalar, arrays = broadcast(frequency, recency, T, *extra)
        check_rfm(arrays[0], arrays[1], arrays[2], fitting=False)
        return scalar, arrays
