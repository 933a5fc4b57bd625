"""Where every random number comes from: seeds derived with numpy's documented API.

A simulation is a tree of :class:`numpy.random.SeedSequence` children: a sweep
level, a replicate, a trial, an arm, a seed block of patients, and finally one
of three *streams* per block:

``patients``
    who the patient is: demographics, baseline volumes, scar, activation;
``measurement``
    how the echo sees them: strain amplitudes, drift and tracking noise (or the
    speckle phantom and its imaging noise);
``care``
    what is done to them: coronary veins, lead placement, outcomes.

Each stream is a ``Generator(PCG64(child))``. Separate streams keep common
random numbers where they teach something: a different frame rate changes the
measurement but not the patients, a different concordance rate changes the
leads but neither the patients nor their curves.

:func:`child` is ``seed.spawn``'s ``k``-th child built with the documented
``SeedSequence(entropy, spawn_key=..., pool_size=...)`` constructor, so it
does not advance ``seed`` and asking twice gives the same child.

Examples
--------
>>> import numpy as np
>>> from strainsim.seeding import block_streams, child
>>> seed = np.random.SeedSequence(7)
>>> child(seed, 2).spawn_key == np.random.SeedSequence(7).spawn(3)[2].spawn_key
True
>>> patients, measurement, care = block_streams(child(seed, 0))
>>> round(float(patients.random()), 6) == round(float(block_streams(child(seed, 0))[0].random()), 6)
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["STREAMS", "child", "children", "block_streams", "block_stream",
           "as_seed_sequence"]

STREAMS = ("patients", "measurement", "care")


def as_seed_sequence(seed) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence (an int, a sequence of ints, or a SeedSequence)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


def child(seed: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """The ``k``-th child of ``seed`` (what ``seed.spawn(k + 1)[k]`` gives a fresh seed),
    without advancing ``seed``."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, int(k)),
                                  pool_size=seed.pool_size)


def children(seed: np.random.SeedSequence, count: int) -> list[np.random.SeedSequence]:
    """The first ``count`` children of ``seed`` (see :func:`child`)."""
    return [child(seed, k) for k in range(count)]


def block_streams(block_seed: np.random.SeedSequence) -> tuple:
    """The ``patients``, ``measurement`` and ``care`` generators of one seed block."""
    return tuple(block_stream(block_seed, name) for name in STREAMS)


def block_stream(block_seed: np.random.SeedSequence, name: str) -> np.random.Generator:
    """One of the block's streams (:data:`STREAMS`), new: what :func:`block_streams`
    gives for it."""
    return np.random.Generator(np.random.PCG64(child(block_seed, STREAMS.index(name))))
