"""Mixed-effects meta-regression: the effect on one study-level moderator.

The model is ``y_i = b0 + b1 x_i + u_i + e_i`` with ``u_i ~ N(0, tau^2)`` (residual
heterogeneity) and ``e_i ~ N(0, v_i)`` (known sampling variances). ``tau^2`` is
estimated by restricted maximum likelihood (REML): the restricted log-likelihood

    -1/2 sum log(v_i + tau^2) - 1/2 log det(X' W X) - 1/2 (y - X b)' W (y - X b),
    W = diag(1 / (v_i + tau^2)), b the weighted least-squares fit,

maximized over ``tau^2 >= 0`` (bounded Brent, then the boundary compared). The
coefficients' covariance is ``(X' W X)^-1`` for a z test, or scaled by the
Hartung-Knapp factor ``s^2 = sum w_i r_i^2 / (k - 2)`` for a t test on ``k - 2``
degrees of freedom. ``R^2`` is the share of the random-effects model's ``tau^2``
(intercept only, :func:`strainsim.stats.pooling.pool` with REML) that the moderator
explains, ``max(0, 1 - tau^2 / tau^2_RE)``; these are the definitions of metafor's
``rma(yi, vi, mods = ~ x, test = "knha")``, against whose values the tests check this
module.

Examples
--------
>>> import numpy as np
>>> from strainsim.stats.metareg import meta_regression
>>> x = np.array([0.2, 0.4, 0.5, 0.7, 0.9])
>>> fit = meta_regression(yi=-10 * x, vi=np.full(5, 4.0), x=x)
>>> round(fit.slope, 6), round(fit.tau2, 6)
(-10.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["MetaRegression", "meta_regression"]


@dataclass(frozen=True)
class MetaRegression:
    """A fitted meta-regression on one moderator.

    Attributes
    ----------
    intercept, slope : float
        The effect at moderator 0, and its change per unit of the moderator.
    intercept_se, slope_se : float
    slope_ci_low, slope_ci_high : float
        The slope's confidence interval at ``level``.
    slope_stat, slope_p : float
        Its z or t statistic and two-sided p value.
    tau2 : float
        Residual between-study variance (REML).
    r2 : float
        Share (0-1) of the random-effects tau^2 the moderator explains (0 when that
        tau^2 is 0).
    k : int
        Studies.
    df : int or None
        Degrees of freedom of the t test (None for z).
    test : str
    level : float
    """

    intercept: float
    slope: float
    intercept_se: float
    slope_se: float
    slope_ci_low: float
    slope_ci_high: float
    slope_stat: float
    slope_p: float
    tau2: float
    r2: float
    k: int
    df: int | None
    test: str
    level: float

    def to_dict(self) -> dict:
        """JSON-ready fields (NaN as None)."""
        return {key: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for key, v in asdict(self).items()}


def _fit(y, v, x_mat, tau2):
    """Weighted least squares at ``tau2``: coefficients, (X'WX)^-1, weights, residuals."""
    w = 1.0 / (v + tau2)
    xtwx = x_mat.T @ (w[:, None] * x_mat)
    inverse = np.linalg.inv(xtwx)
    beta = inverse @ (x_mat.T @ (w * y))
    return beta, inverse, w, y - x_mat @ beta


def _restricted_loglik(tau2, y, v, x_mat):
    beta, inverse, w, r = _fit(y, v, x_mat, tau2)
    sign, logdet = np.linalg.slogdet(np.linalg.inv(inverse))
    return float(-0.5 * np.sum(np.log(v + tau2)) - 0.5 * logdet - 0.5 * np.sum(w * r * r))


def _reml_tau2(y, v, x_mat) -> float:
    from scipy.optimize import minimize_scalar

    spread = float(np.var(y)) + float(np.max(v))
    upper = 100.0 * spread + 1.0

    def negative(t):
        return -_restricted_loglik(t, y, v, x_mat)

    found = minimize_scalar(negative, bounds=(0.0, upper), method="bounded",
                            options={"xatol": 1e-12 * max(1.0, spread), "maxiter": 500})
    best = float(found.x)
    return 0.0 if negative(0.0) <= negative(best) else best


def meta_regression(*, yi, vi, x, test: str = "knha", level: float = 0.95) -> MetaRegression:
    """Fit the mixed-effects meta-regression of ``yi`` on ``x`` (see the module docstring).

    Parameters
    ----------
    yi, vi : array_like, shape (k,)
        Effect sizes and their sampling variances (> 0).
    x : array_like, shape (k,)
        The moderator (finite, not all equal).
    test : {"knha", "z"}
        Hartung-Knapp t on k - 2 degrees of freedom, or z.
    level : float
        Confidence level of the slope's interval.

    Raises
    ------
    ValueError
        Fewer than 3 studies (2 for z), a moderator that does not vary, or bad input.
    """
    from scipy.stats import norm
    from scipy.stats import t as student

    from strainsim.stats.effects import effect_sizes
    from strainsim.stats.pooling import pool

    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    mod = np.asarray(x, dtype=float)
    if not (y.ndim == v.ndim == mod.ndim == 1 and y.shape == v.shape == mod.shape):
        raise ValueError("yi, vi and the moderator must be 1-d arrays of the same length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(mod)) and np.all(v > 0)):
        raise ValueError("effect sizes and moderator must be finite, variances positive")
    if test not in ("knha", "z"):
        raise ValueError(f"test must be 'knha' or 'z', not {test!r}")
    k = y.shape[0]
    if k < (3 if test == "knha" else 2):
        raise ValueError(f"a meta-regression needs at least {3 if test == 'knha' else 2} "
                         f"studies, found {k}")
    if np.ptp(mod) == 0:
        raise ValueError("the moderator takes one value only")
    x_mat = np.column_stack([np.ones(k), mod])
    tau2 = _reml_tau2(y, v, x_mat)
    beta, inverse, w, r = _fit(y, v, x_mat, tau2)
    if test == "knha":
        df = k - 2
        s2 = float(np.sum(w * r * r)) / df
        cov = s2 * inverse
        crit = float(student.isf((1 - level) / 2, df))
    else:
        df = None
        cov = inverse
        crit = float(norm.isf((1 - level) / 2))
    se = np.sqrt(np.diag(cov))
    stat = float(beta[1] / se[1])
    p = float(2 * (student.sf(abs(stat), df) if df is not None else norm.sf(abs(stat))))
    tau2_re = pool(effect_sizes(y, v), method="REML", test="z").tau2
    # no heterogeneity to explain: 0, as metafor reports it
    r2 = max(0.0, 1.0 - tau2 / tau2_re) if tau2_re > 0 else 0.0
    return MetaRegression(
        intercept=float(beta[0]), slope=float(beta[1]), intercept_se=float(se[0]),
        slope_se=float(se[1]), slope_ci_low=float(beta[1] - crit * se[1]),
        slope_ci_high=float(beta[1] + crit * se[1]), slope_stat=stat, slope_p=p,
        tau2=float(tau2), r2=float(r2), k=k, df=df, test=test, level=level)
