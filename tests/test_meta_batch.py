"""pool_many: many meta-analyses in one call, row by row what pool gives, and PyMARE's."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strainsim.stats.effects import effect_sizes
from strainsim.stats.pooling import BATCH_METHODS, pool, pool_many

FIELDS = ("estimate", "se", "ci_low", "ci_high", "stat", "p", "tau2", "i2", "h2", "q", "q_p",
          "pi_low", "pi_high")

ragged = st.integers(2, 9).flatmap(lambda width: st.lists(
    st.lists(st.one_of(st.none(), st.tuples(st.floats(-3, 3), st.floats(0.001, 2.0))),
             min_size=width, max_size=width), min_size=1, max_size=12))


def _arrays(rows):
    yi = np.array([[np.nan if c is None else c[0] for c in row] for row in rows])
    vi = np.array([[np.nan if c is None else c[1] for c in row] for row in rows])
    return yi, vi


@given(ragged, st.sampled_from(BATCH_METHODS), st.sampled_from(["z", "knha"]),
       st.sampled_from([0.9, 0.95]))
def test_every_row_is_what_pool_gives_for_its_studies(rows, method, test, level):
    """NaN padding anywhere in a row: the row is pooled as if the padding were not there."""
    yi, vi = _arrays(rows)
    batch = pool_many(yi, vi, method, test, level)
    for r in range(yi.shape[0]):
        keep = np.isfinite(yi[r])
        assert batch.k[r] == keep.sum()
        if keep.sum() == 0 or (test == "knha" and keep.sum() < 2):
            assert np.isnan(batch.estimate[r])
            continue
        one = pool(effect_sizes(yi[r, keep], vi[r, keep]), method, test, level)
        for name in FIELDS:
            got, want = getattr(batch, name)[r], getattr(one, name)
            if np.isnan(want):
                assert np.isnan(got), name
            else:
                assert got == pytest.approx(want, rel=1e-10, abs=1e-12), name


def test_mask_leaves_studies_out(rng):
    yi = rng.normal(0, 1, (50, 6))
    vi = rng.uniform(0.05, 0.5, (50, 6))
    mask = rng.random((50, 6)) < 0.7
    mask[:, 0] = True
    masked = pool_many(yi, vi, "REML", mask=mask)
    padded = pool_many(np.where(mask, yi, np.nan), vi, "REML")
    np.testing.assert_array_equal(masked.estimate, padded.estimate)
    np.testing.assert_array_equal(masked.tau2, padded.tau2)


def test_bad_batches_are_refused():
    with pytest.raises(ValueError, match="method"):
        pool_many([0.1, 0.2], [0.1, 0.1], "MH")
    with pytest.raises(ValueError, match="positive"):
        pool_many([0.1, 0.2], [0.1, 0.0], "DL")
    with pytest.raises(ValueError, match="shape"):
        pool_many(np.zeros((2, 3)), np.ones((3, 2)), "DL")


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_same_numbers_as_pymare(method):
    estimators = pytest.importorskip("pymare.estimators")
    rng = np.random.default_rng(7)
    m, k = 2000, 5
    vi = rng.uniform(0.01, 0.2, (m, k))
    yi = rng.normal(0.3, np.sqrt(vi + 0.05))
    estimator = (estimators.DerSimonianLaird() if method == "DL"
                 else estimators.VarianceBasedLikelihoodEstimator(method="REML"))
    estimator.fit(y=yi.T, v=vi.T, X=np.ones((k, 1)))
    ours = pool_many(yi, vi, method)
    theirs_tau2 = np.asarray(estimator.params_["tau2"]).ravel()
    theirs_mu = np.asarray(estimator.params_["fe_params"]).ravel()
    # PyMARE maximizes the REML likelihood with scipy.optimize to about 1e-7 in tau^2
    tol = 1e-12 if method == "DL" else 1e-6
    np.testing.assert_allclose(ours.tau2, theirs_tau2, rtol=0, atol=tol)
    np.testing.assert_allclose(ours.estimate, theirs_mu, rtol=0, atol=tol / 10)
