"""Distributions of uncertain assumptions: each samples, gives its median and its support."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np

from reachplan.model.simulation.errors import AssumptionError

__all__ = [
    "Beta",
    "Distribution",
    "Fixed",
    "LogNormal",
    "Pareto",
    "Triangular",
    "Uniform",
]

FloatArray: TypeAlias = np.ndarray


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise AssumptionError(message)


@dataclass(frozen=True)
class Fixed:
    """A value without uncertainty."""

    value: float

    def __post_init__(self) -> None:
        _check(math.isfinite(self.value), "value must be finite")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Return ``value`` repeated to ``size``."""
        return np.full(size, float(self.value))

    def median(self) -> float:
        """Return the median."""
        return float(self.value)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.value), float(self.value)


@dataclass(frozen=True)
class Uniform:
    """Uniform on ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        _check(math.isfinite(self.low) and math.isfinite(self.high), "bounds must be finite")
        _check(self.low <= self.high, f"low ({self.low}) exceeds high ({self.high})")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return rng.uniform(self.low, self.high, size)

    def median(self) -> float:
        """Return the median."""
        return 0.5 * (self.low + self.high)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class Triangular:
    """Triangular on ``[low, high]`` with its peak at ``mode``."""

    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        _check(
            self.low <= self.mode <= self.high and self.low < self.high,
            f"need low <= mode <= high and low < high, got {self.low}, {self.mode}, {self.high}",
        )

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return rng.triangular(self.low, self.mode, self.high, size)

    def median(self) -> float:
        """Return the median."""
        a, c, b = self.low, self.mode, self.high
        if c >= (a + b) / 2:
            return a + math.sqrt((b - a) * (c - a) / 2)
        return b - math.sqrt((b - a) * (b - c) / 2)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class LogNormal:
    """Log-normal with the given ``median`` and log-scale standard deviation ``sigma``."""

    median_value: float
    sigma: float

    def __post_init__(self) -> None:
        _check(self.median_value > 0, f"median must be positive, got {self.median_value}")
        _check(self.sigma >= 0, f"sigma must be non-negative, got {self.sigma}")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return self.median_value * np.exp(self.sigma * rng.standard_normal(size))

    def median(self) -> float:
        """Return the median."""
        return float(self.median_value)

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return 0.0, math.inf


@dataclass(frozen=True)
class Beta:
    """Beta(``alpha``, ``beta``) on ``[0, 1]``, for probabilities and shares."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        _check(self.alpha > 0 and self.beta > 0, "alpha and beta must be positive")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return rng.beta(self.alpha, self.beta, size)

    def median(self) -> float:
        """Return the median."""
        from scipy import special  # local import: scipy costs ~0.5 s at start-up

        return float(special.betaincinv(self.alpha, self.beta, 0.5))

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return 0.0, 1.0


@dataclass(frozen=True)
class Pareto:
    """Pareto type I with minimum ``scale`` and tail index ``shape``, capped at ``cap``.

    A heavy tail: ``P(X > x) = (scale / x) ** shape`` for ``x >= scale``.
    """

    scale: float
    shape: float
    cap: float = math.inf

    def __post_init__(self) -> None:
        _check(self.scale > 0, f"scale must be positive, got {self.scale}")
        _check(self.shape > 0, f"shape must be positive, got {self.shape}")
        _check(self.cap >= self.scale, f"cap ({self.cap}) is below scale ({self.scale})")

    def sample(self, rng: np.random.Generator, size: tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        return np.minimum(self.scale * (1.0 + rng.pareto(self.shape, size)), self.cap)

    def median(self) -> float:
        """Return the median."""
        return float(min(self.scale * 2.0 ** (1.0 / self.shape), self.cap))

    def support(self) -> tuple[float, float]:
        """Return the smallest and largest possible value."""
        return float(self.scale), float(self.cap)


Distribution: TypeAlias = Fixed | Uniform | Triangular | LogNormal | Beta | Pareto


def _nonnegative(dist: Distribution, key: str) -> None:
    low, _ = dist.support()
    if low < 0:
        raise AssumptionError(f"must not be negative (smallest possible value {low})", key=key)


def _unit_interval(dist: Distribution, key: str) -> None:
    low, high = dist.support()
    if low < 0 or high > 1:
        raise AssumptionError(f"must lie within [0, 1] (support {low}..{high})", key=key)
