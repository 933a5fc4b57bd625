"""Sensitivity analyses of a meta-analysis: leave-one-out, cumulative
pooling and Egger's regression test for funnel asymmetry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strainsim.stats.effects import EffectSizes
from strainsim.stats.pooling import BATCH_METHODS, pool, pool_many

__all__ = [
    "leave_one_out",
    "cumulative",
    "EggerTest",
    "egger_test",
]

# ---------------------------------------------------------------------------------------
# sensitivity: leave-one-out, cumulative, Egger's test
# ---------------------------------------------------------------------------------------
_ROW_FIELDS = ("estimate", "se", "ci_low", "ci_high", "stat", "p", "tau2", "i2", "q", "k")


def _pool_subsets(effects: EffectSizes, masks: np.ndarray, method: str, test: str,
                  level: float) -> list[dict]:
    """Pool the studies of each row of ``masks`` (bool, (rows, k)); one dict per row."""
    if method in BATCH_METHODS:
        yi = np.broadcast_to(effects.yi, masks.shape)
        vi = np.broadcast_to(effects.vi, masks.shape)
        batch = pool_many(yi, vi, method, test, level, mask=masks)
        return [{name: _number(getattr(batch, name)[r]) for name in _ROW_FIELDS[:-1]}
                | {"k": int(batch.k[r])} for r in range(masks.shape[0])]
    rows = []
    for mask in masks:  # Mantel-Haenszel: one subset at a time
        keep = np.flatnonzero(mask)
        sub = EffectSizes(yi=effects.yi[keep], vi=effects.vi[keep],
                          study=tuple(effects.study[i] for i in keep), measure=effects.measure,
                          counts=None if effects.counts is None else effects.counts[keep])
        try:
            res = pool(sub, method, test, level)
            rows.append({name: _number(getattr(res, name)) for name in _ROW_FIELDS[:-1]}
                        | {"k": res.k})
        except ValueError:  # e.g. no informative study left
            rows.append({name: None for name in _ROW_FIELDS} | {"k": int(keep.size)})
    return rows


def _number(x):
    x = float(x)
    return x if math.isfinite(x) else None


def leave_one_out(effects: EffectSizes, method: str = "REML", test: str = "z",
                  level: float = 0.95) -> list[dict]:
    """Pool the studies ``k`` times, each time without one of them (metafor's ``leave1out``).

    Returns
    -------
    list of dict
        Per left-out study (``"omitted"``): estimate, se, ci_low, ci_high, stat, p,
        tau2, i2, q, k (None where undefined).
    """
    if effects.k < 2:
        raise ValueError("leave-one-out needs at least 2 studies")
    masks = ~np.eye(effects.k, dtype=bool)
    rows = _pool_subsets(effects, masks, method, test, level)
    return [{"omitted": study} | row for study, row in zip(effects.study, rows, strict=True)]


def cumulative(effects: EffectSizes, method: str = "REML", test: str = "z",
               level: float = 0.95) -> list[dict]:
    """Pool the first 1, 2, ..., k studies in their order (metafor's ``cumul``).

    Returns
    -------
    list of dict
        Per added study (``"added"``): the pooled result of the studies so far.
    """
    masks = np.tri(effects.k, dtype=bool)
    rows = _pool_subsets(effects, masks, method, test, level)
    return [{"added": study} | row for study, row in zip(effects.study, rows, strict=True)]


@dataclass(frozen=True)
class EggerTest:
    """Egger's regression test for funnel-plot asymmetry.

    The standardized effect ``yi / sei`` is regressed on the precision ``1 / sei``
    by ordinary least squares; the intercept measures asymmetry and is tested
    with t on k - 2 degrees of freedom (Egger et al., BMJ 1997). The same t is
    metafor's ``regtest(model="lm", predictor="sei")``.

    Attributes
    ----------
    intercept, se, t, p : float
        The intercept, its standard error, t statistic and two-sided p-value.
    slope : float
        The slope (an estimate of the effect adjusted for small-study effects).
    df, k : int
    """

    intercept: float
    se: float
    t: float
    p: float
    slope: float
    df: int
    k: int

    def to_dict(self) -> dict:
        return {name: _number(getattr(self, name)) for name in
                ("intercept", "se", "t", "p", "slope")} | {"df": self.df, "k": self.k}


def egger_test(effects: EffectSizes) -> EggerTest:
    """Egger's regression test (see :class:`EggerTest`); needs at least 3 studies."""
    from scipy.special import stdtr

    k = effects.k
    if k < 3:
        raise ValueError("Egger's test needs at least 3 studies")
    sei = np.sqrt(effects.vi)
    z = effects.yi / sei
    x = 1.0 / sei
    if np.ptp(x) <= 1e-12 * x.max():
        raise ValueError("Egger's test needs studies of different precision")
    design = np.column_stack([np.ones(k), x])
    coef, *_ = np.linalg.lstsq(design, z, rcond=None)
    resid = z - design @ coef
    df = k - 2
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.inv(design.T @ design)
    se = math.sqrt(cov[0, 0])
    if se > 0:
        t = float(coef[0]) / se
    else:  # the studies lie exactly on a line
        t = math.copysign(math.inf, coef[0]) if coef[0] != 0 else math.nan
    return EggerTest(intercept=float(coef[0]), se=se, t=t, p=float(2 * stdtr(df, -abs(t))),
                     slope=float(coef[1]), df=df, k=k)
