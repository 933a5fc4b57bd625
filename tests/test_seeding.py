"""Block generators seeded in numba against numpy's SeedSequence and PCG64."""

import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from strainsim.seeding import block_generators, child_states

entropies = st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 2**200),
                      st.lists(st.integers(0, 2**40), min_size=1, max_size=6))
spawn_paths = st.lists(st.integers(0, 40), max_size=5)


def numpy_states(seed, count):
    copy = np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key,
                                  n_children_spawned=seed.n_children_spawned)
    states = [np.random.PCG64(child).state["state"] for child in copy.spawn(count)]
    return [(s["state"], s["inc"]) for s in states]


@given(entropies, spawn_paths, st.integers(0, 3), st.integers(1, 8))
def test_child_states_are_numpys(entropy, path, already, count):
    seed = np.random.SeedSequence(entropy)
    for index in path:  # a child some levels down the tree
        seed = seed.spawn(index + 1)[index]
    seed.spawn(already)  # children already handed out are skipped, as spawn does
    assert child_states(seed, count) == numpy_states(seed, count)


@given(st.integers(0, 2**64), spawn_paths)
def test_block_generators_draw_what_default_rng_draws(entropy, path):
    seed = np.random.SeedSequence(entropy)
    for index in path:
        seed = seed.spawn(index + 1)[index]
    expected = [np.random.default_rng(child) for child in
                np.random.SeedSequence(seed.entropy, spawn_key=seed.spawn_key).spawn(5)]
    fast = block_generators(seed)
    for mine, theirs in zip(fast, expected, strict=True):
        assert mine.integers(1, 17, 3).tolist() == theirs.integers(1, 17, 3).tolist()
        assert mine.standard_normal(4).tolist() == theirs.standard_normal(4).tolist()


def test_generators_are_reused_per_thread_and_reset():
    seed = np.random.SeedSequence(5)
    first = block_generators(seed)
    first[0].integers(1, 17)  # leaves half a 64-bit draw buffered
    again = block_generators(seed)
    assert again[0] is first[0]
    assert again[0].integers(1, 17, 5).tolist() == \
        np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]).integers(1, 17, 5).tolist()
    other = []
    thread = threading.Thread(target=lambda: other.extend(block_generators(seed)))
    thread.start()
    thread.join()
    assert other[0] is not first[0]


def test_only_the_default_pool_size():
    with pytest.raises(ValueError, match="pool_size"):
        child_states(np.random.SeedSequence(1, pool_size=8), 2)
