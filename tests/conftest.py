import os

import numpy as np
import pytest
from hypothesis import settings

# derandomized: the same examples every run, so CI cannot flake on a rare draw
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
# nightly: new random examples every run, many more of them; a failure prints the
# blob to reproduce it (HYPOTHESIS_PROFILE=nightly python -m pytest)
settings.register_profile("nightly", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def model():
    from strainsim.segments import load_segments

    return load_segments()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


class CliRun:
    """What one command-line call returned and printed."""

    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys):
    """``cli(argv)`` runs ``strainsim argv`` in-process: exit code, stdout, stderr."""
    from strainsim.cli import main

    def run(argv):
        code = main(argv)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run
