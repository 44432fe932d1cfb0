"""Badge pictures: the achievement's own PNG when it has one, else a generated badge.

The generated badge is a coloured disc with a white ring and the badge's initials, the colour
chosen from the name. Pages show it as inline SVG (with the badge's name as its accessible
title and on a ribbon); downloads get the same design as a PNG drawn here, pixel by pixel, by
a small PNG writer (zlib + struct, no imaging library), so every badge can be baked.

An achievement's image is a URL. It is fetched through the service's guarded fetcher (never
from the browser, whose content security policy allows images from this site only), kept a
few minutes per process, and used only when it is a PNG; anything else, or a failed fetch,
falls back to the generated badge.
"""

from __future__ import annotations

import hashlib
import math
import struct
import threading
import time
import unicodedata
import zlib
from collections import OrderedDict
from functools import lru_cache
from html import escape
from typing import Final

from core.baking import PNG_SIGNATURE, bake_png
from core.errors import BadgeBridgeError, InvalidInput
from core.limits import MAX_FETCH_BYTES
from core.service import BadgeService

#: Colours for the disc; white text on each has a contrast ratio of at least 7:1.
PALETTE: Final = ("#0a4f9e", "#1d5e32", "#8a2c0d", "#5b2a86", "#7a1f3d", "#00565f", "#5c4300")
PNG_SIZE: Final = 240
#: How long a fetched achievement image (or a failure to fetch it) is reused.
IMAGE_CACHE_SECONDS: Final = 600
IMAGE_CACHE_ENTRIES: Final = 128
RIBBON_MAX_CHARS: Final = 32

# A 5x7 bitmap font for the initials on PNG badges ("#" is ink).
_GLYPHS: Final = {
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
}


# -- the generated design ----------------------------------------------------------------------


def badge_colour(name: str) -> str:
    """The disc colour for a badge name (stable: the same name always gets the same colour)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def badge_initials(name: str) -> str:
    """Up to two initials of the name's first words, accents removed ("Écoute active" → "EA");
    only letters and digits the PNG font can draw."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    initials = ""
    for word in folded.split():
        first = next((c for c in word.upper() if c in _GLYPHS), None)
        if first is not None:
            initials += first
        if len(initials) == 2:
            break
    return initials


def _ribbon_text(name: str) -> str:
    name = " ".join(name.split())
    if len(name) <= RIBBON_MAX_CHARS:
        return name
    return name[: RIBBON_MAX_CHARS - 1].rstrip() + "…"


def badge_svg(name: str, *, element_id: str = "badge", size: int = 160) -> str:
    """The generated badge as inline SVG markup: ``role="img"`` with the badge name as its
    title, the name also on the ribbon. Presentation attributes only (the site's content
    security policy allows no inline styles)."""
    label = escape(name, quote=True)
    ribbon = escape(_ribbon_text(name), quote=True)
    initials = escape(badge_initials(name), quote=True)
    colour = badge_colour(name)
    squeeze = ' textLength="176" lengthAdjust="spacingAndGlyphs"' if len(ribbon) > 22 else ""
    title_id = f"{element_id}-title"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="badge-art" viewBox="0 0 200 200" '
        f'width="{size}" height="{size}" role="img" aria-labelledby="{title_id}">'
        f'<title id="{title_id}">{label}</title>'
        f'<circle cx="100" cy="100" r="96" fill="{colour}"/>'
        '<circle cx="100" cy="100" r="84" fill="none" stroke="#ffffff" stroke-width="4"/>'
        f'<text x="100" y="92" text-anchor="middle" dominant-baseline="middle" '
        f'font-family="system-ui, sans-serif" font-size="64" font-weight="700" '
        f'fill="#ffffff">{initials}</text>'
        '<rect x="6" y="132" width="188" height="30" rx="4" fill="#1b1f24"/>'
        f'<text x="100" y="148" text-anchor="middle" dominant-baseline="middle" '
        f'font-family="system-ui, sans-serif" font-size="15" fill="#ffffff"{squeeze}>'
        f"{ribbon}</text>"
        "</svg>"
    )


# -- the PNG writer ------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(width: int, height: int, rgba: bytes) -> bytes:
    """A PNG file of ``width`` x ``height`` RGBA pixels (8 bits per channel, row by row)."""
    stride = width * 4
    if len(rgba) != stride * height:
        raise InvalidInput("The pixel data does not match the image size.")
    raw = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _blend(
    under: tuple[int, int, int], over: tuple[int, int, int], amount: float
) -> tuple[int, int, int]:
    return (
        round(under[0] + (over[0] - under[0]) * amount),
        round(under[1] + (over[1] - under[1]) * amount),
        round(under[2] + (over[2] - under[2]) * amount),
    )


def _ink_rows(initials: str, size: int) -> dict[int, list[tuple[int, int]]]:
    """The spans ``[x0, x1)`` the initials cover on each row, centred a little above the
    middle."""
    rows: dict[int, list[tuple[int, int]]] = {}
    if not initials:
        return rows
    scale = size // 17
    width = (len(initials) * 6 - 1) * scale
    left = (size - width) // 2
    top = (size - 7 * scale) // 2 - scale
    for index, character in enumerate(initials):
        for row, line in enumerate(_GLYPHS[character]):
            for column, mark in enumerate(line):
                if mark != "#":
                    continue
                x0 = left + (index * 6 + column) * scale
                for y in range(top + row * scale, top + (row + 1) * scale):
                    rows.setdefault(y, []).append((x0, x0 + scale))
    return rows


def _annulus_columns(centre: float, dy: float, inner: float, outer: float, size: int) -> set[int]:
    """The columns of one row whose pixel centres lie between radii ``inner`` and ``outer``."""
    if outer <= abs(dy):
        return set()
    far = math.sqrt(outer * outer - dy * dy)
    near = math.sqrt(max(0.0, inner * inner - dy * dy))
    columns: set[int] = set()
    for low, high in ((centre - far, centre - near), (centre + near, centre + far)):
        columns.update(range(max(0, math.floor(low)), min(size, math.ceil(high) + 1)))
    return columns


@lru_cache(maxsize=64)
def _generated_png(initials: str, colour: str, size: int) -> bytes:
    disc = _rgb(colour)
    white = (255, 255, 255)
    centre = (size - 1) / 2
    radius = size * 0.48
    ring_radius, ring_half_width = size * 0.42, size * 0.012
    solid = bytes((*disc, 255))
    ink = _ink_rows(initials, size)
    pixels = bytearray(size * size * 4)
    for y in range(size):
        dy = y - centre
        row = y * size * 4
        if abs(dy) < radius - 0.5:
            # The fully covered span: one slice, then only the edges and the ring pixel by pixel.
            half = math.sqrt((radius - 0.5) ** 2 - dy * dy)
            x0, x1 = math.ceil(centre - half), math.floor(centre + half) + 1
            pixels[row + x0 * 4 : row + x1 * 4] = solid * (x1 - x0)
        special = _annulus_columns(centre, dy, radius - 0.5, radius + 0.5, size)
        special |= _annulus_columns(
            centre,
            dy,
            ring_radius - ring_half_width - 0.5,
            ring_radius + ring_half_width + 0.5,
            size,
        )
        for x in special:
            distance = math.hypot(x - centre, dy)
            coverage = min(1.0, max(0.0, radius - distance + 0.5))
            ring = min(1.0, max(0.0, ring_half_width - abs(distance - ring_radius) + 0.5))
            offset = row + x * 4
            pixels[offset : offset + 4] = bytes((*_blend(disc, white, ring), round(coverage * 255)))
        for x0, x1 in ink.get(y, ()):
            pixels[row + x0 * 4 : row + x1 * 4] = b"\xff\xff\xff\xff" * (x1 - x0)
    return encode_png(size, size, bytes(pixels))


def generated_badge_png(name: str, size: int = PNG_SIZE) -> bytes:
    """The generated badge for ``name`` as a PNG (cached per process)."""
    return _generated_png(badge_initials(name), badge_colour(name), size)


# -- achievement images ------------------------------------------------------------------------


class _FetchedImages:
    """Achievement PNGs by URL (None: not usable), kept for :data:`IMAGE_CACHE_SECONDS`."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> tuple[bool, bytes | None]:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None or entry[0] < time.monotonic():
                return False, None
            self._entries.move_to_end(url)
            return True, entry[1]

    def put(self, url: str, image: bytes | None) -> None:
        with self._lock:
            self._entries[url] = (time.monotonic() + IMAGE_CACHE_SECONDS, image)
            self._entries.move_to_end(url)
            while len(self._entries) > IMAGE_CACHE_ENTRIES:
                self._entries.popitem(last=False)


_fetched = _FetchedImages()


def achievement_png(service: BadgeService, image_url: str | None) -> bytes | None:
    """The achievement's own image when it is a PNG reachable through the guarded fetcher;
    None otherwise (no image, no network access, not a PNG, too large, fetch refused)."""
    if not image_url or not image_url.startswith(("https://", "http://")):
        return None
    if service.fetcher is None:
        return None
    known, image = _fetched.get(image_url)
    if known:
        return image
    try:
        fetched = service.fetcher.fetch(image_url, accept="image/png")
        body = fetched.body
        image = body if body.startswith(PNG_SIGNATURE) and len(body) <= MAX_FETCH_BYTES else None
    except (BadgeBridgeError, OSError):
        image = None
    _fetched.put(image_url, image)
    return image


def badge_png(service: BadgeService, name: str, image_url: str | None) -> bytes:
    """The badge picture as a PNG: the achievement's own PNG, else the generated badge."""
    return achievement_png(service, image_url) or generated_badge_png(name)


def baked_badge_png(service: BadgeService, name: str, image_url: str | None, payload: str) -> bytes:
    """The badge picture with the credential (JSON text or a JWT) baked in. An achievement
    image that cannot be baked (a damaged PNG) gives way to the generated badge."""
    own = achievement_png(service, image_url)
    if own is not None:
        try:
            return bake_png(own, payload)
        except BadgeBridgeError:
            pass
    return bake_png(generated_badge_png(name), payload)


__all__ = [
    "PALETTE",
    "achievement_png",
    "badge_colour",
    "badge_initials",
    "badge_png",
    "badge_svg",
    "baked_badge_png",
    "encode_png",
    "generated_badge_png",
]
