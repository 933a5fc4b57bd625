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
    from strainsim.app.cli import main

    def run(argv):
        code = main(argv)
        out, err = capsys.readouterr()
        return CliRun(code, out, err)

    return run


def placement_inputs(target, *, activation_ms=None, scar=None, ttp_ms=None, viable=None,
                     peak_strain=None):
    """What :func:`strainsim.model.placement.place_leads` reads of the engine's result and the
    patients' activation, built from plain arrays (the true latest = ``target`` unless
    activation times are given)."""
    from types import SimpleNamespace

    from strainsim.model.activation import Activation

    target = np.asarray(target, dtype=np.int64)
    n = target.shape[0]
    if activation_ms is None:  # the target activates last
        activation_ms = np.zeros((n, 17))
        activation_ms[target > 0, target[target > 0] - 1] = 100.0
    scar = np.zeros((n, 17), bool) if scar is None else scar
    ttp_ms = activation_ms + 300.0 if ttp_ms is None else ttp_ms
    viable = ~scar if viable is None else viable
    peak_strain = np.where(viable, 30.0, 5.0) if peak_strain is None else peak_strain
    measured = SimpleNamespace(latest_segment=target, ttp_ms=ttp_ms, viable=viable,
                               peak_strain=peak_strain, kind="radial")
    activation = Activation(activation_ms=activation_ms, scar=scar,
                            ischemic=np.zeros(n, bool), late_angle_deg=np.zeros(n),
                            delay_ms=np.full(n, 130.0))
    return measured, activation
