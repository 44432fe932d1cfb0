"""Credential status: W3C Bitstring Status List v1.0, its predecessor StatusList2021 (read only),
and the 1EdTech Revocation List Status Method (``1EdTechRevocationList``, read only).

Issuing side: :class:`Bitstring`, :func:`encode_list`, :func:`status_list_credential` (an UNSIGNED
``BitstringStatusListCredential``; the coordinator signs and publishes it) and :func:`status_entry`
(the ``credentialStatus`` entry put into an issued credential).

Checking side: :func:`check_status` and :func:`check_1edtech_revocation`. Both take a callable that
returns the fetched document. This module never touches the network and never checks the
signature of a status list credential: the callable passed in must fetch AND verify the list
credential (and raise a :class:`core.errors.BadgeBridgeError` when it cannot), so that this module
stays pure and testable. :class:`StatusListCache` wraps such a callable with a small TTL cache.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import re
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from core.errors import InvalidInput
from core.limits import MAX_STATUS_LIST_BYTES

#: The spec's minimum list length (16 KiB of bits): smaller lists would let an observer narrow down
#: which credential is being checked ("herd privacy").
MIN_BITSTRING_BITS = 131_072
#: The largest list we create or decode, in bits (set by ``core.limits.MAX_STATUS_LIST_BYTES``).
MAX_BITSTRING_BITS = MAX_STATUS_LIST_BYTES * 8
#: Widest status entry (``statusSize``) accepted for ``message`` lists, in bits.
MAX_STATUS_SIZE = 16

BITSTRING_ENTRY = "BitstringStatusListEntry"
BITSTRING_CREDENTIAL = "BitstringStatusListCredential"
BITSTRING_SUBJECT = "BitstringStatusList"
STATUS_LIST_2021_ENTRY = "StatusList2021Entry"
STATUS_LIST_2021_CREDENTIAL = "StatusList2021Credential"
STATUS_LIST_2021_SUBJECT = "StatusList2021"
REVOCATION_LIST_1EDTECH = "1EdTechRevocationList"

VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"

#: Purposes this engine issues lists for.
ISSUABLE_PURPOSES = ("revocation", "suspension")
#: Purposes accepted when reading (``message`` is read-only tolerance).
READABLE_PURPOSES = ("revocation", "suspension", "message")

# Base64 text of a 1 MiB list gzipped cannot be much larger than this; longer input is refused
# before any decoding work.
_MAX_ENCODED_CHARS = (MAX_STATUS_LIST_BYTES * 4) // 3 + 1024
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_DECIMAL_INDEX = re.compile(r"[0-9]{1,10}")


class Bitstring:
    """A fixed-size list of status bits. Bit 0 is the MOST significant bit of byte 0, as the
    Bitstring Status List spec (and every implementation checked against the 1EdTech samples)
    counts them."""

    __slots__ = ("_bits",)

    def __init__(self, size_bits: int = MIN_BITSTRING_BITS) -> None:
        """Create an all-zero list of ``size_bits`` bits (a multiple of 8, at least 131,072)."""
        if isinstance(size_bits, bool) or not isinstance(size_bits, int):
            raise InvalidInput("A status list size must be a whole number of bits.")
        if size_bits < MIN_BITSTRING_BITS:
            raise InvalidInput(
                f"A status list must hold at least {MIN_BITSTRING_BITS:,} entries "
                f"(herd privacy); {size_bits:,} requested."
            )
        if size_bits > MAX_BITSTRING_BITS:
            raise InvalidInput(
                f"A status list may hold at most {MAX_BITSTRING_BITS:,} entries; "
                f"{size_bits:,} requested."
            )
        if size_bits % 8:
            raise InvalidInput("A status list size must be a multiple of 8 bits.")
        self._bits = bytearray(size_bits // 8)

    @classmethod
    def from_bytes(cls, data: bytes, *, min_bits: int = MIN_BITSTRING_BITS) -> Bitstring:
        """Wrap decoded list bytes. ``min_bits`` lets legacy (StatusList2021) readers accept
        lists shorter than the Bitstring Status List minimum."""
        if len(data) * 8 < min_bits:
            raise InvalidInput(
                f"The status list holds {len(data) * 8:,} entries; at least {min_bits:,} are "
                "required."
            )
        if len(data) > MAX_STATUS_LIST_BYTES:
            raise InvalidInput(
                f"The status list is larger than {MAX_STATUS_LIST_BYTES:,} bytes once expanded."
            )
        if not data:
            raise InvalidInput("The status list is empty.")
        bitstring = cls.__new__(cls)
        bitstring._bits = bytearray(data)
        return bitstring

    @property
    def size(self) -> int:
        """Number of bits (status entries of one bit) in the list."""
        return len(self._bits) * 8

    def _check_index(self, index: int, width: int = 1) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise InvalidInput("A status list index must be a whole number.")
        if index < 0 or index + width > self.size:
            raise InvalidInput(
                f"Status list index {index:,} is outside the list (it has {self.size:,} bits)."
            )

    def get(self, index: int) -> bool:
        """True when bit ``index`` is set."""
        self._check_index(index)
        return bool(self._bits[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        """Set (or with ``value=False`` clear) bit ``index``."""
        self._check_index(index)
        mask = 0x80 >> (index & 7)
        if value:
            self._bits[index >> 3] |= mask
        else:
            self._bits[index >> 3] &= ~mask & 0xFF

    def get_value(self, position: int, width: int) -> int:
        """The unsigned number stored in ``width`` bits starting at bit ``position`` (most
        significant first), used by multi-bit ``message`` lists."""
        self._check_index(position, width)
        value = 0
        for offset in range(width):
            value = (value << 1) | int(self.get(position + offset))
        return value

    def to_bytes(self) -> bytes:
        """The raw (uncompressed) list bytes."""
        return bytes(self._bits)

    def set_indexes(self) -> list[int]:
        """Indexes of all set bits (for diagnostics and tests; scans the whole list)."""
        found: list[int] = []
        for byte_index, byte in enumerate(self._bits):
            if byte:
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        found.append(byte_index * 8 + bit)
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bitstring) and self._bits == other._bits

    __hash__ = None  # type: ignore[assignment]  # mutable, like bytearray

    def __repr__(self) -> str:
        return f"Bitstring(size={self.size}, set={len(self.set_indexes())})"


def encode_list(bitstring: Bitstring) -> str:
    """``encodedList`` value: ``u`` (multibase base64url) + base64url, no padding, of the GZIP of
    the list. The GZIP header carries no timestamp, so equal lists encode to equal text."""
    compressed = gzip.compress(bitstring.to_bytes(), compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


def _inflate_gzip(compressed: bytes, limit: int) -> bytes:
    """GZIP-decompress at most ``limit`` bytes; refuse bombs, truncation and trailing data."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(compressed, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"The status list is not valid GZIP data ({exc}).") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise InvalidInput(
            f"The status list expands to more than {limit:,} bytes; refused (possible "
            "decompression bomb)."
        )
    if not inflater.eof:
        raise InvalidInput("The status list GZIP data is truncated.")
    if inflater.unused_data:
        raise InvalidInput("The status list has unexpected data after its GZIP stream.")
    return out


def decode_list(
    encoded: str,
    *,
    min_bits: int = MIN_BITSTRING_BITS,
    max_bytes: int = MAX_STATUS_LIST_BYTES,
) -> Bitstring:
    """Decode an ``encodedList``: ``u``-multibase base64url (Bitstring Status List) or plain
    base64url/base64 (StatusList2021 and older data), then GZIP with an expansion cap.

    Raises :class:`InvalidInput` for anything malformed, too large or too short."""
    if not isinstance(encoded, str) or not encoded:
        raise InvalidInput("The status list has no encodedList text.")
    if len(encoded) > _MAX_ENCODED_CHARS:
        raise InvalidInput("The encodedList text is too long.")
    # GZIP data always starts with 0x1f, so plain base64 of it starts with "H"; a leading "u" is
    # therefore unambiguously the multibase prefix.
    body = encoded[1:] if encoded.startswith("u") else encoded
    body = body.strip().replace("+", "-").replace("/", "_")
    if not _BASE64URL.fullmatch(body):
        raise InvalidInput("The encodedList is not base64url text.")
    try:
        compressed = base64.urlsafe_b64decode(body.rstrip("=") + "=" * (-len(body.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("The encodedList is not valid base64url text.") from exc
    if not compressed.startswith(b"\x1f\x8b"):
        raise InvalidInput("The encodedList is not GZIP-compressed.")
    return Bitstring.from_bytes(_inflate_gzip(compressed, max_bytes), min_bits=min_bits)


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return _format_datetime(_parse_datetime(value, "validFrom"))
    if not isinstance(value, datetime):
        raise InvalidInput("A date must be a datetime or an ISO 8601 text.")
    return _format_datetime(value)


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _parse_datetime(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(f"The status list's {field} is not a date-time text.")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            f"The status list's {field} {value!r} is not a valid date-time."
        ) from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _require_url(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(ch.isspace() for ch in value):
        raise InvalidInput(f"{what} must be a URL without spaces.")
    return value


def _require_issuable_purpose(purpose: Any) -> str:
    if purpose not in ISSUABLE_PURPOSES:
        raise InvalidInput(
            f"Unsupported status purpose {purpose!r}: use one of {', '.join(ISSUABLE_PURPOSES)}."
        )
    return str(purpose)


def status_list_credential(
    list_url: str,
    issuer_id: str,
    purpose: str,
    bitstring: Bitstring,
    valid_from: datetime | str,
    *,
    valid_until: datetime | str | None = None,
    ttl_ms: int | None = None,
) -> dict[str, Any]:
    """An UNSIGNED ``BitstringStatusListCredential`` (VC Data Model 2.0) publishing ``bitstring``
    at ``list_url``. The caller signs it and serves it at ``list_url``."""
    _require_url(list_url, "The status list URL")
    _require_url(issuer_id, "The issuer id")
    _require_issuable_purpose(purpose)
    if not isinstance(bitstring, Bitstring):
        raise InvalidInput("The status list must be a Bitstring.")
    subject: dict[str, Any] = {
        "id": f"{list_url}#list",
        "type": BITSTRING_SUBJECT,
        "statusPurpose": purpose,
        "encodedList": encode_list(bitstring),
    }
    if ttl_ms is not None:
        if isinstance(ttl_ms, bool) or not isinstance(ttl_ms, int) or ttl_ms < 0:
            raise InvalidInput("The status list ttl must be a non-negative number of ms.")
        subject["ttl"] = ttl_ms
    credential: dict[str, Any] = {
        "@context": [VC_V2_CONTEXT],
        "id": list_url,
        "type": ["VerifiableCredential", BITSTRING_CREDENTIAL],
        "issuer": issuer_id,
        "validFrom": _timestamp(valid_from),
    }
    if valid_until is not None:
        credential["validUntil"] = _timestamp(valid_until)
    credential["credentialSubject"] = subject
    return credential


def status_entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` for an issued credential's ``credentialStatus``.

    ``statusListIndex`` is a STRING, as the spec requires (readers here also accept a number)."""
    _require_url(list_url, "The status list URL")
    _require_issuable_purpose(purpose)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidInput("A status list index must be a non-negative whole number.")
    if index >= MAX_BITSTRING_BITS:
        raise InvalidInput(f"A status list index must be below {MAX_BITSTRING_BITS:,}.")
    return {
        "id": f"{list_url}#{index}",
        "type": BITSTRING_ENTRY,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


class StatusState(StrEnum):
    """What a status check found."""

    OK = "ok"
    REVOKED = "revoked"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class StatusResult:
    """Outcome of one status check, with a sentence a person can read."""

    state: StatusState
    message: str
    purpose: str
    list_url: str
    index: int | None = None
    #: The status value read (1 bit for revocation/suspension; wider for ``message`` lists).
    value: int | None = None
    #: ``revocationReason`` of a 1EdTech revocation list entry, when given.
    reason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the credential is neither revoked nor suspended."""
        return self.state is StatusState.OK


def _types(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    return []


def _parse_index(value: Any) -> int:
    # The spec wants a string of decimal digits; the 1EdTech samples use a JSON number.
    if isinstance(value, bool):
        raise InvalidInput("statusListIndex must be a number written as text, not true/false.")
    if isinstance(value, int):
        index = value
    elif isinstance(value, str) and _DECIMAL_INDEX.fullmatch(value):
        index = int(value)
    else:
        raise InvalidInput(
            f"statusListIndex must be a non-negative whole number (as text); got {value!r}."
        )
    if index < 0:
        raise InvalidInput(f"statusListIndex must not be negative; got {index}.")
    return index


def _parse_status_size(value: Any, purpose: str) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput("statusSize must be a positive whole number.")
    if isinstance(value, str):
        if not _DECIMAL_INDEX.fullmatch(value):
            raise InvalidInput("statusSize must be a positive whole number.")
        value = int(value)
    size = int(value)
    if size < 1:
        raise InvalidInput("statusSize must be at least 1.")
    if purpose != "message" and size != 1:
        raise InvalidInput(f"A {purpose} status entry must use one bit (statusSize 1).")
    if size > MAX_STATUS_SIZE:
        raise InvalidInput(f"statusSize {size} is larger than the supported {MAX_STATUS_SIZE}.")
    return size


@dataclass(frozen=True)
class _EntryKind:
    entry_type: str
    credential_type: str
    subject_type: str
    min_bits: int
    label: str


_KINDS = {
    BITSTRING_ENTRY: _EntryKind(
        BITSTRING_ENTRY,
        BITSTRING_CREDENTIAL,
        BITSTRING_SUBJECT,
        MIN_BITSTRING_BITS,
        "Bitstring Status List",
    ),
    # StatusList2021 lists in the wild are sometimes shorter than 16 KiB; they are read as is.
    STATUS_LIST_2021_ENTRY: _EntryKind(
        STATUS_LIST_2021_ENTRY,
        STATUS_LIST_2021_CREDENTIAL,
        STATUS_LIST_2021_SUBJECT,
        8,
        "StatusList2021",
    ),
}


def _check_validity_period(list_credential: Mapping[str, Any], now: datetime) -> None:
    until = list_credential.get("validUntil", list_credential.get("expirationDate"))
    if until is not None:
        field = "validUntil" if "validUntil" in list_credential else "expirationDate"
        expires = _parse_datetime(until, field)
        if expires <= now:
            raise InvalidInput(
                f"The status list expired at {_format_datetime(expires)}; its status cannot be "
                "trusted until the issuer publishes a fresh one."
            )
    since = list_credential.get("validFrom")
    if since is not None and _parse_datetime(since, "validFrom") > now:
        raise InvalidInput("The status list is not valid yet (its validFrom is in the future).")


def _status_message(entry: Mapping[str, Any], value: int) -> str:
    messages = entry.get("statusMessage")
    if isinstance(messages, list):
        for item in messages:
            if not isinstance(item, dict) or not isinstance(item.get("status"), str):
                continue
            try:
                status_value = int(item["status"], 16)
            except ValueError:
                continue
            if status_value == value and isinstance(item.get("message"), str):
                return str(item["message"])
    return f"status value {value:#x}"


def check_status(
    entry: Mapping[str, Any],
    fetch_status_list: Callable[[str], Any],
    *,
    now: datetime | None = None,
) -> StatusResult:
    """Check one ``credentialStatus`` entry of type ``BitstringStatusListEntry`` (or the older
    ``StatusList2021Entry``).

    ``fetch_status_list(url)`` must return the status list credential as a dict AFTER verifying its
    proof (and raise a ``BadgeBridgeError`` if it cannot); this function only checks what the list
    says: the entry's shape, the list's type and ``statusPurpose``, its validity period, its length
    and the index range, then reads the bit(s).

    Returns a :class:`StatusResult`; raises :class:`InvalidInput` when the entry or the list is
    unusable (so the status is unknown), and lets the fetcher's errors through."""
    if not isinstance(entry, Mapping):
        raise InvalidInput("credentialStatus must be an object.")
    entry_types = _types(entry.get("type"))
    kind = next((_KINDS[t] for t in entry_types if t in _KINDS), None)
    if kind is None:
        raise InvalidInput(
            f"Unsupported credentialStatus type {entry.get('type')!r}: expected "
            f"{BITSTRING_ENTRY} (or {STATUS_LIST_2021_ENTRY})."
        )
    purpose = entry.get("statusPurpose")
    if purpose not in READABLE_PURPOSES:
        raise InvalidInput(
            f"Unsupported statusPurpose {purpose!r}: expected one of {', '.join(READABLE_PURPOSES)}."
        )
    index = _parse_index(entry.get("statusListIndex"))
    size = _parse_status_size(entry.get("statusSize"), purpose)
    list_url = _require_url(entry.get("statusListCredential"), "statusListCredential")

    list_credential = fetch_status_list(list_url)
    if isinstance(list_credential, str):
        raise InvalidInput(
            f"The status list at {list_url} came back as text (a JWT?); it must be verified and "
            "decoded before its bits are read."
        )
    if not isinstance(list_credential, Mapping):
        raise InvalidInput(f"The status list at {list_url} is not a JSON object.")
    if kind.credential_type not in _types(list_credential.get("type")):
        raise InvalidInput(
            f"The document at {list_url} is not a {kind.credential_type} (its type is "
            f"{list_credential.get('type')!r})."
        )
    subject = list_credential.get("credentialSubject")
    if isinstance(subject, list) and len(subject) == 1:
        subject = subject[0]
    if not isinstance(subject, Mapping):
        raise InvalidInput(f"The status list at {list_url} has no credentialSubject object.")
    if kind.subject_type not in _types(subject.get("type")):
        raise InvalidInput(f"The status list at {list_url} is not a {kind.subject_type}.")
    list_purposes = _types(subject.get("statusPurpose"))
    if purpose not in list_purposes:
        raise InvalidInput(
            f"Status purpose mismatch: the credential asks for {purpose!r} but the list at "
            f"{list_url} is for {', '.join(list_purposes) or 'nothing'}."
        )
    _check_validity_period(list_credential, now or datetime.now(UTC))

    encoded = subject.get("encodedList")
    if not isinstance(encoded, str):
        raise InvalidInput(f"The status list at {list_url} has no encodedList text.")
    bitstring = decode_list(encoded, min_bits=kind.min_bits)
    if kind is _KINDS[BITSTRING_ENTRY] and bitstring.size // size < MIN_BITSTRING_BITS:
        raise InvalidInput(
            f"The status list at {list_url} holds fewer than {MIN_BITSTRING_BITS:,} entries."
        )
    position = index * size
    if position + size > bitstring.size:
        raise InvalidInput(
            f"statusListIndex {index:,} is outside the status list at {list_url} "
            f"({bitstring.size // size:,} entries)."
        )
    value = bitstring.get_value(position, size)

    where = f"{kind.label} {list_url}, index {index}"
    if purpose == "message":
        text = _status_message(entry, value)
        return StatusResult(
            StatusState.OK, f"Status message: {text} ({where}).", purpose, list_url, index, value
        )
    if value == 0:
        word = "revoked" if purpose == "revocation" else "suspended"
        return StatusResult(
            StatusState.OK, f"Not {word} ({where}).", purpose, list_url, index, value
        )
    if purpose == "revocation":
        return StatusResult(
            StatusState.REVOKED,
            f"The issuer has revoked this credential ({where}).",
            purpose,
            list_url,
            index,
            value,
        )
    return StatusResult(
        StatusState.SUSPENDED,
        f"The issuer has suspended this credential ({where}).",
        purpose,
        list_url,
        index,
        value,
    )


def check_1edtech_revocation(
    entry: Mapping[str, Any],
    fetch_json: Callable[[str], Any],
    credential_id: str,
) -> StatusResult:
    """Check a ``1EdTechRevocationList`` ``credentialStatus`` entry (1EdTech Revocation List
    Status Method, named in the OB 3.0 ``extensions.json`` context).

    ``fetch_json(entry["id"])`` returns the issuer's list document: an object whose
    ``revokedCredentials`` array holds objects with the revoked credential's ``id``, an optional
    ``revoked`` flag (``false`` means not revoked, as the 1EdTech validator reads it) and an
    optional ``revocationReason``; a bare id string is tolerated, as in OB 2.0 lists. A missing
    array means nothing is revoked. ``credential_id`` is the ``id`` of the credential checked
    (the entry itself does not carry it)."""
    if not isinstance(entry, Mapping):
        raise InvalidInput("credentialStatus must be an object.")
    if REVOCATION_LIST_1EDTECH not in _types(entry.get("type")):
        raise InvalidInput(
            f"Unsupported credentialStatus type {entry.get('type')!r}: expected "
            f"{REVOCATION_LIST_1EDTECH}."
        )
    list_url = _require_url(entry.get("id"), "The 1EdTechRevocationList id")
    if not isinstance(credential_id, str) or not credential_id:
        raise InvalidInput(
            "The credential has no id, so a 1EdTech revocation list cannot be checked for it."
        )
    document = fetch_json(list_url)
    if not isinstance(document, Mapping):
        raise InvalidInput(f"The revocation list at {list_url} is not a JSON object.")
    revoked = document.get("revokedCredentials", [])
    if not isinstance(revoked, list):
        raise InvalidInput(f"revokedCredentials in the list at {list_url} is not an array.")
    for item in revoked:
        item_id: Any
        if isinstance(item, str):
            item_id, flag, reason = item, True, None
        elif isinstance(item, Mapping):
            item_id = item.get("id")
            flag_value = item.get("revoked", True)
            if not isinstance(flag_value, bool):
                raise InvalidInput(f"A 'revoked' flag in the list at {list_url} is not true/false.")
            flag = flag_value
            reason_value = item.get("revocationReason")
            reason = reason_value if isinstance(reason_value, str) and reason_value else None
        else:
            raise InvalidInput(f"An entry of the revocation list at {list_url} is malformed.")
        if item_id == credential_id and flag:
            because = f": {reason}" if reason else ""
            return StatusResult(
                StatusState.REVOKED,
                f"The issuer has revoked this credential (1EdTech revocation list {list_url})"
                f"{because}",
                "revocation",
                list_url,
                reason=reason,
            )
    return StatusResult(
        StatusState.OK,
        f"Not revoked (1EdTech revocation list {list_url}).",
        "revocation",
        list_url,
    )


def check_credential_status(
    entry: Mapping[str, Any],
    fetch_status_list: Callable[[str], Any],
    *,
    document: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> StatusResult:
    """Check one ``credentialStatus`` entry of any supported type: Bitstring Status List and
    StatusList2021 entries go to :func:`check_status`, ``1EdTechRevocationList`` entries to
    :func:`check_1edtech_revocation` (using ``document["id"]``, the credential's id).

    The same trust rule applies: ``fetch_status_list`` must return verified documents."""
    if not isinstance(entry, Mapping):
        raise InvalidInput("credentialStatus must be an object.")
    if REVOCATION_LIST_1EDTECH in _types(entry.get("type")):
        credential_id = document.get("id") if isinstance(document, Mapping) else None
        return check_1edtech_revocation(entry, fetch_status_list, credential_id or "")
    return check_status(entry, fetch_status_list, now=now)


class StatusListCache:
    """A small, bounded TTL cache of fetched (and verified) status list documents.

    Use :meth:`wrap` to put it in front of the callable given to :func:`check_status`; only
    successful fetches are cached. ``clock`` returns seconds (monotonic) and is injectable for
    tests."""

    def __init__(
        self,
        *,
        ttl_seconds: float = 300.0,
        max_entries: int = 64,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise InvalidInput("The status list cache needs a ttl >= 0 and room for one entry.")
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, Mapping[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()  # web workers may share one cache

    def get(self, url: str) -> Mapping[str, Any] | None:
        """The cached document for ``url``, or None when absent or expired."""
        with self._lock:
            found = self._items.get(url)
            if found is None:
                return None
            stored_at, document = found
            if self._clock() - stored_at >= self._ttl:
                del self._items[url]
                return None
            self._items.move_to_end(url)
            return document

    def put(self, url: str, document: Mapping[str, Any]) -> None:
        """Store ``document`` for ``url``, evicting the least recently used entry when full."""
        with self._lock:
            self._items[url] = (self._clock(), document)
            self._items.move_to_end(url)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget everything (for example after the issuer republished a list)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def wrap(self, fetch: Callable[[str], Mapping[str, Any]]) -> Callable[[str], Mapping[str, Any]]:
        """A fetch callable that answers from the cache and fills it on a miss."""

        def cached_fetch(url: str) -> Mapping[str, Any]:
            document = self.get(url)
            if document is None:
                document = fetch(url)
                self.put(url, document)
            return document

        return cached_fetch
