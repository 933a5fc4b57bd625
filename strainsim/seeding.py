"""A seed block's generators, seeded exactly as numpy seeds them, for less.

Every seed block of patients draws from five generators,
``numpy.random.default_rng(child)`` for the five children of the block's
``SeedSequence``. Making them the usual way (five ``SeedSequence`` objects
hashing their entropy, five PCG64 bit generators seeded from them, and, when
numba receives them, five ctypes interfaces built) costs about 0.1 ms a block,
several percent of a concordance sweep. :func:`block_generators` returns
generators in exactly the same states: the ``SeedSequence`` hashing of the
children runs in one numba call (numpy's documented algorithm, word for word),
the PCG64 seeding in Python integers, and the states are set on five
``Generator`` objects kept per thread and reused. The tests hold every state
to numpy's.

Examples
--------
>>> import numpy as np
>>> from strainsim.seeding import block_generators
>>> seed = np.random.SeedSequence(7).spawn(3)[2]
>>> fast = [g.random() for g in block_generators(seed, 2)]
>>> slow = [np.random.default_rng(s).random() for s in seed.spawn(2)]
>>> fast == slow
True
"""

from __future__ import annotations

import threading

import numba
import numpy as np

__all__ = ["block_generators", "child_states"]

_MASK32 = 0xFFFFFFFF
_MASK128 = (1 << 128) - 1
_POOL_SIZE = 4
# numpy.random.SeedSequence's hashing constants
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_MULT_L, _MIX_MULT_R = 0xCA01F9DD, 0x4973F715
# PCG64's 128-bit LCG multiplier
_PCG_MULT = (2549297995355413924 << 64) | 4865540595714422341


def _words(value) -> list[int]:
    """numpy's coercion of an int (or a sequence of ints) to 32-bit words, low first."""
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if value < 0:
            raise ValueError("SeedSequence entropy must be non-negative")
        words = [value & _MASK32]
        value >>= 32
        while value:
            words.append(value & _MASK32)
            value >>= 32
        return words
    return [w for item in value for w in _words(item)]


@numba.njit(cache=True, inline="always")
def _hashmix(value, hash_const):
    value = (value ^ hash_const) & np.uint64(_MASK32)
    hash_const = (hash_const * np.uint64(_MULT_A)) & np.uint64(_MASK32)
    value = (value * hash_const) & np.uint64(_MASK32)
    return value ^ (value >> np.uint64(16)), hash_const


@numba.njit(cache=True, inline="always")
def _mix(x, y):
    result = (np.uint64(_MIX_MULT_L) * x - np.uint64(_MIX_MULT_R) * y) & np.uint64(_MASK32)
    return result ^ (result >> np.uint64(16))


@numba.njit(cache=True)
def _child_states_kernel(base, first_child, out):
    # out[c] = the 4 uint64 words child (first_child + c) of a SeedSequence gives PCG64
    # (generate_state(4, uint64)); base = the parent's assembled entropy words
    entropy = np.empty(base.shape[0] + 1, np.uint64)
    entropy[:base.shape[0]] = base
    pool = np.empty(_POOL_SIZE, np.uint64)
    words = np.empty(2 * out.shape[1], np.uint64)
    for c in range(out.shape[0]):
        entropy[-1] = np.uint64(first_child + c)
        # mix_entropy
        hash_const = np.uint64(_INIT_A)
        for i in range(_POOL_SIZE):
            value = entropy[i] if i < entropy.shape[0] else np.uint64(0)
            pool[i], hash_const = _hashmix(value, hash_const)
        for i_src in range(_POOL_SIZE):
            for i_dst in range(_POOL_SIZE):
                if i_src != i_dst:
                    hashed, hash_const = _hashmix(pool[i_src], hash_const)
                    pool[i_dst] = _mix(pool[i_dst], hashed)
        for i_src in range(_POOL_SIZE, entropy.shape[0]):
            for i_dst in range(_POOL_SIZE):
                hashed, hash_const = _hashmix(entropy[i_src], hash_const)
                pool[i_dst] = _mix(pool[i_dst], hashed)
        # generate_state: 32-bit words from the pool, paired little-endian into uint64
        hash_const = np.uint64(_INIT_B)
        for i in range(words.shape[0]):
            value = pool[i % _POOL_SIZE] ^ hash_const
            hash_const = (hash_const * np.uint64(_MULT_B)) & np.uint64(_MASK32)
            value = (value * hash_const) & np.uint64(_MASK32)
            words[i] = value ^ (value >> np.uint64(16))
        for k in range(out.shape[1]):
            out[c, k] = words[2 * k] | (words[2 * k + 1] << np.uint64(32))


def child_states(seed: np.random.SeedSequence, count: int) -> list[tuple[int, int]]:
    """PCG64 ``(state, inc)`` of ``default_rng(child)`` for the next ``count`` children.

    The children are those ``seed.spawn(count)`` would return (it does not
    advance ``seed``'s count of spawned children).
    """
    if seed.pool_size != _POOL_SIZE:
        raise ValueError(f"only SeedSequences with pool_size {_POOL_SIZE} are supported")
    run = _words(seed.entropy)
    run += [0] * (_POOL_SIZE - len(run))  # a spawn key follows: pad to the pool size
    base = np.array(run + _words(seed.spawn_key), dtype=np.uint64)
    out = np.empty((count, 4), dtype=np.uint64)
    _child_states_kernel(base, seed.n_children_spawned, out)
    states = []
    for w0, w1, w2, w3 in out.tolist():
        # pcg64_set_seed: state 0, inc = 2 * initseq + 1, step, add initstate, step
        initstate, initseq = (w0 << 64) | w1, (w2 << 64) | w3
        inc = ((initseq << 1) | 1) & _MASK128
        state = ((inc + initstate) * _PCG_MULT + inc) & _MASK128
        states.append((state, inc))
    return states


_local = threading.local()


def block_generators(seed: np.random.SeedSequence, count: int = 5) -> list:
    """``[default_rng(s) for s in seed.spawn(count)]``, in the same states, cheaply.

    The generators are reused: each thread gets the same objects back from the
    next call, so use them before asking for the next block's.
    """
    pool = getattr(_local, "generators", None)
    if pool is None or len(pool) < count:
        pool = _local.generators = [np.random.default_rng(0) for _ in range(max(count, 5))]
    generators = pool[:count]
    for generator, (state, inc) in zip(generators, child_states(seed, count), strict=True):
        generator.bit_generator.state = {
            "bit_generator": "PCG64", "state": {"state": state, "inc": inc},
            "has_uint32": 0, "uinteger": 0}
    return generators
