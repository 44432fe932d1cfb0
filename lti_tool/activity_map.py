"""A map of activities without map tiles: per city, the activities' coordinates plotted on a
plain inline SVG (no external tiles, scripts or fonts, so it works offline and under the
site's content security policy).

Markers carry numbers that match the list beside the map, so the map adds a picture of where
things are but no information the list lacks; each marker is also a link with an accessible
name. Activities at the same place are spread around it so every marker stays visible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from core.catalogue import ActivityView

MAP_WIDTH: Final = 640
MAP_HEIGHT: Final = 400
#: Room around the outermost markers (wider sideways, for the place names beside them).
MAP_PADDING_X: Final = 110
MAP_PADDING_Y: Final = 48
#: Smallest area shown (degrees of latitude), so one activity is not drawn at infinite zoom.
MIN_SPAN_DEGREES: Final = 0.02
#: Markers closer than this (pixels) are spread around their common centre.
OVERLAP_PIXELS: Final = 14
SPREAD_RADIUS: Final = 16


@dataclass(frozen=True)
class MapMarker:
    """One activity on a city map."""

    number: int
    x: float
    y: float
    public_id: str
    title: str
    place: str | None
    #: whether this marker carries the place's name on the map (once per place)
    label_place: bool
    #: the name goes left of markers in the map's right part, so it stays inside the map
    label_left: bool


@dataclass(frozen=True)
class CityMap:
    """The activities of one city that have coordinates, projected onto the map's pixels."""

    city: str
    width: int
    height: int
    markers: tuple[MapMarker, ...]


def _project(
    points: Sequence[tuple[float, float]], width: int, height: int
) -> list[tuple[float, float]]:
    """Latitude/longitude to pixels: equirectangular, corrected for the latitude (a city is
    small enough for this to look right), fitted into the map with the same scale both ways."""
    latitudes = [lat for lat, _ in points]
    longitudes = [lon for _, lon in points]
    mid_lat = (max(latitudes) + min(latitudes)) / 2
    stretch = math.cos(math.radians(mid_lat)) or 1e-6
    xs = [lon * stretch for lon in longitudes]
    ys = [-lat for lat in latitudes]
    span_x = max(max(xs) - min(xs), MIN_SPAN_DEGREES)
    span_y = max(max(ys) - min(ys), MIN_SPAN_DEGREES)
    scale = min((width - 2 * MAP_PADDING_X) / span_x, (height - 2 * MAP_PADDING_Y) / span_y)
    centre_x = (max(xs) + min(xs)) / 2
    centre_y = (max(ys) + min(ys)) / 2
    return [
        (width / 2 + (x - centre_x) * scale, height / 2 + (y - centre_y) * scale)
        for x, y in zip(xs, ys, strict=True)
    ]


def _spread(positions: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Markers on (nearly) the same spot placed around it, in a ring."""
    groups: list[list[int]] = []
    for index, (x, y) in enumerate(positions):
        for group in groups:
            gx, gy = positions[group[0]]
            if math.hypot(x - gx, y - gy) < OVERLAP_PIXELS:
                group.append(index)
                break
        else:
            groups.append([index])
    spread = list(positions)
    for group in groups:
        if len(group) < 2:
            continue
        cx, cy = positions[group[0]]
        for slot, index in enumerate(group):
            angle = 2 * math.pi * slot / len(group) - math.pi / 2
            spread[index] = (
                cx + SPREAD_RADIUS * math.cos(angle),
                cy + SPREAD_RADIUS * math.sin(angle),
            )
    return spread


def city_maps(
    activities: Sequence[ActivityView],
    numbers: dict[str, int] | None = None,
    *,
    width: int = MAP_WIDTH,
    height: int = MAP_HEIGHT,
) -> list[CityMap]:
    """One map per city (by name) for the activities that have coordinates; online-only
    activities and those without a place are left out. ``numbers`` gives each activity's
    number in the list shown with the map (default: its position in ``activities``, from 1)."""
    if numbers is None:
        numbers = {a.public_id: index for index, a in enumerate(activities, start=1)}
    by_city: dict[str, list[ActivityView]] = {}
    for activity in activities:
        if activity.latitude is None or activity.longitude is None:
            continue
        by_city.setdefault(activity.city or "", []).append(activity)
    maps = []
    for city in sorted(by_city, key=str.casefold):
        placed = by_city[city]
        coordinates = [(a.latitude or 0.0, a.longitude or 0.0) for a in placed]
        positions = _spread(_project(coordinates, width, height))
        labelled: set[str] = set()
        markers = []
        for activity, (x, y) in zip(placed, positions, strict=True):
            place = activity.location_name
            markers.append(
                MapMarker(
                    number=numbers.get(activity.public_id, 0),
                    x=round(x, 1),
                    y=round(y, 1),
                    public_id=activity.public_id,
                    title=activity.title,
                    place=place,
                    label_place=bool(place) and place not in labelled,
                    label_left=x > width * 0.6,
                )
            )
            if place:
                labelled.add(place)
        maps.append(CityMap(city=city, width=width, height=height, markers=tuple(markers)))
    return maps


__all__ = ["CityMap", "MapMarker", "city_maps"]
