"""Pooling: fixed- and random-effects meta-analysis, heterogeneity.

The conventions follow R's metafor, the field's reference implementation:

Pooling (:func:`pool`)
    ``FE`` inverse-variance fixed effect; ``MH`` Mantel-Haenszel odds ratio
    with the Robins-Breslow-Greenland variance (raw counts, no correction);
    random effects with tau^2 by ``DL`` (DerSimonian-Laird), ``REML`` and
    ``ML`` (Fisher scoring with step halving to 1e-10, a bracketing
    root search on the score as a fallback), ``PM``
    (Paule-Mandel, root of the generalized Q) or ``HE`` (Hedges).
    ``test="knha"`` gives the Hartung-Knapp(-Sidik-Jonkman) standard error
    and t with k-1 degrees of freedom.
Heterogeneity
    Cochran's Q (inverse-variance weights around the fixed-effect estimate; for
    MH around the MH estimate) with its chi-square p; for random-effects models
    I^2 = tau^2 / (tau^2 + s^2) and H^2 = (tau^2 + s^2) / s^2 with s^2 the
    "typical" within-study variance; for FE and MH models I^2 = (Q - df) / Q
    and H^2 = Q / df. The prediction interval is ``mu +- crit sqrt(se^2 +
    tau^2)`` with the test's critical value (normal, or t with k-1 df).

Examples
--------
>>> from strainsim.stats.effects import log_odds_ratio
>>> from strainsim.stats.pooling import pool
>>> effects = log_odds_ratio([12, 20], [50, 60], [8, 15], [50, 58])
>>> result = pool(effects, method="DL")
>>> round(result.estimate, 4), result.k
(0.4167, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numba
import numpy as np

from strainsim.stats.effects import EffectSizes

__all__ = [
    "METHODS",
    "TESTS",
    "BATCH_METHODS",
    "tau2_estimate",
    "MetaResult",
    "MetaBatch",
    "pool_many",
    "pool",
]

# ---------------------------------------------------------------------------------------
# tau^2 and pooling of many meta-analyses at once (one compiled implementation; pool()
# runs it on one row)
# ---------------------------------------------------------------------------------------
METHODS = ("FE", "MH", "DL", "REML", "ML", "PM", "HE")
TESTS = ("z", "knha")
_TOL = 1e-10  # convergence of the iterative tau^2 estimators
_CODES = {"FE": 0, "DL": 1, "HE": 2, "PM": 3, "REML": 4, "ML": 5}
BATCH_METHODS = tuple(_CODES)


@numba.njit(cache=True)
def _weighted_mean_q(y, v, k, tau2):
    # inverse-variance weighted mean with weights 1/(v + tau2), its sum of weights and
    # the generalized Q around it
    sw = 0.0
    swy = 0.0
    for i in range(k):
        w = 1.0 / (v[i] + tau2)
        sw += w
        swy += w * y[i]
    mu = swy / sw
    q = 0.0
    for i in range(k):
        d = y[i] - mu
        q += d * d / (v[i] + tau2)
    return mu, sw, q


@numba.njit(cache=True)
def _likelihood_state(tau2, y, v, k, restricted):
    # log-likelihood, score and Fisher information in tau^2, in two passes
    sw = sw2 = sw3 = swy = logs = 0.0
    for i in range(k):
        w = 1.0 / (v[i] + tau2)
        sw += w
        sw2 += w * w
        sw3 += w * w * w
        swy += w * y[i]
        logs += math.log(v[i] + tau2)
    mu = swy / sw
    rss = ypy = 0.0
    for i in range(k):
        w = 1.0 / (v[i] + tau2)
        d = (y[i] - mu) * (y[i] - mu) * w
        rss += d
        ypy += d * w
    ll = -0.5 * (logs + rss)
    if restricted:
        ll -= 0.5 * math.log(sw)
        return ll, ypy - (sw - sw2 / sw), sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
    return ll, ypy - sw, sw2


@numba.njit(cache=True)
def _score_root(y, v, k, restricted):
    # the score's root on [0, hi] by bisection (the fallback when scoring does not settle)
    if _likelihood_state(0.0, y, v, k, restricted)[1] <= 0.0:
        return 0.0
    lo, hi = 0.0, 1.0
    while _likelihood_state(hi, y, v, k, restricted)[1] > 0.0:
        lo = hi
        hi *= 2.0
        if hi > 1e12:
            return np.nan
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _likelihood_state(mid, y, v, k, restricted)[1] > 0.0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * (1.0 + hi):
            break
    return 0.5 * (lo + hi)


@numba.njit(cache=True)
def _fisher_scoring(y, v, k, restricted, start):
    # Fisher scoring in tau^2 >= 0 with step halving; the bisection root of the score
    # when it does not settle within 100 steps. Returns tau^2 and its log-likelihood.
    tau2 = max(0.0, start)
    ll, score, info = _likelihood_state(tau2, y, v, k, restricted)
    for _ in range(100):
        step = score / info
        new = max(0.0, tau2 + step)
        new_ll, new_score, new_info = _likelihood_state(new, y, v, k, restricted)
        halvings = 0
        while new_ll < ll and halvings < 60:
            step /= 2.0
            new = max(0.0, tau2 + step)
            new_ll, new_score, new_info = _likelihood_state(new, y, v, k, restricted)
            halvings += 1
        if abs(new - tau2) <= _TOL * (1.0 + tau2):
            return new, new_ll
        tau2, ll, score, info = new, new_ll, new_score, new_info
    root = _score_root(y, v, k, restricted)
    if root != root:
        return root, -np.inf
    return root, _likelihood_state(root, y, v, k, restricted)[0]


def _score_info(tau2, yi, vi, k, restricted):
    """Score and Fisher information of the (restricted) log-likelihood in tau^2."""
    _, score, info = _likelihood_state(float(tau2), np.ascontiguousarray(yi, dtype=np.float64),
                                       np.ascontiguousarray(vi, dtype=np.float64), int(k),
                                       bool(restricted))
    return score, info


@numba.njit(cache=True, inline="always")
def _dl_from(q, sw, sw2, k):
    # DerSimonian-Laird from Q and the sums of the fixed-effect weights and their squares
    return max(0.0, (q - (k - 1)) / (sw - sw2 / sw))


@numba.njit(cache=True)
def _tau2_dl(y, v, k):
    sw = sw2 = 0.0
    for i in range(k):
        sw += 1.0 / v[i]
        sw2 += 1.0 / (v[i] * v[i])
    return _dl_from(_weighted_mean_q(y, v, k, 0.0)[2], sw, sw2, k)


@numba.njit(cache=True)
def _sum_of_squares(y, k):
    mean = 0.0
    for i in range(k):
        mean += y[i]
    mean /= k
    ss = 0.0
    for i in range(k):
        ss += (y[i] - mean) ** 2
    return ss


@numba.njit(cache=True)
def _tau2_he(y, v, k):
    # Hedges
    vsum = 0.0
    for i in range(k):
        vsum += v[i]
    return max(0.0, _sum_of_squares(y, k) / (k - 1) - vsum / k)


@numba.njit(cache=True)
def _tau2_row(y, v, k, code):
    """tau^2 of one meta-analysis (the first ``k`` entries of ``y`` and ``v``).

    Not recursive: numba's on-disk cache cannot reload recursive functions.
    """
    if code == 0 or k < 2:
        return 0.0
    if code == 1:
        return _tau2_dl(y, v, k)
    if code == 2:
        return _tau2_he(y, v, k)
    ss = _sum_of_squares(y, k)
    if code == 3:  # Paule-Mandel: generalized Q = k - 1, Newton inside a bracket
        if _weighted_mean_q(y, v, k, 0.0)[2] <= k - 1:
            return 0.0
        lo, hi = 0.0, max(1.0, 10.0 * ss / k)
        while _weighted_mean_q(y, v, k, hi)[2] > k - 1:
            lo = hi
            hi *= 10.0
        t = lo
        for _ in range(200):
            mu, _, q = _weighted_mean_q(y, v, k, t)
            f = q - (k - 1)
            if f > 0.0:
                lo = t
            else:
                hi = t
            slope = 0.0  # dQ/dtau2 = -sum w^2 (y - mu)^2
            for i in range(k):
                w = 1.0 / (v[i] + t)
                slope -= w * w * (y[i] - mu) ** 2
            new = t - f / slope if slope < 0.0 else 0.5 * (lo + hi)
            if not lo < new < hi:
                new = 0.5 * (lo + hi)
            if abs(new - t) <= 1e-15 * (1.0 + t) or hi - lo <= 1e-15 * (1.0 + hi):
                return new
            t = new
        return t
    # REML (4) or ML (5): the (restricted) likelihood can have a boundary maximum at 0
    # and an interior one: climb from several starts and keep the most likely
    restricted = code == 4
    starts = (0.0, _tau2_dl(y, v, k), _tau2_he(y, v, k), ss / (k - 1))
    best = np.nan
    best_ll = -np.inf
    for j in range(4):
        start = starts[j]
        seen = False  # a start already climbed from
        for i in range(j):
            seen |= starts[i] == start
        if seen:
            continue
        t, ll = _fisher_scoring(y, v, k, restricted, start)
        if t == t and ll > best_ll:
            best, best_ll = t, ll
    return best


_OUT = ("k", "estimate", "se", "tau2", "q", "i2", "h2", "stat", "ci_low", "ci_high",
        "pi_low", "pi_high")


@numba.njit(cache=True)
def _pool_kernel(yi, vi, valid, code, knha, crit_by_k, out):
    # one row of out per meta-analysis, columns _OUT; crit_by_k[k] is the critical value
    # of a row with k studies (p-values come from scipy when asked for)
    m, width = yi.shape
    y = np.empty(width)
    v = np.empty(width)
    w0 = np.empty(width)
    for r in range(m):
        k = 0
        for j in range(width):
            if valid[r, j]:
                y[k] = yi[r, j]
                v[k] = vi[r, j]
                k += 1
        out[r, 0] = k
        if k == 0 or (knha and k < 2):
            out[r, 1:] = np.nan
            continue
        # the fixed-effect pass: weights, their sums, the mean and Q
        sw_fe = sw2 = swy = 0.0
        for i in range(k):
            w = 1.0 / v[i]
            w0[i] = w
            sw_fe += w
            sw2 += w * w
            swy += w * y[i]
        mu = swy / sw_fe
        q = 0.0
        for i in range(k):
            q += (y[i] - mu) * (y[i] - mu) * w0[i]
        if code == 0 or k < 2:
            tau2 = 0.0
        elif code == 1:
            tau2 = _dl_from(q, sw_fe, sw2, k)
        else:
            tau2 = _tau2_row(y, v, k, code)
        sw = sw_fe
        if tau2 > 0.0:
            sw = swy = 0.0
            for i in range(k):
                w = 1.0 / (v[i] + tau2)
                sw += w
                swy += w * y[i]
            mu = swy / sw
        se = math.sqrt(1.0 / sw)
        if knha:
            rss = 0.0
            for i in range(k):
                rss += (y[i] - mu) ** 2 / (v[i] + tau2)
            se = math.sqrt(rss / ((k - 1) * sw))
        if k < 2:
            i2, h2 = 0.0, 1.0
        elif code == 0:
            i2 = max(0.0, 100.0 * (q - (k - 1)) / q) if q > 0.0 else 0.0
            h2 = q / (k - 1)
        else:
            typical = (k - 1) * sw_fe / (sw_fe * sw_fe - sw2)
            i2 = 100.0 * tau2 / (tau2 + typical)
            h2 = (tau2 + typical) / typical
        if se > 0.0:
            stat = mu / se
        else:
            stat = math.copysign(np.inf, mu)
        crit = crit_by_k[k]
        half_pi = crit * math.sqrt(se * se + tau2)
        out[r, 1] = mu
        out[r, 2] = se
        out[r, 3] = tau2
        out[r, 4] = q
        out[r, 5] = i2
        out[r, 6] = h2
        out[r, 7] = stat
        out[r, 8] = mu - crit * se
        out[r, 9] = mu + crit * se
        out[r, 10] = mu - half_pi
        out[r, 11] = mu + half_pi


def tau2_estimate(yi, vi, method: str) -> float:
    """Between-study variance tau^2 by ``DL``, ``REML``, ``ML``, ``PM`` or ``HE``.

    ``FE`` and ``MH`` give 0. A single study always gives 0.
    """
    if method == "MH":
        return 0.0
    if method not in _CODES:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    y = np.ascontiguousarray(yi, dtype=np.float64).ravel()
    v = np.ascontiguousarray(vi, dtype=np.float64).ravel()
    return float(_tau2_row(y, v, y.size, _CODES[method]))


# ---------------------------------------------------------------------------------------
# pooling
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetaResult:
    """A pooled estimate with its heterogeneity.

    Attributes
    ----------
    estimate, se : float
        Pooled effect (log OR for OR) and its standard error.
    ci_low, ci_high : float
        Confidence interval at ``level``.
    stat, p : float
        z (or t under Hartung-Knapp) statistic and its two-sided p-value.
    df : int or None
        Degrees of freedom of the t test (None for z).
    tau2 : float
        Between-study variance.
    i2, h2 : float
        I^2 (%) and H^2.
    q, q_df, q_p : float
        Cochran's Q, its degrees of freedom and chi-square p-value (NaN for k = 1).
    pi_low, pi_high : float
        Prediction interval for the effect in a new study.
    k : int
    method, test, measure : str
    level : float
    weights : ndarray, shape (k,)
        Relative weights (%) of the studies.
    effects : EffectSizes
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    stat: float
    p: float
    df: int | None
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    pi_low: float
    pi_high: float
    k: int
    method: str
    test: str
    measure: str
    level: float
    weights: np.ndarray = field(repr=False, compare=False)
    effects: EffectSizes = field(repr=False, compare=False)

    @property
    def tau(self) -> float:
        """Square root of tau^2."""
        return math.sqrt(self.tau2)

    def reported(self) -> tuple[float, float, float]:
        """Estimate, CI low and CI high on the scale a reader sees: an odds ratio
        exponentiated, any other measure as it is."""
        back = math.exp if self.measure == "OR" else float
        return back(self.estimate), back(self.ci_low), back(self.ci_high)

    def study_intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-study confidence intervals at ``level`` (normal)."""
        from scipy.stats import norm

        crit = norm.ppf(0.5 + self.level / 2)
        half = crit * np.sqrt(self.effects.vi)
        return self.effects.yi - half, self.effects.yi + half

    def to_dict(self) -> dict:
        """JSON-ready summary; OR results add exponentiated ``or_*`` fields."""

        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)

        low, high = self.study_intervals()
        out = {
            "estimate": num(self.estimate), "se": num(self.se),
            "ci_low": num(self.ci_low), "ci_high": num(self.ci_high),
            "tau2": num(self.tau2), "i2": num(self.i2), "q": num(self.q), "q_p": num(self.q_p),
            "pi_low": num(self.pi_low), "pi_high": num(self.pi_high), "k": self.k,
            "h2": num(self.h2), "q_df": self.q_df, "stat": num(self.stat), "p": num(self.p),
            "df": self.df, "method": self.method, "test": self.test,
            "measure": self.measure, "level": self.level,
            "studies": [{"study": s, "yi": float(y), "vi": float(v), "ci_low": float(lo),
                         "ci_high": float(hi), "weight": float(w)}
                        for s, y, v, lo, hi, w in zip(self.effects.study, self.effects.yi,
                                                      self.effects.vi, low, high, self.weights,
                                                      strict=True)],
        }
        if self.measure == "OR":
            for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
                name = "or" if key == "estimate" else f"or_{key}"
                with np.errstate(over="ignore"):
                    out[name] = num(float(np.exp(getattr(self, key))))
        return out


def _mantel_haenszel(counts):
    a, b, c, d = counts.T
    n = a + b + c + d
    r = a * d / n
    s = b * c / n
    big_r, big_s = r.sum(), s.sum()
    if big_r == 0 or big_s == 0:
        raise ValueError("the Mantel-Haenszel odds ratio is undefined (0 or infinite): "
                         "no informative studies")
    pp = (a + d) / n
    qq = (b + c) / n
    var = (np.sum(pp * r) / (2 * big_r**2) + np.sum(pp * s + qq * r) / (2 * big_r * big_s)
           + np.sum(qq * s) / (2 * big_s**2))
    weights = s / big_s * 100.0
    return math.log(big_r / big_s), math.sqrt(var), weights


@dataclass(frozen=True)
class MetaBatch:
    """Many pooled estimates at once (arrays of shape (M,), one per meta-analysis).

    Attributes
    ----------
    estimate, se, ci_low, ci_high, stat, p, tau2, i2, h2, q, q_p, pi_low, pi_high : ndarray
        As in :class:`MetaResult` (NaN where a row has no study, or one study under
        Hartung-Knapp); ``p`` and ``q_p`` are computed when first asked for.
    k, df, q_df : ndarray of int
        Studies per row, the t test's degrees of freedom (-1 for z) and Q's.
    method, test : str
    level : float
    """

    estimate: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    stat: np.ndarray
    df: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    q: np.ndarray
    q_df: np.ndarray
    pi_low: np.ndarray
    pi_high: np.ndarray
    k: np.ndarray
    method: str
    test: str
    level: float

    def __len__(self) -> int:
        return self.estimate.shape[0]

    @cached_property
    def p(self) -> np.ndarray:
        """Two-sided p-value of the test (z, or t with ``df``), computed when first asked."""
        from scipy.special import ndtr, stdtr

        with np.errstate(invalid="ignore"):
            if self.test == "knha":
                return np.where(self.df >= 1, 2 * stdtr(np.maximum(self.df, 1),
                                                        -np.abs(self.stat)), np.nan)
            return 2 * ndtr(-np.abs(self.stat))

    @cached_property
    def q_p(self) -> np.ndarray:
        """Chi-square p-value of Q (NaN below two studies), computed when first asked."""
        from scipy.special import chdtrc

        with np.errstate(invalid="ignore"):
            return np.where(self.k >= 2, chdtrc(np.maximum(self.q_df, 1), self.q), np.nan)

    @property
    def significant(self) -> np.ndarray:
        """Rows whose confidence interval excludes 0."""
        return (self.ci_low > 0) | (self.ci_high < 0)


def _check_pool_args(method, test, level, methods):
    if method not in methods:
        raise ValueError(f"method must be one of {methods}, not {method!r}")
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, not {test!r}")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")


def pool_many(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95,
              mask=None) -> MetaBatch:
    """Pool ``M`` meta-analyses in one call.

    Parameters
    ----------
    yi, vi : array_like, shape (M, k) or (k,)
        Effect sizes and sampling variances; a row may hold fewer studies, the
        rest padded with NaN (or left out by ``mask``).
    method : {"FE", "DL", "REML", "ML", "PM", "HE"}
        tau^2 estimator (inverse-variance weights; REML and ML by Fisher scoring
        from several starts, a bisection of the score as the fallback).
    test : {"z", "knha"}
        Normal test, or Hartung-Knapp with t on k-1 df (NaN for rows with one study).
    level : float
        Confidence level.
    mask : array_like of bool, shape (M, k), optional
        Studies to use (default: those with finite ``yi`` and ``vi``).

    Returns
    -------
    MetaBatch
        Row ``r`` equals ``pool(effect_sizes(yi[r], vi[r]), method, test, level)``:
        :func:`pool` runs this function on one row.
    """
    from scipy.special import ndtri, stdtrit

    _check_pool_args(method, test, level, BATCH_METHODS)
    yi = np.atleast_2d(np.asarray(yi, dtype=np.float64))
    vi = np.atleast_2d(np.asarray(vi, dtype=np.float64))
    if yi.shape != vi.shape or yi.ndim != 2:
        raise ValueError("yi and vi must have one shape, (M, k) or (k,)")
    valid = np.isfinite(yi) & np.isfinite(vi)
    if mask is not None:
        valid &= np.asarray(mask, dtype=bool).reshape(yi.shape)
    if not valid.all():
        if np.any(vi[valid] <= 0):
            raise ValueError("sampling variances must be positive")
        yi = np.where(valid, yi, 0.0)
        vi = np.where(valid, vi, 1.0)
    elif np.any(vi <= 0):
        raise ValueError("sampling variances must be positive")
    knha = test == "knha"
    width = yi.shape[1]
    if knha:  # t quantiles with k - 1 df (index k; no test below 2 studies)
        crit_by_k = np.full(width + 1, np.nan)
        crit_by_k[2:] = stdtrit(np.arange(1, width), 0.5 + level / 2)
    else:
        crit_by_k = np.full(width + 1, ndtri(0.5 + level / 2))
    out = np.empty((yi.shape[0], len(_OUT)))
    _pool_kernel(np.ascontiguousarray(yi), np.ascontiguousarray(vi),
                 np.ascontiguousarray(valid), _CODES[method], knha, crit_by_k, out)
    cols = dict(zip(_OUT, out.T, strict=True))
    k = cols.pop("k").astype(np.int64)
    q_df = k - 1
    df = np.where(k >= 2, q_df, -1) if knha else np.full(k.shape, -1)
    return MetaBatch(**cols, df=df, q_df=q_df, k=k, method=method, test=test, level=level)


def pool(effects: EffectSizes, method: str = "REML", test: str = "z",
         level: float = 0.95) -> MetaResult:
    """Pool effect sizes.

    Parameters
    ----------
    effects : EffectSizes
    method : {"FE", "MH", "DL", "REML", "ML", "PM", "HE"}
        ``MH`` needs odds ratios from counts.
    test : {"z", "knha"}
        Normal test, or Hartung-Knapp with t on k-1 df (needs k >= 2; not with MH).
    level : float
        Confidence level of the intervals.

    Returns
    -------
    MetaResult
    """
    from scipy.special import chdtrc, ndtr, ndtri

    _check_pool_args(method, test, level, METHODS)
    yi, vi, k = effects.yi, effects.vi, effects.k
    if test == "knha" and k < 2:
        raise ValueError("Hartung-Knapp needs at least 2 studies")
    if method == "MH":
        if test == "knha":
            raise ValueError("Hartung-Knapp does not apply to the Mantel-Haenszel method")
        return _pool_mh(effects, level, chdtrc, ndtr, ndtri)
    row = pool_many(yi, vi, method, test, level)
    wi = 1.0 / (vi + row.tau2[0])
    values = {name: float(getattr(row, name)[0]) for name in (
        "estimate", "se", "ci_low", "ci_high", "stat", "p", "tau2", "i2", "h2", "q", "q_p",
        "pi_low", "pi_high")}
    if k == 1:
        values["q_p"] = math.nan
    return MetaResult(**values, df=int(row.df[0]) if test == "knha" else None,
                      q_df=k - 1, k=k, method=method, test=test, measure=effects.measure,
                      level=level, weights=wi / wi.sum() * 100.0, effects=effects)


def _pool_mh(effects, level, chdtrc, ndtr, ndtri) -> MetaResult:
    if effects.counts is None:
        raise ValueError("the Mantel-Haenszel method needs odds ratios from 2x2 counts")
    yi, vi, k = effects.yi, effects.vi, effects.k
    estimate, se, weights = _mantel_haenszel(effects.counts)
    q = float(np.sum((yi - estimate) ** 2 / vi))
    q_df = k - 1
    crit = float(ndtri(0.5 + level / 2))
    stat = estimate / se
    p = float(2 * ndtr(-abs(stat)))
    if k > 1:
        q_p = float(chdtrc(q_df, q))
        i2 = max(0.0, 100.0 * (q - q_df) / q) if q > 0 else 0.0
        h2 = q / q_df
    else:
        q_p, i2, h2 = math.nan, 0.0, 1.0
    return MetaResult(estimate=float(estimate), se=float(se), ci_low=estimate - crit * se,
                      ci_high=estimate + crit * se, stat=float(stat), p=p, df=None, tau2=0.0,
                      i2=float(i2), h2=float(h2), q=q, q_df=q_df, q_p=q_p,
                      pi_low=estimate - crit * se, pi_high=estimate + crit * se, k=k,
                      method="MH", test="z", measure=effects.measure, level=level,
                      weights=np.asarray(weights, float), effects=effects)
