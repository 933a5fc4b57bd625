"""Trial sequential analysis: how much information would settle the question.

A cumulative meta-analysis looks at the data again with every new trial, so a
nominal 5 % test run after each trial finds "significance" more often than 5 %.
Trial sequential analysis (Wetterslev et al., J Clin Epidemiol 2008;61:64-75;
Wetterslev, Thorlund, Brok, Gluud, BMC Med Res Methodol 2009;9:86) treats the
cumulative meta-analysis like an interim-monitored trial:

Required information size (patients)
    ``RIS = 4 (z_{1-alpha/2} + z_{1-beta})^2 sigma^2 / delta^2`` for a mean
    difference ``delta`` with outcome SD ``sigma``; for a binary outcome
    ``sigma^2 = p (1 - p)`` with ``p`` the mean of the control and intervention
    event proportions and ``delta`` their difference. Heterogeneity-adjusted
    (diversity, Wetterslev 2009): ``RIS / (1 - D^2)`` with
    ``D^2 = (V_RE - V_FE) / V_RE``, the relative excess of the random-effects
    variance of the pooled estimate over the fixed-effect one.
Monitoring boundaries
    Lan-DeMets alpha spending with the O'Brien-Fleming-type function
    ``alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t))`` (two-sided) at the
    information fractions ``t_j = N_j / RIS`` of the looks; the boundaries are
    found by recursive numerical integration of the Brownian-motion process of
    the cumulative Z (Armitage, McPherson and Rowe, J R Stat Soc A 1969), with
    benefit and harm boundaries symmetric.
Cumulative Z-curve
    The random-effects z statistic of the studies pooled so far, after each study.

Futility (inner) boundaries need beta spending under the alternative; they are
not computed here.

Examples
--------
>>> from strainsim.stats.sequential import obf_spending, boundaries
>>> round(float(obf_spending(1.0, 0.05)), 6)
0.05
>>> b = boundaries([1.0], alpha=0.05)
>>> round(float(b[0]), 4)
1.96
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from strainsim.stats.effects import EffectSizes
from strainsim.stats.pooling import pool_many

__all__ = ["obf_spending", "boundaries", "diversity", "required_information", "TsaResult",
           "trial_sequential_analysis", "tsa_design", "TsaDesign", "DesignError"]

_HIGH = 12.0  # a boundary beyond 12 standard deviations spends nothing measurable


def obf_spending(t, alpha: float = 0.05):
    """Lan-DeMets O'Brien-Fleming-type alpha spent by information fraction ``t``
    (two-sided): ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))``; ``alpha`` at ``t >= 1``."""
    from scipy.special import ndtr, ndtri

    t = np.minimum(np.asarray(t, dtype=float), 1.0)
    z = ndtri(1.0 - alpha / 2.0)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2.0 - 2.0 * ndtr(z / np.sqrt(np.maximum(t, 1e-300))), 0.0)


def boundaries(fractions, alpha: float = 0.05, *, grid_points: int = 2001) -> np.ndarray:
    """Two-sided symmetric group-sequential boundaries (z) at the given information
    fractions, spending ``alpha`` by :func:`obf_spending`.

    Parameters
    ----------
    fractions : array_like
        Increasing information fractions of the looks (values above 1 count as 1).
    alpha : float
        Two-sided type I error.
    grid_points : int
        Points of the numerical integration grid for each look.

    Returns
    -------
    ndarray
        ``b_j`` such that ``P(|Z_i| < b_i for i < j, |Z_j| >= b_j) = alpha(t_j) -
        alpha(t_{j-1})`` under no effect; ``inf`` where a look spends nothing.
    """
    from scipy.integrate import trapezoid as _trapz
    from scipy.optimize import brentq
    from scipy.special import ndtr

    t = np.minimum(np.asarray(fractions, dtype=float), 1.0)
    if t.ndim != 1 or t.size == 0 or np.any(t <= 0) or np.any(np.diff(t) < 0):
        raise ValueError("information fractions must be positive and increasing")
    spent = obf_spending(t, alpha)
    out = np.empty(t.size)
    # the density of S_j = Z_j sqrt(t_j) (Brownian motion at time t_j) on the
    # continuation region, carried from look to look on a grid (trapezoidal rule)
    grid = density = None
    previous_t, previous_spent = 0.0, 0.0
    for j, (tj, aj) in enumerate(zip(t, spent, strict=True)):
        dt = tj - previous_t
        if dt <= 0:  # no new information: the same look again
            out[j] = out[j - 1]
            continue
        sd = math.sqrt(dt)
        if density is None:  # first look: S_1 ~ N(0, t_1)
            def exit_prob(b):
                return 2.0 * float(ndtr(-b))
        else:
            def exit_prob(b, tj=tj, sd=sd, grid=grid, density=density):
                edge = b * math.sqrt(tj)
                tail = ndtr((-edge - grid) / sd) + ndtr((grid - edge) / sd)
                return float(_trapz(density * tail, grid))
        step = aj - previous_spent
        if step <= 0 or exit_prob(_HIGH) >= step:
            out[j] = np.inf  # this look spends (next to) nothing
        else:
            out[j] = brentq(lambda b, f=exit_prob, s=step: f(b) - s, 0.0, _HIGH, xtol=1e-12)
        edge = (out[j] if np.isfinite(out[j]) else _HIGH) * math.sqrt(tj)
        new_grid = np.linspace(-edge, edge, grid_points)
        if density is None:
            new_density = np.exp(-new_grid**2 / (2 * tj)) / math.sqrt(2 * math.pi * tj)
        else:
            kernel = np.exp(-((new_grid[:, None] - grid[None, :]) ** 2) / (2 * dt)) / (
                math.sqrt(2 * math.pi) * sd)
            new_density = _trapz(kernel * density[None, :], grid, axis=1)
        grid, density = new_grid, new_density
        previous_t, previous_spent = tj, aj
    return out


def diversity(yi, vi, method: str = "DL") -> float:
    """D^2 = (V_RE - V_FE) / V_RE, the heterogeneity of a meta-analysis as a share of
    the random-effects variance of its pooled estimate (Wetterslev et al. 2009)."""
    fe = pool_many(yi, vi, "FE")
    re = pool_many(yi, vi, method)
    v_fe, v_re = float(fe.se[0]) ** 2, float(re.se[0]) ** 2
    return max(0.0, (v_re - v_fe) / v_re)


def required_information(delta: float, variance: float, alpha: float = 0.05,
                         beta: float = 0.2, d2: float = 0.0) -> float:
    """Patients needed in a two-arm meta-analysis: ``4 (z_a + z_b)^2 variance / delta^2``
    (``z_a`` two-sided), divided by ``1 - D^2``."""
    from scipy.special import ndtri

    if delta == 0 or not math.isfinite(delta):
        raise ValueError("the effect to detect must be a finite non-zero number")
    if variance <= 0:
        raise ValueError("the outcome variance must be positive")
    if not 0 <= d2 < 1:
        raise ValueError("D^2 must be in [0, 1)")
    z = ndtri(1 - alpha / 2) + ndtri(1 - beta)
    return float(4.0 * z * z * variance / (delta * delta) / (1.0 - d2))


@dataclass(frozen=True)
class TsaResult:
    """A trial sequential analysis.

    Attributes
    ----------
    study : tuple of str
    patients : ndarray
        Cumulative patients after each study.
    z : ndarray
        Cumulative random-effects z statistic after each study.
    fraction : ndarray
        Cumulative patients as a fraction of the required information size.
    boundary : ndarray
        Two-sided O'Brien-Fleming-type monitoring boundary (|z|) at each look.
    ris, ris_unadjusted : float
        Required information size (patients), heterogeneity-adjusted and not.
    d2 : float
    delta, variance, alpha, beta : float
    method : str
    crossed : bool
        Whether the z-curve crossed the benefit or harm boundary.
    conclusive : str
        ``"benefit or harm boundary crossed"``, ``"required information reached"``
        or ``"not yet conclusive"``.
    """

    study: tuple
    patients: np.ndarray
    z: np.ndarray
    fraction: np.ndarray
    boundary: np.ndarray
    ris: float
    ris_unadjusted: float
    d2: float
    delta: float
    variance: float
    alpha: float
    beta: float
    method: str
    crossed: bool
    conclusive: str

    def to_dict(self) -> dict:
        def num(x):
            return float(x) if math.isfinite(x) else None

        return {"ris": self.ris, "ris_unadjusted": self.ris_unadjusted, "d2": self.d2,
                "delta": self.delta, "variance": self.variance, "alpha": self.alpha,
                "beta": self.beta, "method": self.method, "crossed": self.crossed,
                "conclusive": self.conclusive,
                "looks": [{"study": s, "patients": int(n), "fraction": num(f), "z": num(z),
                           "boundary": num(b)}
                          for s, n, f, z, b in zip(self.study, self.patients, self.fraction,
                                                   self.z, self.boundary, strict=True)]}


def trial_sequential_analysis(effects: EffectSizes, patients, delta: float, variance: float,
                              alpha: float = 0.05, beta: float = 0.2,
                              method: str = "DL") -> TsaResult:
    """TSA of a cumulative meta-analysis, studies in their given order.

    Parameters
    ----------
    effects : EffectSizes
    patients : array_like of int
        Patients in each study (both arms).
    delta : float
        The effect to detect, on the scale of the outcome (a mean difference, or a
        difference of event proportions).
    variance : float
        The outcome's variance (SD^2, or ``p (1 - p)`` for a binary outcome).
    alpha, beta : float
        Two-sided type I error and type II error.
    method : str
        Random-effects method for D^2 and the cumulative z-curve.
    """
    patients = np.asarray(patients, dtype=float)
    if patients.shape != (effects.k,) or np.any(patients <= 0):
        raise ValueError("one positive number of patients per study is needed")
    if not (0 < alpha < 1 and 0 < beta < 1):
        raise ValueError("alpha and beta must be in (0, 1)")
    d2 = diversity(effects.yi, effects.vi, method) if effects.k >= 2 else 0.0
    ris0 = required_information(delta, variance, alpha, beta)
    ris = required_information(delta, variance, alpha, beta, d2)
    cumulative_n = np.cumsum(patients)
    masks = np.tri(effects.k, dtype=bool)
    batch = pool_many(np.broadcast_to(effects.yi, masks.shape),
                      np.broadcast_to(effects.vi, masks.shape), method, mask=masks)
    z = batch.stat
    fraction = cumulative_n / ris
    bounds = boundaries(fraction, alpha)
    crossed = bool(np.any(np.abs(z) >= bounds))
    if crossed:
        verdict = "benefit or harm boundary crossed"
    elif fraction[-1] >= 1:
        verdict = "required information reached"
    else:
        verdict = "not yet conclusive"
    return TsaResult(study=effects.study, patients=cumulative_n.astype(int), z=z,
                     fraction=fraction, boundary=bounds, ris=ris, ris_unadjusted=ris0,
                     d2=d2, delta=float(delta), variance=float(variance), alpha=alpha,
                     beta=beta, method=method, crossed=crossed, conclusive=verdict)


class DesignError(ValueError):
    """A TSA design input that cannot be used; ``parameter`` names it (``effect``, ``sd``,
    ``control_rate``)."""

    def __init__(self, parameter: str, expected: str, found):
        self.parameter, self.expected, self.found = parameter, expected, str(found)
        super().__init__(f"{parameter}: expected {expected}, found {found}")


@dataclass(frozen=True)
class TsaDesign:
    """What a trial sequential analysis needs besides the effect sizes.

    Attributes
    ----------
    patients : ndarray
        Patients per study (both arms).
    delta : float
        The effect to detect on the outcome's scale (a mean difference, or a difference
        of event proportions for a counts table).
    variance : float
        The outcome's variance (SD^2, or ``p (1 - p)`` at the mean event proportion).
    """

    patients: np.ndarray
    delta: float
    variance: float


def tsa_design(measure: str, columns: dict, effect: float, *, sd: float | None = None,
               control_rate: float | None = None) -> TsaDesign:
    """The information-size inputs from a study table's columns.

    Parameters
    ----------
    measure : {"OR", "MD", "SMD"}
        The table's effect measure (counts give odds ratios).
    columns : dict of str to ndarray
        ``n_t``, ``n_c`` and either ``events_c`` (counts) or ``sd_t``, ``sd_c`` (means).
    effect : float
        The effect to detect: an odds ratio (counts) or a mean difference (means).
    sd : float, optional
        The outcome SD (means; default the studies' pooled SD, degrees-of-freedom
        weighted).
    control_rate : float, optional
        The control event proportion (counts; default pooled from the control arms).
        The odds ratio turns it into the treated proportion, and ``delta`` is their
        difference.
    """
    patients = columns["n_t"] + columns["n_c"]
    if measure == "OR":
        if effect <= 0 or not math.isfinite(effect) or effect == 1:
            raise DesignError("effect", "an odds ratio > 0 and not 1 for a counts table",
                              effect)
        pc = (float(columns["events_c"].sum() / columns["n_c"].sum())
              if control_rate is None else control_rate)
        if not 0 < pc < 1:
            raise DesignError("control_rate", "a proportion in (0, 1)", pc)
        pi = effect * pc / (1 - pc + effect * pc)
        p_bar = (pi + pc) / 2
        return TsaDesign(patients, pi - pc, p_bar * (1 - p_bar))
    if effect == 0 or not math.isfinite(effect):
        raise DesignError("effect", "a non-zero mean difference", effect)
    if sd is None:
        dof = np.concatenate([columns["n_t"] - 1, columns["n_c"] - 1])
        var = np.concatenate([columns["sd_t"] ** 2, columns["sd_c"] ** 2])
        sd = float(np.sqrt(np.sum(dof * var) / np.sum(dof)))
    if not sd > 0:
        raise DesignError("sd", "a positive SD", sd)
    return TsaDesign(patients, float(effect), sd * sd)
