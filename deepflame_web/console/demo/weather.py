"""Daily weather per store: seasonal temperature by city climate, persistent anomalies, rain.

Weather is part of the context the recommender sees; cold, rainy and hot days change what
people drink, so the series must be believable per region and season.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepflame_web.console.demo.chain import Store
from deepflame_web.console.demo.period import Period

CONDITIONS: tuple[str, ...] = ("sunny", "cloudy", "rain", "storm", "snow")
RAINY_MM = 1.0
COLD_C = 8.0
HOT_C = 26.0


@dataclass(frozen=True)
class Weather:
    """Arrays indexed [store, day]: mean temperature, precipitation and a condition code."""

    temp_c: np.ndarray
    precip_mm: np.ndarray
    condition: np.ndarray


def simulate_weather(rng: np.random.Generator, stores: list[Store], period: Period) -> Weather:
    """Seasonal cycle peaking in late July, AR(1) anomalies lasting days, seasonal rain."""
    n_stores, n_days = len(stores), period.days
    mean = np.array([store.city.mean_temp_c for store in stores])[:, None]
    amplitude = np.array([store.city.temp_amplitude_c for store in stores])[:, None]
    rain_share = np.array([store.city.rain_days_share for store in stores])[:, None]
    season = np.cos(2 * np.pi * (period.day_of_year[None, :] - 200) / 365.25)
    anomaly = np.empty((n_stores, n_days))
    shocks = rng.normal(0.0, 2.2, size=(n_stores, n_days))
    anomaly[:, 0] = shocks[:, 0] * 1.6
    for day in range(1, n_days):
        anomaly[:, day] = 0.75 * anomaly[:, day - 1] + shocks[:, day]
    temp = mean + amplitude * season + anomaly
    rain_chance = np.clip(rain_share * (1.0 - 0.25 * season), 0.02, 0.8)
    rains = rng.random((n_stores, n_days)) < rain_chance
    precip = np.where(rains, rng.gamma(0.9, 6.0, size=(n_stores, n_days)) + 0.2, 0.0)
    cloudy = rng.random((n_stores, n_days)) < 0.35
    condition = np.where(cloudy, 1, 0)
    condition = np.where(precip >= RAINY_MM, 2, condition)
    condition = np.where(precip >= 15.0, 3, condition)
    condition = np.where((precip >= RAINY_MM) & (temp < 0.5), 4, condition)
    return Weather(
        temp_c=np.round(temp, 1),
        precip_mm=np.round(precip, 1),
        condition=condition.astype(np.int8),
    )
