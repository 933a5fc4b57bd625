"""Effect sizes of two-arm studies, as metafor defines them.

Log odds ratio with 1/2 added to every cell of a study that has a zero
cell (and only then); mean difference with the unpooled (heteroscedastic)
variance; Hedges' g with the exact small-sample correction and the
large-sample variance ``1/n1 + 1/n2 + g^2 / (2 (n1 + n2))``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "MEASURES",
    "EffectSizes",
    "log_odds_ratio",
    "mean_difference",
    "standardized_mean_difference",
    "effect_sizes",
]

MEASURES = ("OR", "MD", "SMD", "GEN")


@dataclass(frozen=True)
class EffectSizes:
    """Per-study effect sizes and sampling variances.

    Attributes
    ----------
    yi, vi : ndarray, shape (k,)
        Effect sizes (log odds ratios for OR) and their sampling variances.
    study : tuple of str
        Study labels.
    measure : str
        ``"OR"``, ``"MD"``, ``"SMD"`` or ``"GEN"`` (given yi/vi).
    counts : ndarray, shape (k, 4), optional
        For OR: the 2x2 cells (events and non-events, treatment then control),
        needed by the Mantel-Haenszel method.
    """

    yi: np.ndarray
    vi: np.ndarray
    study: tuple[str, ...]
    measure: str
    counts: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        if self.yi.shape != self.vi.shape or self.yi.ndim != 1:
            raise ValueError("yi and vi must be 1-d arrays of one length")
        if len(self.study) != self.yi.size:
            raise ValueError("one study label per effect size is needed")
        if self.yi.size == 0:
            raise ValueError("at least one study is needed")
        if not (np.isfinite(self.yi).all() and np.isfinite(self.vi).all()):
            raise ValueError("effect sizes and variances must be finite")
        if (self.vi <= 0).any():
            raise ValueError("sampling variances must be positive")
        if self.measure not in MEASURES:
            raise ValueError(f"measure must be one of {MEASURES}")

    @property
    def k(self) -> int:
        """Number of studies."""
        return int(self.yi.size)


def _labels(study, k):
    return tuple(str(s) for s in study) if study is not None else tuple(
        f"study {i + 1}" for i in range(k))


def _as_arrays(*columns):
    arrays = [np.atleast_1d(np.asarray(c, dtype=float)) for c in columns]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 1:
        raise ValueError("all columns must be 1-d and of one length")
    return arrays


def log_odds_ratio(events_t, n_t, events_c, n_c, *, add: float = 0.5,
                   study=None) -> EffectSizes:
    """Log odds ratios (treatment vs control) from 2x2 counts.

    Parameters
    ----------
    events_t, n_t, events_c, n_c : array_like
        Events and patients in the treatment and control arms.
    add : float
        Added to all four cells of a study with a zero cell (metafor's default
        ``add=1/2, to="only0"``); studies without a zero cell are untouched.
    study : sequence of str, optional

    Returns
    -------
    EffectSizes
        ``yi = log(a d / (b c))``, ``vi = 1/a + 1/b + 1/c + 1/d``.
    """
    a, n1, c, n2 = _as_arrays(events_t, n_t, events_c, n_c)
    if (n1 <= 0).any() or (n2 <= 0).any():
        raise ValueError("arm sizes must be positive")
    if (a < 0).any() or (c < 0).any() or (a > n1).any() or (c > n2).any():
        raise ValueError("events must lie between 0 and the arm size")
    b, d = n1 - a, n2 - c
    cells = np.stack([a, b, c, d], axis=1)
    adjusted = np.where(np.any(cells == 0, axis=1, keepdims=True), cells + add, cells)
    if (adjusted <= 0).any():
        raise ValueError("a zero cell needs a positive continuity correction")
    aa, bb, cc, dd = adjusted.T
    yi = np.log(aa) + np.log(dd) - np.log(bb) - np.log(cc)
    vi = 1 / aa + 1 / bb + 1 / cc + 1 / dd
    return EffectSizes(yi=yi, vi=vi, study=_labels(study, a.size), measure="OR", counts=cells)


def _check_means(sd_t, n_t, sd_c, n_c):
    if (sd_t < 0).any() or (sd_c < 0).any():
        raise ValueError("standard deviations must be >= 0")
    if (n_t <= 0).any() or (n_c <= 0).any():
        raise ValueError("arm sizes must be positive")


def mean_difference(mean_t, sd_t, n_t, mean_c, sd_c, n_c, *, study=None) -> EffectSizes:
    """Raw mean differences (treatment minus control), ``vi = sd_t^2/n_t + sd_c^2/n_c``."""
    m1, s1, n1, m2, s2, n2 = _as_arrays(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    _check_means(s1, n1, s2, n2)
    return EffectSizes(yi=m1 - m2, vi=s1**2 / n1 + s2**2 / n2, study=_labels(study, m1.size),
                       measure="MD")


def standardized_mean_difference(mean_t, sd_t, n_t, mean_c, sd_c, n_c, *,
                                 study=None) -> EffectSizes:
    """Hedges' g (bias-corrected standardized mean difference).

    ``g = J d`` with ``d = (m1 - m2) / s_pooled`` and the exact correction
    ``J = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))``, ``m = n1 + n2 - 2``;
    ``vi = 1/n1 + 1/n2 + g^2 / (2 (n1 + n2))``.
    """
    from scipy.special import gammaln

    m1, s1, n1, m2, s2, n2 = _as_arrays(mean_t, sd_t, n_t, mean_c, sd_c, n_c)
    _check_means(s1, n1, s2, n2)
    dof = n1 + n2 - 2
    if (dof < 2).any():
        raise ValueError("Hedges' g needs n_t + n_c >= 4")
    pooled_sd = np.sqrt(((n1 - 1) * s1**2 + (n2 - 1) * s2**2) / dof)
    if (pooled_sd == 0).any():
        raise ValueError("standardized mean difference needs a positive pooled SD")
    correction = np.exp(gammaln(dof / 2) - 0.5 * np.log(dof / 2) - gammaln((dof - 1) / 2))
    g = correction * (m1 - m2) / pooled_sd
    vi = 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    return EffectSizes(yi=g, vi=vi, study=_labels(study, m1.size), measure="SMD")


def effect_sizes(yi, vi, *, study=None, measure: str = "GEN") -> EffectSizes:
    """Wrap given effect sizes and sampling variances."""
    y, v = _as_arrays(yi, vi)
    return EffectSizes(yi=y, vi=v, study=_labels(study, y.size), measure=measure)
