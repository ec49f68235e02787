"""Random streams: where every random number of a run comes from.

One scheme for every caller (``simulate``, the scenario engine, the robust plans
and the reports), so that a draw's numbers depend only on the seed, the stream
and the draw's index, never on chunking, worker count, or resuming:

- draws are grouped in blocks of ``DRAW_BLOCK`` consecutive draws; block ``b``
  of stream ``k`` for seed ``s`` is sampled from
  ``SeedSequence(s, spawn_key=(k, b))`` (:func:`block_sequence`);
- inside a block every sampled quantity has its own child of that sequence
  (common random numbers across levers, see
  :func:`model.simulation.sampling.sample_draws`);
- any range ``[first, first + n)`` of draws is sampled by
  :func:`model.simulation.sampling.sample_draws` (and simulated by
  :func:`model.simulation.simulate` with ``first_draw``), whoever asks for it.

Streams (:class:`Stream`) separate the purposes a seed serves: ``RUN`` gives
the draws of ``simulate`` and of every scenario run (draw ``d`` of
``reachplan run`` is draw ``d`` of ``reachplan simulate`` with the same seed and
assumptions); ``PLANNING`` and ``EVALUATION`` give the robust plans' planning
and evaluation draws, independent of each other and of the run's draws.
"""

from __future__ import annotations

import enum
from typing import TypeAlias

import numpy as np

__all__ = [
    "DRAW_BLOCK",
    "STREAMS_VERSION",
    "Seed",
    "Stream",
    "as_generator",
    "block_sequence",
    "blocks_covering",
    "seed_sequence",
]

Seed: TypeAlias = int | np.random.Generator | None

#: Draws are sampled in blocks of this size, block ``b`` from its own stream
#: (:func:`block_sequence`), so a draw's numbers do not depend on chunking.
DRAW_BLOCK: int = 256

#: Version of this scheme. Part of a stored run's identity, so chunks stored
#: under an earlier scheme (per-chunk streams, before version 2) are never
#: mixed with new ones on resume.
STREAMS_VERSION: int = 2


class Stream(enum.IntEnum):
    """What a seed's draws are for (the first element of every block's spawn key)."""

    RUN = 0
    """The draws of ``simulate`` and of scenario runs (engine, reports)."""
    PLANNING = 1
    """The futures robust plans are planned over (``solver.robust.compare_plans``)."""
    EVALUATION = 2
    """Fresh futures robust plans are evaluated on (``solver.robust.compare_plans``)."""


def as_generator(seed: Seed) -> np.random.Generator:
    """Normalise a seed into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    seed : int, numpy.random.Generator or None
        ``None`` draws fresh entropy from the operating system; an int
        (including 0) seeds a new PCG64 generator; a Generator is used as is.

    Returns
    -------
    numpy.random.Generator

    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    _check_int(seed)
    return np.random.default_rng(int(seed))


def _check_int(seed: object) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be an int, a numpy Generator or None, not {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")


def seed_sequence(seed: Seed) -> np.random.SeedSequence:
    """The root :class:`numpy.random.SeedSequence` of a seed.

    An int ``s`` gives ``SeedSequence(s)``; ``None`` fresh entropy; a Generator
    a new child of its own seed sequence (so the same freshly seeded Generator
    gives the same draws, and a Generator used twice gives new draws).
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.Generator):
        parent = seed.bit_generator.seed_seq
        if not isinstance(parent, np.random.SeedSequence):
            raise TypeError("the Generator's bit generator has no SeedSequence to spawn from")
        return parent.spawn(1)[0]
    _check_int(seed)
    return np.random.SeedSequence(int(seed))


def block_sequence(
    root: Seed | np.random.SeedSequence, block: int, stream: int = Stream.RUN
) -> np.random.SeedSequence:
    """The seed sequence of block ``block`` of ``stream``: draws ``[block * DRAW_BLOCK, ...)``.

    For an int seed ``s`` this is ``SeedSequence(s, spawn_key=(stream, block))``.
    Built directly, so no list of every block's sequence is ever made.
    """
    if not isinstance(root, np.random.SeedSequence):
        root = seed_sequence(root)
    if block < 0:
        raise ValueError(f"block must be non-negative, got {block}")
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, int(stream), int(block))
    )


def blocks_covering(first: int, count: int) -> range:
    """Indices of the blocks that hold draws ``[first, first + count)``."""
    if first < 0 or count < 0:
        raise ValueError(f"first draw {first} and count {count} must be non-negative")
    if count == 0:
        return range(0)
    return range(first // DRAW_BLOCK, (first + count - 1) // DRAW_BLOCK + 1)
