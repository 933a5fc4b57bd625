import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def model():
    from strainsim.segments import load_segments

    return load_segments()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
