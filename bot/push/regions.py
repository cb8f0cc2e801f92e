"""The county's towns and streets (镇、乡、街道) for region-targeted pushes, and
how a resident's words or shared location map to one of them.

``known_regions`` is the one place regions are read: what ``content sync``
stored from ``regions.yaml`` (``bot.catalog.stored``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.catalog import stored

EARTH_RADIUS_KM = 6371.0


def norm_name(text: str) -> str:
    """What residents type and what the catalog says compare equal despite spaces and case."""
    return "".join(text.split()).lower()


@dataclass(frozen=True)
class Region:
    name: str
    aliases: tuple[str, ...] = ()
    center: tuple[float, float] | None = None  # (纬度, 经度)
    radius_km: float = 5.0


async def known_regions() -> tuple[Region, ...]:
    """The configured regions (empty when none are configured)."""
    return tuple(
        Region(doc.name, tuple(doc.aliases), doc.center, doc.radius_km)
        for doc in await stored.regions()
    )


def find_region(name: str, regions: tuple[Region, ...]) -> str | None:
    """The canonical region name for ``name``; free text when no list is configured."""
    wanted = norm_name(name)
    if not wanted:
        return None
    if not regions:
        return name.strip()[:64]
    for region in regions:
        if wanted in (norm_name(region.name), *(norm_name(a) for a in region.aliases)):
            return region.name
    return None


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) between two (纬度, 经度) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def region_of_place(
    label: str, point: tuple[float, float] | None, regions: tuple[Region, ...]
) -> str | None:
    """The region a shared location falls in: a full town name in WeChat's label
    (“青山县城关镇人民路1号”) first, then the nearest town whose ``center`` is within
    its ``radius_km``, then an alias in the label. None when it falls in none."""
    place = norm_name(label)
    for region in regions:
        if place and norm_name(region.name) in place:
            return region.name
    if point is not None:
        near = [
            (distance_km(point, r.center), r.name)
            for r in regions
            if r.center is not None and distance_km(point, r.center) <= r.radius_km
        ]
        if near:
            return min(near)[1]
    for region in regions:
        if place and any(norm_name(a) in place for a in region.aliases if len(norm_name(a)) >= 2):
            return region.name
    return None
