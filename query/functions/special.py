"""Special functions over numpy arrays: the regularized incomplete beta function and its inverse.

Polars has no incomplete beta function, so beta_cdf and inverse_beta_cdf evaluate these on the
numpy arrays of a batch: a continued fraction (modified Lentz) for I_x(a, b), iterated on the
whole array until every element has converged, and a safeguarded Newton search for its inverse.
NaN marks inputs outside the domain (the translators report those as errors first).
"""

from __future__ import annotations

import numpy as np

_LANCZOS = (
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
)


def log_gamma(x: np.ndarray) -> np.ndarray:
    """ln Γ(x) for x > 0 (Lanczos approximation, g = 7)."""
    x = np.asarray(x, dtype=float)
    small = x < 0.5
    z = np.where(small, 1.0 - x, x) - 1.0
    series = np.full_like(z, _LANCZOS[0])
    for i, coefficient in enumerate(_LANCZOS[1:], start=1):
        series = series + coefficient / (z + i)
    t = z + 7.5
    value = 0.5 * np.log(2 * np.pi) + (z + 0.5) * np.log(t) - t + np.log(series)
    with np.errstate(divide="ignore", invalid="ignore"):
        reflected = np.log(np.pi / np.abs(np.sin(np.pi * x))) - value
    return np.where(small, reflected, value)


def _continued_fraction(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    tiny, epsilon = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < tiny, tiny, d)
    d = 1.0 / d
    h = d.copy()
    active = np.ones_like(x, dtype=bool)
    for m in range(1, 10_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = np.where(np.abs(d) < tiny, tiny, d)
            c = 1.0 + numerator / c
            c = np.where(np.abs(c) < tiny, tiny, c)
            d = 1.0 / d
            step = d * c
            h = np.where(active, h * step, h)
        active &= np.abs(step - 1.0) > epsilon
        if not active.any():
            break
    return h


def beta_cdf(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """I_x(a, b), the regularized incomplete beta function."""
    a, b, x = (np.asarray(v, dtype=float) for v in (a, b, x))
    valid = (a > 0) & (b > 0) & (x >= 0) & (x <= 1)
    a, b = np.where(valid, a, 1.0), np.where(valid, b, 1.0)
    inner = np.clip(np.where(valid, x, 0.5), 1e-300, 1 - 1e-16)
    log_front = (
        log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * np.log(inner) + b * np.log1p(-inner)
    )
    front = np.exp(log_front)
    direct = inner < (a + 1.0) / (a + b + 2.0)
    forward = front * _continued_fraction(a, b, inner) / a
    mirrored = 1.0 - front * _continued_fraction(b, a, 1.0 - inner) / b
    value = np.where(direct, forward, mirrored)
    value = np.where(x <= 0, 0.0, np.where(x >= 1, 1.0, value))
    return np.where(valid, np.clip(value, 0.0, 1.0), np.nan)


def inverse_beta_cdf(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The x with I_x(a, b) = p: bisection narrowed by Newton steps, to 1e-15."""
    a, b, p = (np.asarray(v, dtype=float) for v in (a, b, p))
    valid = (a > 0) & (b > 0) & (p >= 0) & (p <= 1)
    a, b = np.where(valid, a, 1.0), np.where(valid, b, 1.0)
    target = np.where(valid, p, 0.5)
    low, high = np.zeros_like(target), np.ones_like(target)
    x = np.full_like(target, 0.5)
    log_norm = log_gamma(a + b) - log_gamma(a) - log_gamma(b)
    for _ in range(200):
        value = beta_cdf(a, b, x)
        below = value < target
        low = np.where(below, x, low)
        high = np.where(below, high, x)
        inner = np.clip(x, 1e-300, 1 - 1e-16)
        density = np.exp(log_norm + (a - 1) * np.log(inner) + (b - 1) * np.log1p(-inner))
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = x - (value - target) / density
        bisect = (low + high) / 2
        usable = np.isfinite(newton) & (newton > low) & (newton < high)
        x = np.where(usable, newton, bisect)
        if np.all(high - low < 1e-15) or np.all(np.abs(value - target) < 1e-15):
            break
    x = np.where(target <= 0, 0.0, np.where(target >= 1, 1.0, x))
    return np.where(valid, x, np.nan)


def merge_histogram(points: list[dict], buckets: int) -> list[dict]:
    """Ben-Haim and Tom-Tov's histogram: start from each distinct value with its total weight,
    then repeatedly merge the two closest neighbouring centroids into their weighted mean."""
    totals: dict[float, float] = {}
    for point in points:
        totals[point["v"]] = totals.get(point["v"], 0.0) + point["w"]
    keys = np.array(sorted(totals), dtype=float)
    weights = np.array([totals[k] for k in keys], dtype=float)
    while len(keys) > buckets:
        i = int(np.argmin(np.diff(keys)))
        merged = weights[i] + weights[i + 1]
        centre = (keys[i] * weights[i] + keys[i + 1] * weights[i + 1]) / merged
        keys = np.concatenate([keys[:i], [centre], keys[i + 2 :]])
        weights = np.concatenate([weights[:i], [merged], weights[i + 2 :]])
    return [{"key": float(k), "value": float(w)} for k, w in zip(keys, weights, strict=True)]
