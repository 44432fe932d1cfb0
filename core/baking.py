"""Baking: putting a credential into a badge image, and getting it back out (PNG and SVG).

PNG: Open Badges 3.0 puts the credential (JSON text or a compact JWT) into an uncompressed
``iTXt`` chunk with keyword ``openbadgecredential``; Open Badges 2.0 uses keyword ``openbadges``
(older images use ``tEXt``). A small chunk parser written here checks the signature, every chunk
length and CRC, and the IHDR header; pixel data is never decoded. Compressed text chunks are
inflated with a cap, so a decompression bomb is refused.

SVG: OB 3.0 uses ``<openbadges:credential>`` in namespace ``https://purl.imsglobal.org/ob/v3p0``
(JSON in CDATA, or ``verify="<JWT>"``); OB 2.0 uses ``<openbadges:assertion verify="…">`` in
namespace ``http://openbadges.org``. SVG is parsed with defusedxml: entity declarations, internal
DTD subsets and external references are refused; a DOCTYPE is only accepted when it names the
W3C SVG DTD (never fetched), as the 1EdTech samples do. Baking edits the SVG text in place, so
the rest of the file is kept byte for byte.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from core.errors import BadgeBridgeError, InvalidInput
from core.json_input import parse_json_object
from core.limits import MAX_CREDENTIAL_BYTES, MAX_IMAGE_BYTES, MAX_INFLATED_TEXT_BYTES

#: PNG text keyword for Open Badges 3.0 credentials.
KEYWORD_OB3 = "openbadgecredential"
#: PNG text keyword for Open Badges 2.0 assertions.
KEYWORD_OB2 = "openbadges"
KEYWORDS = (KEYWORD_OB3, KEYWORD_OB2)

SVG_NAMESPACE = "http://www.w3.org/2000/svg"
OB3_SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
OB2_SVG_NAMESPACE = "http://openbadges.org"

#: Deepest SVG element nesting accepted.
MAX_SVG_DEPTH = 256

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_CHUNK_LENGTH = 2**31 - 1
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_VALID_IHDR = {0: {1, 2, 4, 8, 16}, 2: {8, 16}, 3: {1, 2, 4, 8}, 4: {8, 16}, 6: {8, 16}}

Version = Literal["ob3", "ob2"]
ImageFormat = Literal["png", "svg"]


@dataclass(frozen=True)
class _Flavour:
    keyword: str
    version: Version
    namespace: str
    element: str


_FLAVOURS = {
    KEYWORD_OB3: _Flavour(KEYWORD_OB3, "ob3", OB3_SVG_NAMESPACE, "credential"),
    KEYWORD_OB2: _Flavour(KEYWORD_OB2, "ob2", OB2_SVG_NAMESPACE, "assertion"),
}


@dataclass(frozen=True)
class ExtractedBadge:
    """What was baked into an image: the keyword it was found under, the payload text exactly as
    stored (JSON text, a compact JWS/JWT, or for OB 2.0 possibly a hosted assertion URL) and the
    Open Badges version the keyword or namespace stands for."""

    keyword: str
    payload: str
    version: Version
    image_format: ImageFormat = "png"

    @property
    def is_jwt(self) -> bool:
        """True when the payload is a compact JWS (a VC-JWT, or an OB 2.0 signed assertion)."""
        return bool(_JWS_COMPACT.fullmatch(self.payload.strip()))


def _flavour(keyword: str) -> _Flavour:
    if keyword not in _FLAVOURS:
        raise InvalidInput(
            f"Unknown baking keyword {keyword!r}: use {KEYWORD_OB3!r} (Open Badges 3.0) or "
            f"{KEYWORD_OB2!r} (Open Badges 2.0)."
        )
    return _FLAVOURS[keyword]


def _check_payload(payload: str, flavour: _Flavour) -> str:
    """Refuse payloads that are not a JSON object, a compact JWS or (OB 2.0) a URL."""
    if not isinstance(payload, str):
        raise InvalidInput("The credential to bake must be text.")
    if "\x00" in payload:
        raise InvalidInput("The credential to bake contains a NUL character.")
    if len(payload.encode("utf-8")) > MAX_CREDENTIAL_BYTES:
        raise InvalidInput(f"The credential to bake is larger than {MAX_CREDENTIAL_BYTES:,} bytes.")
    text = payload.strip()
    if text.startswith("{"):
        parse_json_object(text)
        return payload
    if _JWS_COMPACT.fullmatch(text):
        return payload
    if flavour.version == "ob2" and re.fullmatch(r"https?://\S+", text):
        return payload
    allowed = "JSON object or a compact JWT" + (" or a URL" if flavour.version == "ob2" else "")
    raise InvalidInput(f"The credential to bake must be a {allowed}.")


def _check_image_size(data: bytes, what: str) -> None:
    if not isinstance(data, bytes | bytearray):
        raise InvalidInput(f"The {what} must be given as bytes.")
    if len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(
            f"The {what} is too large: {len(data):,} bytes (limit {MAX_IMAGE_BYTES:,})."
        )


# --------------------------------------------------------------------------------------- PNG


@dataclass(frozen=True)
class _Chunk:
    kind: bytes
    data: bytes
    raw: bytes  # length + type + data + CRC, exactly as in the file


def _read_chunks(png: bytes) -> list[_Chunk]:
    """Split a PNG into chunks, checking signature, lengths, CRCs, IHDR and the final IEND."""
    _check_image_size(png, "PNG image")
    png = bytes(png)
    if not png.startswith(PNG_SIGNATURE):
        raise InvalidInput("Not a PNG image (bad signature).")
    chunks: list[_Chunk] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 12 > len(png):
            raise InvalidInput("The PNG image is truncated (it ends before its IEND chunk).")
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        if length > _MAX_CHUNK_LENGTH:
            raise InvalidInput("The PNG image has a chunk with an impossible length.")
        end = pos + 12 + length
        if end > len(png):
            raise InvalidInput(
                f"The PNG image is truncated (chunk {kind!r} runs past the end of the file)."
            )
        if not all(65 <= b <= 90 or 97 <= b <= 122 for b in kind):
            raise InvalidInput("The PNG image has a chunk with an invalid type name.")
        data = png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", png[end - 4 : end])
        if zlib.crc32(kind + data) != crc:
            raise InvalidInput(
                f"The PNG image is corrupted: CRC mismatch in chunk {kind.decode('ascii')}."
            )
        if not chunks and kind != b"IHDR":
            raise InvalidInput("The PNG image does not start with an IHDR chunk.")
        if kind == b"IHDR" and chunks:
            raise InvalidInput("The PNG image has more than one IHDR chunk.")
        chunks.append(_Chunk(kind, data, png[pos:end]))
        pos = end
        if kind == b"IEND":
            # Bytes after IEND are not part of the image; they are ignored (and not copied).
            break
    _check_ihdr(chunks[0].data)
    return chunks


def _check_ihdr(data: bytes) -> None:
    if len(data) != 13:
        raise InvalidInput("The PNG image has a malformed IHDR chunk.")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", data
    )
    if not (0 < width <= _MAX_CHUNK_LENGTH and 0 < height <= _MAX_CHUNK_LENGTH):
        raise InvalidInput(f"The PNG image has impossible dimensions {width}x{height}.")
    if depth not in _VALID_IHDR.get(colour, set()):
        raise InvalidInput("The PNG image has an invalid colour type / bit depth.")
    if compression != 0 or filtering != 0 or interlace not in (0, 1):
        raise InvalidInput("The PNG image header uses unknown compression/filter/interlace.")


def _text_keyword(chunk: _Chunk) -> str | None:
    """The keyword of a tEXt/zTXt/iTXt chunk (None for other chunks)."""
    if chunk.kind not in _TEXT_CHUNKS:
        return None
    keyword, sep, _ = chunk.data.partition(b"\x00")
    if not sep or not 1 <= len(keyword) <= 79:
        raise InvalidInput(f"The PNG image has a malformed {chunk.kind.decode()} chunk.")
    return keyword.decode("latin-1")


def _inflate(data: bytes) -> bytes:
    """zlib-inflate a PNG text chunk, refusing output beyond MAX_INFLATED_TEXT_BYTES."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED_TEXT_BYTES + 1)
    except zlib.error as exc:
        raise InvalidInput(f"A compressed PNG text chunk is corrupt ({exc}).") from exc
    if len(out) > MAX_INFLATED_TEXT_BYTES or inflater.unconsumed_tail:
        raise InvalidInput(
            f"A compressed PNG text chunk expands to more than {MAX_INFLATED_TEXT_BYTES:,} "
            "bytes; refused (possible decompression bomb)."
        )
    if not inflater.eof:
        raise InvalidInput("A compressed PNG text chunk is truncated.")
    return out


def _text_value(chunk: _Chunk) -> str:
    """The text of a tEXt, zTXt or iTXt chunk (inflated with a cap when compressed)."""
    _, _, rest = chunk.data.partition(b"\x00")
    try:
        if chunk.kind == b"tEXt":
            return rest.decode("latin-1")
        if chunk.kind == b"zTXt":
            if not rest or rest[0] != 0:
                raise InvalidInput("A zTXt chunk uses an unknown compression method.")
            return _inflate(rest[1:]).decode("latin-1")
        if len(rest) < 2:
            raise InvalidInput("The PNG image has a malformed iTXt chunk.")
        flag, method, rest = rest[0], rest[1], rest[2:]
        _language, sep1, rest = rest.partition(b"\x00")
        _translated, sep2, text = rest.partition(b"\x00")
        if not (sep1 and sep2) or flag not in (0, 1):
            raise InvalidInput("The PNG image has a malformed iTXt chunk.")
        if flag == 1:
            if method != 0:
                raise InvalidInput("An iTXt chunk uses an unknown compression method.")
            text = _inflate(text)
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput("A PNG text chunk is not valid UTF-8 text.") from exc


def _itxt_chunk(keyword: str, text: str) -> bytes:
    data = keyword.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
    return (
        struct.pack(">I", len(data))
        + b"iTXt"
        + data
        + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    )


def bake_png(png: bytes, payload: str, keyword: str = KEYWORD_OB3) -> bytes:
    """Return a copy of ``png`` with ``payload`` in an uncompressed iTXt chunk right after IHDR.

    Any existing text chunk with the same keyword is removed first. ``keyword`` is
    ``openbadgecredential`` (OB 3.0: JSON text or a compact JWT) or ``openbadges`` (OB 2.0)."""
    flavour = _flavour(keyword)
    _check_payload(payload, flavour)
    chunks = _read_chunks(png)
    kept = [chunk for chunk in chunks[1:] if _text_keyword(chunk) != flavour.keyword]
    baked = b"".join(
        [PNG_SIGNATURE, chunks[0].raw, _itxt_chunk(flavour.keyword, payload)]
        + [chunk.raw for chunk in kept]
    )
    _check_image_size(baked, "baked PNG image")
    return baked


def extract_from_png(png: bytes) -> ExtractedBadge:
    """The credential baked into a PNG (OB 3.0 preferred over OB 2.0 when both are present).

    Raises :class:`InvalidInput` for a damaged PNG, a decompression bomb, two credentials under
    one keyword, or an image without a baked credential."""
    found: dict[str, list[_Chunk]] = {}
    for chunk in _read_chunks(png):
        keyword = _text_keyword(chunk)
        if keyword in _FLAVOURS:
            found.setdefault(keyword, []).append(chunk)
    for keyword in KEYWORDS:
        matches = found.get(keyword, [])
        if len(matches) > 1:
            raise InvalidInput(
                f"The PNG image holds {len(matches)} text chunks with keyword {keyword!r}; "
                "exactly one was expected."
            )
        if matches:
            flavour = _FLAVOURS[keyword]
            payload = _text_value(matches[0])
            if not payload.strip():
                raise InvalidInput(f"The PNG {keyword!r} text chunk is empty.")
            return ExtractedBadge(keyword, payload, flavour.version, "png")
    raise InvalidInput("The PNG image has no baked Open Badges credential.")


# --------------------------------------------------------------------------------------- SVG

# Only the public W3C SVG DTDs are accepted in a DOCTYPE. They are never fetched (expat does not
# read external DTDs here); the list only stops a DOCTYPE pointing somewhere else.
_SVG_DTD_SYSTEM_IDS = frozenset(
    {
        "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd",
        "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11-basic.dtd",
        "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11-tiny.dtd",
        "http://www.w3.org/TR/2001/REC-SVG-20010904/DTD/svg10.dtd",
        "http://www.w3.org/TR/2001/PR-SVG-20010719/DTD/svg10.dtd",
    }
)
_SVG_DTD_PUBLIC_IDS = frozenset(
    {
        "-//W3C//DTD SVG 1.1//EN",
        "-//W3C//DTD SVG 1.1 Basic//EN",
        "-//W3C//DTD SVG 1.1 Tiny//EN",
        "-//W3C//DTD SVG 1.0//EN",
        "-//W3C//DTD SVG 20010904//EN",
    }
)


class _SvgParser(DefusedXMLParser):
    """defusedxml's parser plus: a DOCTYPE allow-list, a depth cap, and the byte offsets of
    every element start tag and end tag (for editing the text in place)."""

    def __init__(self) -> None:
        super().__init__(forbid_dtd=False, forbid_entities=True, forbid_external=True)
        expat = self.parser
        expat.StartDoctypeDeclHandler = self._check_doctype
        build_start = expat.StartElementHandler
        build_end = expat.EndElementHandler
        if build_start is None or build_end is None:  # ElementTree always installs both
            raise RuntimeError("The XML tree builder has no element handlers.")
        self._open: list[int] = []
        #: id(element) -> (start-tag offset, end-tag offset as reported when the element closed)
        self.offsets: dict[int, tuple[int, int]] = {}
        self.keep: list[Any] = []  # keeps elements alive so id() stays unique

        def on_start(*args: Any) -> Any:
            if len(self._open) >= MAX_SVG_DEPTH:
                raise InvalidInput(f"The SVG nests elements deeper than {MAX_SVG_DEPTH} levels.")
            self._open.append(expat.CurrentByteIndex)
            return build_start(*args)

        def on_end(*args: Any) -> Any:
            start = self._open.pop()
            element = build_end(*args)
            self.offsets[id(element)] = (start, expat.CurrentByteIndex)
            self.keep.append(element)
            return element

        expat.StartElementHandler = on_start
        expat.EndElementHandler = on_end

    def _check_doctype(
        self, name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool
    ) -> None:
        if has_internal_subset:
            raise InvalidInput(
                "The SVG declares a DTD internal subset (entity declarations); refused."
            )
        if (sysid is not None and sysid not in _SVG_DTD_SYSTEM_IDS) or (
            pubid is not None and pubid not in _SVG_DTD_PUBLIC_IDS
        ):
            raise InvalidInput(
                f"The SVG refers to an external DTD ({sysid or pubid}); only the W3C SVG DTD "
                "is accepted."
            )


@dataclass
class _ParsedSvg:
    data: bytes
    root: Any
    offsets: dict[int, tuple[int, int]]


def _parse_svg(data: bytes) -> _ParsedSvg:
    _check_image_size(data, "SVG image")
    data = bytes(data)
    parser = _SvgParser()
    try:
        parser.feed(data)
        root = parser.close()
    except BadgeBridgeError:
        raise
    except DefusedXmlException as exc:
        raise InvalidInput(
            f"The SVG uses DTD entities or external references, which are refused ({exc})."
        ) from exc
    except ParseError as exc:
        raise InvalidInput(f"The SVG is not well-formed XML ({exc}).") from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"The SVG cannot be parsed ({exc}).") from exc
    if root.tag not in (f"{{{SVG_NAMESPACE}}}svg", "svg"):
        raise InvalidInput("Not an SVG image (the root element is not <svg>).")
    return _ParsedSvg(data, root, dict(parser.offsets))


def _badge_elements(parsed: _ParsedSvg, flavour: _Flavour) -> list[Any]:
    return list(parsed.root.iter(f"{{{flavour.namespace}}}{flavour.element}"))


def _payload_of(element: Any) -> str:
    verify = (element.get("verify") or "").strip()
    text = "".join(element.itertext()).strip()
    # A signed JWS in verify= is the credential itself; otherwise an embedded JSON copy wins over
    # an OB 2.0 hosted-assertion URL.
    if verify and _JWS_COMPACT.fullmatch(verify):
        return verify
    return text or verify


def extract_from_svg(svg: bytes) -> ExtractedBadge:
    """The credential baked into an SVG (OB 3.0 ``<openbadges:credential>`` preferred over
    OB 2.0 ``<openbadges:assertion>``). Hostile XML gives :class:`InvalidInput`."""
    parsed = _parse_svg(svg)
    for keyword in KEYWORDS:
        flavour = _FLAVOURS[keyword]
        elements = _badge_elements(parsed, flavour)
        if len(elements) > 1:
            raise InvalidInput(
                f"The SVG holds {len(elements)} <{flavour.element}> elements; exactly one was "
                "expected."
            )
        if elements:
            payload = _payload_of(elements[0])
            if not payload:
                raise InvalidInput(f"The SVG <{flavour.element}> element is empty.")
            return ExtractedBadge(keyword, payload, flavour.version, "svg")
    raise InvalidInput("The SVG image has no baked Open Badges credential.")


def _start_tag_end(data: bytes, start: int) -> tuple[int, bool]:
    """Offset just past the start tag beginning at ``start``, and whether it is ``<x/>``."""
    quote = 0
    for pos in range(start + 1, len(data)):
        byte = data[pos]
        if quote:
            if byte == quote:
                quote = 0
        elif byte in (0x22, 0x27):  # " or '
            quote = byte
        elif byte == 0x3E:  # >
            return pos + 1, data[pos - 1] == 0x2F  # /
    raise InvalidInput("The SVG has an unterminated start tag.")


def _element_span(parsed: _ParsedSvg, element: Any) -> tuple[int, int]:
    start, end_event = parsed.offsets[id(element)]
    tag_end, empty = _start_tag_end(parsed.data, start)
    if empty:
        return start, tag_end
    close = parsed.data.find(b">", end_event)
    if close < 0:
        raise InvalidInput("The SVG has an unterminated end tag.")
    return start, close + 1


def _xml_attribute(value: str) -> str:
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _svg_element(payload: str, flavour: _Flavour, namespace_attr: str) -> str:
    name = f"openbadges:{flavour.element}"
    text = payload.strip()
    if text.startswith("{"):
        verify = ""
        if flavour.version == "ob2":
            assertion_id = parse_json_object(text).get("id")
            if isinstance(assertion_id, str) and assertion_id:
                verify = f' verify="{_xml_attribute(assertion_id)}"'
        return f"<{name}{namespace_attr}{verify}>{_cdata(text)}</{name}>"
    return f'<{name}{namespace_attr} verify="{_xml_attribute(text)}"></{name}>'


_ENCODING_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)""")


def bake_svg(svg: bytes, payload: str, keyword: str = KEYWORD_OB3) -> bytes:
    """Return a copy of ``svg`` with ``payload`` baked as the first child of the root element.

    OB 3.0 (``openbadgecredential``): ``<openbadges:credential>`` holding JSON in CDATA, or with
    ``verify="<JWT>"``. OB 2.0 (``openbadges``): ``<openbadges:assertion verify="…">`` (the JWS, the
    hosted URL, or the assertion id with the JSON in CDATA). An existing element of the same kind
    is replaced. The SVG must be UTF-8; everything else in it is kept byte for byte."""
    flavour = _flavour(keyword)
    _check_payload(payload, flavour)
    parsed = _parse_svg(svg)
    data = parsed.data
    declared = _ENCODING_DECLARATION.match(data)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or (
        declared and declared.group(1).lower() not in (b"utf-8", b"utf8")
    ):
        raise InvalidInput("Only UTF-8 SVG images can be baked.")

    root_start, _ = parsed.offsets[id(parsed.root)]
    root_tag_end, root_empty = _start_tag_end(data, root_start)
    root_tag = data[root_start:root_tag_end]
    name_match = re.match(rb"<([^\s/>]+)", root_tag)
    if name_match is None:
        raise InvalidInput("The SVG root start tag cannot be read.")
    root_name = name_match.group(1)
    bound = re.search(rb"""\sxmlns:openbadges\s*=\s*(["'])(.*?)\1""", root_tag, re.DOTALL)
    edits: list[tuple[int, int, bytes]] = []
    namespace_attr = ""
    if bound is None:
        declaration = f' xmlns:openbadges="{flavour.namespace}"'.encode()
        edits.append((root_start + name_match.end(), root_start + name_match.end(), declaration))
    elif bound.group(2).decode("utf-8", "replace") != flavour.namespace:
        # The root binds the prefix to the other Open Badges version: declare it locally.
        namespace_attr = f' xmlns:openbadges="{flavour.namespace}"'

    element = ("\n" + _svg_element(payload, flavour, namespace_attr) + "\n").encode("utf-8")
    if root_empty:
        closing = b">" + element + b"</" + root_name + b">"
        edits.append((root_tag_end - 2, root_tag_end, closing))
    else:
        edits.append((root_tag_end, root_tag_end, element))
        for old in _badge_elements(parsed, flavour):
            start, end = _element_span(parsed, old)
            edits.append((start, end, b""))

    # Apply from the end so earlier offsets stay valid; at equal starts, removals go first.
    baked = data
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
        baked = baked[:start] + replacement + baked[end:]
    _check_image_size(baked, "baked SVG image")
    extract_from_svg(baked)  # the result must read back; this also re-checks well-formedness
    return baked


# ------------------------------------------------------------------------------------ sniffing


def _looks_like_svg(data: bytes) -> bool:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def extract_badge(data: bytes) -> ExtractedBadge:
    """The credential baked into a PNG or SVG image (sniffed from the bytes)."""
    _check_image_size(data, "image")
    if bytes(data[:8]) == PNG_SIGNATURE:
        return extract_from_png(data)
    if _looks_like_svg(bytes(data)):
        return extract_from_svg(data)
    raise InvalidInput("Not a PNG or SVG image.")


def bake_badge(image: bytes, payload: str, keyword: str = KEYWORD_OB3) -> bytes:
    """Bake ``payload`` into a PNG or SVG image (sniffed from the bytes)."""
    _check_image_size(image, "image")
    if bytes(image[:8]) == PNG_SIGNATURE:
        return bake_png(image, payload, keyword)
    if _looks_like_svg(bytes(image)):
        return bake_svg(image, payload, keyword)
    raise InvalidInput("Not a PNG or SVG image.")
