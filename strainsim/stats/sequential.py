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

Other spending functions (Pocock, Hwang-Shih-DeCani: :func:`spending`) and
beta-spending futility boundaries, binding or not (:func:`futility_design`), give
the designs of group-sequential software; ``tests/test_sequential_rpact.py`` checks
them against rpact given the same spending. The TSA-adjusted confidence interval is
the pooled estimate plus or minus the efficacy boundary times its SE.

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

__all__ = ["obf_spending", "spending", "SPENDING", "futility_design", "FutilityDesign",
           "boundaries", "FUTILITY", "diversity", "required_information", "TsaResult",
           "trial_sequential_analysis", "tsa_design", "TsaDesign", "DesignError"]

_HIGH = 12.0  # a boundary beyond 12 standard deviations spends nothing measurable


SPENDING = ("obf", "pocock", "hsd")


def spending(t, alpha: float = 0.05, kind: str = "obf", gamma: float = -4.0):
    """Error spent by information fraction ``t`` (``alpha`` at ``t >= 1``).

    ``obf``
        Lan-DeMets O'Brien-Fleming type in the TSA convention (two-sided),
        ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))`` (:func:`obf_spending`);
    ``pocock``
        Lan-DeMets Pocock type, ``alpha log(1 + (e - 1) t)``;
    ``hsd``
        Hwang-Shih-DeCani, ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))`` (``alpha t``
        at ``gamma = 0``; ``gamma = -4`` is close to O'Brien-Fleming, ``1`` to Pocock).

    The same functions spend beta for futility (``alpha`` then stands for beta).
    """
    t = np.minimum(np.asarray(t, dtype=float), 1.0)
    if kind == "obf":
        return obf_spending(t, alpha)
    if kind == "pocock":
        return np.where(t > 0, alpha * np.log1p((math.e - 1.0) * np.maximum(t, 0.0)), 0.0)
    if kind == "hsd":
        if abs(gamma) < 1e-12:
            return alpha * np.maximum(t, 0.0)
        return np.where(t > 0, alpha * (1.0 - np.exp(-gamma * t)) / (1.0 - math.exp(-gamma)),
                        0.0)
    raise ValueError(f"spending must be one of {', '.join(SPENDING)}, not {kind!r}")


def obf_spending(t, alpha: float = 0.05):
    """Lan-DeMets O'Brien-Fleming-type alpha spent by information fraction ``t``
    (two-sided): ``2 - 2 Phi(z_{1-alpha/2} / sqrt(t))``; ``alpha`` at ``t >= 1``."""
    from scipy.special import ndtr, ndtri

    t = np.minimum(np.asarray(t, dtype=float), 1.0)
    z = ndtri(1.0 - alpha / 2.0)
    with np.errstate(divide="ignore"):
        return np.where(t > 0, 2.0 - 2.0 * ndtr(z / np.sqrt(np.maximum(t, 1e-300))), 0.0)


def boundaries(fractions, alpha: float = 0.05, *, grid_points: int = 2001,
               kind: str = "obf", gamma: float = -4.0) -> np.ndarray:
    """Two-sided symmetric group-sequential boundaries (z) at the given information
    fractions, spending ``alpha`` by :func:`spending` (``kind``, ``gamma``).

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
    spent = spending(t, alpha, kind, gamma)
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


@dataclass(frozen=True)
class FutilityDesign:
    """A group-sequential design with beta-spending futility, one-sided in the direction
    of benefit (the harm boundary is the efficacy boundary mirrored).

    Attributes
    ----------
    fractions : ndarray
        Information fractions of the looks; the last is 1 (the design's final look at
        the required information).
    efficacy : ndarray
        Upper boundaries (z): benefit shown when crossed.
    futility : ndarray
        Lower boundaries (z): stop for futility when below (``-inf`` where a look spends
        no beta); at the last look equal to the efficacy boundary.
    drift : float
        The alternative's drift: ``E[Z] = drift sqrt(t)``; found so that the boundaries
        meet at the last look with all of beta spent.
    inflation : float
        ``(drift / (z_{1-alpha/2} + z_{1-beta}))^2``: the required information's
        inflation for the interim looks.
    binding : bool
        Binding futility: the type I error counts the futility stops (efficacy
        boundaries a little lower); non-binding: they are ignored for it.
    """

    fractions: np.ndarray
    efficacy: np.ndarray
    futility: np.ndarray
    drift: float
    inflation: float
    binding: bool


def _first_exit(tj, drift, edge_z, above):
    from scipy.special import ndtr

    mean, sd = drift * tj, math.sqrt(tj)
    c = edge_z * sd
    return float(ndtr((mean - c) / sd) if above else ndtr((c - mean) / sd))


def _carried_exit(grid, density, dt, drift, c, above):
    from scipy.integrate import trapezoid
    from scipy.special import ndtr

    sd = math.sqrt(dt)
    shift = drift * dt
    tail = ndtr((grid + shift - c) / sd) if above else ndtr((c - grid - shift) / sd)
    return float(trapezoid(density * tail, grid))


def _carry(grid, density, t_prev, tj, drift, low_s, high_s, points):
    """The density of S = Z sqrt(t) at ``tj`` on the continuation region [low_s, high_s]."""
    from scipy.integrate import trapezoid

    new = np.linspace(low_s, high_s, points)
    if grid is None:
        return new, np.exp(-(new - drift * tj) ** 2 / (2 * tj)) / math.sqrt(2 * math.pi * tj)
    dt = tj - t_prev
    kernel = np.exp(-((new[:, None] - grid[None, :] - drift * dt) ** 2) / (2 * dt)) / (
        math.sqrt(2 * math.pi * dt))
    return new, trapezoid(kernel * density[None, :], grid, axis=1)


def futility_design(fractions, alpha: float = 0.05, beta: float = 0.2, *, kind: str = "obf",
                    gamma: float = -4.0, beta_kind: str | None = None,
                    beta_gamma: float | None = None, binding: bool = False,
                    grid_points: int = 801) -> FutilityDesign:
    """Efficacy and beta-spending futility boundaries (one-sided, the benefit side).

    Alpha is spent one-sided, ``spending(t, alpha) / 2`` (half the two-sided TSA
    spending), beta by ``spending(t, beta, beta_kind)`` (default the alpha's kind), at
    the looks ``fractions`` and a final look at 1. Look by look the efficacy boundary
    spends its alpha under no effect (counting futility stops only when ``binding``) and
    the futility boundary its beta under the alternative of drift ``theta``; ``theta``
    is then found so that the two meet at the last look (all of beta spent), as in
    group-sequential software (rpact's ``getDesignGroupSequential`` with user spending
    gives the same boundaries; ``tests/test_sequential_rpact.py``).
    """
    from scipy.optimize import brentq
    from scipy.special import ndtri

    t = np.minimum(np.asarray(fractions, dtype=float), 1.0)
    if t.ndim != 1 or t.size == 0 or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError("information fractions must be positive and increasing")
    if t[-1] < 1.0:
        t = np.append(t, 1.0)
    a_spent = np.minimum(spending(t, alpha, kind, gamma) / 2.0, alpha / 2.0)
    b_spent = np.minimum(spending(t, beta, beta_kind or kind,
                                  gamma if beta_gamma is None else beta_gamma), beta)

    def build(theta):
        """Both boundaries at drift ``theta``, and how much more than the last look's
        beta the alternative would put below its efficacy boundary (0 where they meet)."""
        eff, fut = np.empty(t.size), np.empty(t.size)
        g0 = d0 = g1 = d1 = None
        t_prev = 0.0
        spent_a = spent_b = 0.0
        excess = 0.0
        for j, tj in enumerate(t):
            dt = tj - t_prev

            def p0_above(z, tj=tj, dt=dt, g0=g0, d0=d0):
                return (_first_exit(tj, 0.0, z, True) if g0 is None else
                        _carried_exit(g0, d0, dt, 0.0, z * math.sqrt(tj), True))

            def p1_below(z, tj=tj, dt=dt, g1=g1, d1=d1):
                return (_first_exit(tj, theta, z, False) if g1 is None else
                        _carried_exit(g1, d1, dt, theta, z * math.sqrt(tj), False))

            step_a = a_spent[j] - spent_a
            if step_a <= 0 or p0_above(_HIGH) >= step_a:
                eff[j] = _HIGH
            elif p0_above(-_HIGH) < step_a:
                # binding futility bounds so high (a drift far too large: the
                # alternative's beta is spent only by stopping nearly everyone) that too
                # few continue to spend this look's alpha: report the drift as too large
                return eff, fut, -1.0
            else:
                eff[j] = brentq(lambda z, s=step_a: p0_above(z) - s, -_HIGH, _HIGH, xtol=1e-12)
            step_b = b_spent[j] - spent_b
            if j == t.size - 1:
                excess = p1_below(eff[j]) - step_b
                fut[j] = eff[j]
                break
            if step_b <= 0 or p1_below(-_HIGH) >= step_b:
                fut[j] = -_HIGH
            elif p1_below(eff[j]) <= step_b:
                fut[j] = eff[j]
            else:
                fut[j] = brentq(lambda z, s=step_b: p1_below(z) - s, -_HIGH, eff[j],
                                xtol=1e-12)
            root = math.sqrt(tj)
            low0 = fut[j] * root if binding else -_HIGH * root
            g0, d0 = _carry(g0, d0, t_prev, tj, 0.0, low0, eff[j] * root, grid_points)
            g1, d1 = _carry(g1, d1, t_prev, tj, theta, fut[j] * root, eff[j] * root,
                            grid_points)
            spent_a, spent_b, t_prev = a_spent[j], b_spent[j], tj
        return eff, fut, excess

    z_sum = float(ndtri(1 - alpha / 2) + ndtri(1 - beta))
    # a larger drift leaves less probability below the last efficacy boundary
    low, high = 0.5 * z_sum, 1.5 * z_sum
    while build(high)[2] > 0 and high < 20 * z_sum:
        high *= 1.5
    theta = brentq(lambda th: build(th)[2], low, high, xtol=1e-10)
    eff, fut, _ = build(theta)
    eff = np.where(eff >= _HIGH, np.inf, eff)
    fut = np.where(fut <= -_HIGH, -np.inf, fut)
    return FutilityDesign(fractions=t, efficacy=eff, futility=fut, drift=float(theta),
                          inflation=float((theta / z_sum) ** 2), binding=bool(binding))


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


FUTILITY = ("none", "binding", "non-binding")


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
        The efficacy (monitoring) boundary's |z| at each look: two-sided symmetric
        without futility, the benefit side's with it (harm mirrored).
    futility : ndarray
        The futility boundary at each look, as a z on the side of benefit (signed like
        ``delta``); NaN without futility.
    ris, ris_unadjusted : float
        Required information size (patients), heterogeneity-adjusted and not.
    inflation : float
        With futility: the design's information inflation for its interim looks (1
        without).
    d2 : float
    delta, variance, alpha, beta : float
    method, spending, futility_rule : str
    gamma : float
    crossed : bool
        Whether the z-curve crossed the benefit or harm boundary.
    conclusive : str
        ``"benefit or harm boundary crossed"``, ``"futility boundary crossed"``,
        ``"required information reached"`` or ``"not yet conclusive"``.
    estimate, se : float
        The pooled estimate and its SE after the last study (the measure's scale: log
        odds ratio for counts).
    adjusted_ci : tuple of float
        The TSA-adjusted confidence interval after the last study, ``estimate +/- b
        se`` with ``b`` the efficacy boundary there (the reported scale: an odds ratio
        for counts; infinite where the boundary is).
    measure : str
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
    futility: np.ndarray | None = None
    inflation: float = 1.0
    spending: str = "obf"
    gamma: float = -4.0
    futility_rule: str = "none"
    estimate: float = float("nan")
    se: float = float("nan")
    adjusted_ci: tuple = (float("nan"), float("nan"))
    measure: str = "GEN"

    def to_dict(self) -> dict:
        def num(x):
            return float(x) if x is not None and math.isfinite(x) else None

        futility = self.futility if self.futility is not None else np.full(len(self.z),
                                                                           np.nan)
        sign = 1.0 if self.delta > 0 else -1.0
        return {"ris": self.ris, "required_information_size": self.ris,
                "ris_unadjusted": self.ris_unadjusted, "d2": self.d2,
                "inflation": self.inflation,
                "delta": self.delta, "variance": self.variance, "alpha": self.alpha,
                "beta": self.beta, "method": self.method, "spending": self.spending,
                "gamma": self.gamma if self.spending == "hsd" else None,
                "futility": self.futility_rule, "crossed": self.crossed,
                "conclusive": self.conclusive,
                "adjusted_ci": [num(self.adjusted_ci[0]), num(self.adjusted_ci[1])],
                "looks": [{"study": s, "patients": int(n), "information_fraction": num(f),
                           "fraction": num(f), "cumulative_z": num(z), "z": num(z),
                           "efficacy_z": num(sign * b), "boundary": num(b),
                           "futility_z": num(a)}
                          for s, n, f, z, b, a in zip(self.study, self.patients,
                                                      self.fraction, self.z, self.boundary,
                                                      futility, strict=True)]}


def trial_sequential_analysis(effects: EffectSizes, patients, delta: float, variance: float,
                              alpha: float = 0.05, beta: float = 0.2,
                              method: str = "DL", *, spending_kind: str = "obf",
                              gamma: float = -4.0, futility: str = "none") -> TsaResult:
    """TSA of a cumulative meta-analysis, studies in their given order.

    Parameters
    ----------
    effects : EffectSizes
    patients : array_like of int
        Patients in each study (both arms).
    delta : float
        The effect to detect, on the scale of the outcome (a mean difference, or a
        difference of event proportions); its sign is the direction of benefit.
    variance : float
        The outcome's variance (SD^2, or ``p (1 - p)`` for a binary outcome).
    alpha, beta : float
        Two-sided type I error and type II error.
    method : str
        Random-effects method for D^2 and the cumulative z-curve.
    spending_kind : {"obf", "pocock", "hsd"}
        The alpha (and beta) spending function (:func:`spending`); ``gamma`` for hsd.
    futility : {"none", "binding", "non-binding"}
        Beta-spending futility boundaries on the side of benefit (:func:`futility_design`).
    """
    patients = np.asarray(patients, dtype=float)
    if patients.shape != (effects.k,) or np.any(patients <= 0):
        raise ValueError("one positive number of patients per study is needed")
    if not (0 < alpha < 1 and 0 < beta < 1):
        raise ValueError("alpha and beta must be in (0, 1)")
    if futility not in FUTILITY:
        raise ValueError(f"futility must be one of {', '.join(FUTILITY)}, not {futility!r}")
    spending(1.0, alpha, spending_kind, gamma)   # refuses an unknown spending function
    d2 = diversity(effects.yi, effects.vi, method) if effects.k >= 2 else 0.0
    ris0 = required_information(delta, variance, alpha, beta)
    ris = required_information(delta, variance, alpha, beta, d2)
    cumulative_n = np.cumsum(patients)
    masks = np.tri(effects.k, dtype=bool)
    batch = pool_many(np.broadcast_to(effects.yi, masks.shape),
                      np.broadcast_to(effects.vi, masks.shape), method, mask=masks)
    z = batch.stat
    fraction = cumulative_n / ris
    sign = 1.0 if delta > 0 else -1.0
    inflation = 1.0
    if futility == "none":
        bounds = boundaries(fraction, alpha, kind=spending_kind, gamma=gamma)
        inner = None
    else:
        # looks at or beyond the required information are the design's final look
        looks = np.minimum(fraction, 1.0)
        first_full = int(np.argmax(looks >= 1.0)) if np.any(looks >= 1.0) else looks.size
        design = futility_design(looks[:first_full] if first_full < looks.size
                                 else looks, alpha, beta, kind=spending_kind, gamma=gamma,
                                 binding=futility == "binding")
        inflation = design.inflation
        at = np.minimum(np.arange(looks.size), design.efficacy.size - 1)
        bounds = design.efficacy[at]
        inner = sign * design.futility[at]
    benefit_side = sign * z
    crossed = bool(np.any(np.abs(z) >= bounds))
    stopped_futile = inner is not None and bool(np.any(
        (benefit_side <= sign * inner) & (np.abs(z) < bounds)))
    if crossed:
        verdict = "benefit or harm boundary crossed"
    elif stopped_futile:
        verdict = "futility boundary crossed"
    elif fraction[-1] >= 1:
        verdict = "required information reached"
    else:
        verdict = "not yet conclusive"
    estimate, se, last = float(batch.estimate[-1]), float(batch.se[-1]), float(bounds[-1])
    back = math.exp if effects.measure == "OR" else float
    if math.isfinite(last):
        adjusted = (back(estimate - last * se), back(estimate + last * se))
    else:
        adjusted = (back(-math.inf) if effects.measure == "OR" else -math.inf, math.inf)
    return TsaResult(study=effects.study, patients=cumulative_n.astype(int), z=z,
                     fraction=fraction, boundary=bounds, ris=ris, ris_unadjusted=ris0,
                     d2=d2, delta=float(delta), variance=float(variance), alpha=alpha,
                     beta=beta, method=method, crossed=crossed, conclusive=verdict,
                     futility=inner, inflation=inflation, spending=spending_kind,
                     gamma=gamma, futility_rule=futility, estimate=estimate, se=se,
                     adjusted_ci=adjusted, measure=effects.measure)


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
