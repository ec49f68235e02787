"""Sampling the draws: every uncertain parameter and monthly event of a range of draws."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from reachplan.model.simulation.assumptions import SimulationAssumptions
from reachplan.model.simulation.distributions import Distribution
from reachplan.model.simulation.streams import (
    DRAW_BLOCK,
    Seed,
    Stream,
    block_sequence,
    blocks_covering,
    seed_sequence,
)

__all__ = ["sample_draws"]

FloatArray: TypeAlias = np.ndarray


@dataclass
class _DrawInputs:
    """Per-draw parameters ``(n,)`` and per-month events ``(n, months)``."""

    internal: FloatArray
    cross_border: FloatArray
    idp_return: FloatArray
    refugee_return: FloatArray
    lapse: FloatArray
    onward_xeu: FloatArray
    beyond: FloatArray
    volatility: FloatArray
    surge_probability: FloatArray
    surge_internal_share: FloatArray
    non_returnable: FloatArray
    baltic_probability: FloatArray
    redisplacement: FloatArray
    redeparture: FloatArray
    tp_return_multiplier: FloatArray
    tp_onward_multiplier: FloatArray
    tp_uniform: FloatArray
    elasticity: FloatArray
    facilitated_idp: FloatArray
    facilitated_refugee: FloatArray
    surge_uniform: FloatArray
    surge_size: FloatArray
    baltic_uniform: FloatArray
    baltic_size: FloatArray
    noise_displacement: FloatArray
    noise_return: FloatArray

    @classmethod
    def concatenate(cls, parts: list[_DrawInputs]) -> _DrawInputs:
        names = cls.__dataclass_fields__
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def rows(self, begin: int, end: int) -> _DrawInputs:
        """Draws ``begin:end`` of these inputs."""
        names = type(self).__dataclass_fields__
        return type(self)(**{k: getattr(self, k)[begin:end] for k in names})


def _sample_block(
    a: SimulationAssumptions, sequence: np.random.SeedSequence, n: int, months: int
) -> _DrawInputs:
    """Sample one block of draws. Every lever is sampled, switched on or not.

    Sampling whether or not a lever is enabled, each quantity from its own
    child stream, keeps common random numbers: the same seed gives the same
    parameters and events for every other lever, so switching or changing one
    lever changes only what that lever does.
    """
    r, s, o, p = a.rates, a.surges, a.occupied_areas, a.pendular
    t, c, f = a.temporary_protection, a.coupling, a.facilitated_returns
    per_draw = (n,)
    per_month = (n, months)
    def dist(d: Distribution, size: tuple[int, ...]) -> Callable[[np.random.Generator], FloatArray]:
        return lambda g: d.sample(g, size)

    def uniform(size: tuple[int, ...]) -> Callable[[np.random.Generator], FloatArray]:
        return lambda g: g.uniform(0.0, 1.0, size)

    def normal(size: tuple[int, ...]) -> Callable[[np.random.Generator], FloatArray]:
        return lambda g: g.standard_normal(size)

    plan: dict[str, Callable[[np.random.Generator], FloatArray]] = {
        "internal": dist(r.internal_displacement, per_draw),
        "cross_border": dist(r.cross_border_displacement, per_draw),
        "idp_return": dist(r.idp_return, per_draw),
        "refugee_return": dist(r.refugee_return, per_draw),
        "lapse": dist(r.returnee_lapse, per_draw),
        "onward_xeu": dist(r.onward_to_rest_of_europe, per_draw),
        "beyond": dist(r.onward_beyond_europe, per_draw),
        "volatility": dist(r.volatility, per_draw),
        "surge_probability": dist(s.monthly_probability, per_draw),
        "surge_internal_share": dist(s.internal_share, per_draw),
        "non_returnable": dist(o.non_returnable_idp_share, per_draw),
        "baltic_probability": dist(o.baltic_push_probability, per_draw),
        "redisplacement": dist(p.redisplacement, per_draw),
        "redeparture": dist(p.redeparture, per_draw),
        "tp_return_multiplier": dist(t.return_multiplier, per_draw),
        "tp_onward_multiplier": dist(t.onward_multiplier, per_draw),
        "tp_uniform": uniform(per_draw),
        "elasticity": dist(c.elasticity, per_draw),
        "facilitated_idp": dist(f.idp_return_multiplier, per_draw),
        "facilitated_refugee": dist(f.refugee_return_multiplier, per_draw),
        "surge_uniform": uniform(per_month),
        "surge_size": dist(s.size, per_month),
        "baltic_uniform": uniform(per_month),
        "baltic_size": dist(o.baltic_push_size, per_month),
        "noise_displacement": normal(per_month),
        "noise_return": normal(per_month),
    }
    # One child stream per quantity: replacing one distribution (say by a fixed
    # value, which draws nothing) leaves every other quantity's numbers unchanged.
    streams = [np.random.default_rng(child) for child in sequence.spawn(len(plan))]
    values = {
        name: draw(stream) for (name, draw), stream in zip(plan.items(), streams, strict=True)
    }
    return _DrawInputs(**values)


def sample_draws(
    a: SimulationAssumptions,
    seed: Seed | np.random.SeedSequence,
    *,
    first: int,
    count: int,
    months: int,
    stream: int = Stream.RUN,
) -> _DrawInputs:
    """Sample draws ``[first, first + count)`` of ``stream``: the one way draws are made.

    Draw ``d`` comes from block ``d // DRAW_BLOCK``, sampled whole from
    :func:`model.simulation.streams.block_sequence`, so a draw's numbers depend
    only on the seed, the stream, ``months`` and ``d``: a run with more draws
    extends a run with fewer, and chunking never changes a draw.

    Parameters
    ----------
    a : SimulationAssumptions
        What to sample.
    seed : int, numpy.random.Generator, numpy.random.SeedSequence or None
        The run's seed (see :func:`model.simulation.streams.seed_sequence`).
    first, count : int
        The range of draws.
    months : int
        Months simulated (events are sampled per month).
    stream : int
        A :class:`model.simulation.streams.Stream`.

    """
    root = seed if isinstance(seed, np.random.SeedSequence) else seed_sequence(seed)
    blocks = blocks_covering(first, count)
    parts = [
        _sample_block(a, block_sequence(root, b, stream), DRAW_BLOCK, months) for b in blocks
    ]
    offset = first - blocks.start * DRAW_BLOCK
    inputs = _DrawInputs.concatenate(parts)
    return inputs.rows(offset, offset + count)
