"""Bitstring Status List, StatusList2021 and 1EdTech revocation list checks."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.errors import FetchRefused, InvalidInput
from core.status_list import (
    MIN_BITSTRING_BITS,
    Bitstring,
    StatusListCache,
    StatusState,
    check_1edtech_revocation,
    check_credential_status,
    check_status,
    decode_list,
    encode_list,
    status_entry,
    status_list_credential,
)

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "standards" / "vectors"
BSL_DIR = VECTORS / "1edtech-validator" / "ob30" / "bit-string-list"
LIST_URL = "https://issuer.example/status/1"
ISSUER = "https://issuer.example/issuers/1"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def _load(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _published(purpose: str = "revocation", *set_bits: int, **kwargs: Any) -> dict[str, Any]:
    bits = Bitstring()
    for index in set_bits:
        bits.set(index)
    return status_list_credential(LIST_URL, ISSUER, purpose, bits, "2025-01-01T00:00:00Z", **kwargs)


def _serve(document: dict[str, Any]) -> Any:
    def fetch(url: str) -> dict[str, Any]:
        assert url == LIST_URL
        return document

    return fetch


# --- Bitstring and encoding ---------------------------------------------------------------


def test_encode_decode_round_trip_keeps_every_set_bit() -> None:
    bits = Bitstring()
    for index in (0, 7, 8, 23, 65_535, MIN_BITSTRING_BITS - 1):
        bits.set(index)
    bits.set(8, False)

    encoded = encode_list(bits)
    decoded = decode_list(encoded)

    assert encoded.startswith("u") and "=" not in encoded
    assert decoded == bits
    assert decoded.set_indexes() == [0, 7, 23, 65_535, MIN_BITSTRING_BITS - 1]
    assert decoded.size == MIN_BITSTRING_BITS


def test_bit_zero_is_the_most_significant_bit_of_the_first_byte() -> None:
    bits = Bitstring()
    bits.set(0)
    bits.set(15)
    raw = bits.to_bytes()
    assert raw[0] == 0x80
    assert raw[1] == 0x01


def test_1edtech_sample_list_has_only_bit_23_set() -> None:
    sample = _load(BSL_DIR / "testlist")
    decoded = decode_list(sample["credentialSubject"]["encodedList"])

    assert decoded.size == MIN_BITSTRING_BITS
    assert decoded.set_indexes() == [23]
    assert decoded.get(23) and not decoded.get(22) and not decoded.get(24)
    ours = Bitstring()
    ours.set(23)
    assert decode_list(encode_list(ours)) == decoded


def test_plain_base64url_without_multibase_prefix_is_accepted() -> None:
    bits = Bitstring()
    bits.set(42)
    compressed = gzip.compress(bits.to_bytes())
    plain = base64.urlsafe_b64encode(compressed).decode("ascii")  # with padding, no "u"

    assert decode_list(plain).set_indexes() == [42]
    assert decode_list(plain.rstrip("=")).set_indexes() == [42]


def test_list_below_the_herd_privacy_minimum_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 131,072"):
        Bitstring(1024)
    small = "u" + base64.urlsafe_b64encode(gzip.compress(bytes(128))).decode().rstrip("=")
    with pytest.raises(InvalidInput, match="at least 131,072"):
        decode_list(small)


def test_gzip_bomb_is_refused() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1_000_000)
    bomb = b"".join(packer.compress(zeros) for _ in range(50)) + packer.flush()  # 50 MB inflated
    encoded = "u" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")

    with pytest.raises(InvalidInput, match="decompression bomb"):
        decode_list(encoded)


@pytest.mark.parametrize(
    ("encoded", "reason"),
    [
        ("", "no encodedList"),
        ("u!!!not-base64", "not base64url"),
        ("u" + base64.urlsafe_b64encode(b"plain bytes").decode(), "not GZIP"),
        (
            "u" + base64.urlsafe_b64encode(gzip.compress(bytes(20_000), mtime=0)[:-12]).decode(),
            "truncated",
        ),
    ],
)
def test_malformed_encoded_lists_are_refused(encoded: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        decode_list(encoded)


# --- issuing ----------------------------------------------------------------------------


def test_status_list_credential_is_an_unsigned_vc2_bitstring_list() -> None:
    bits = Bitstring()
    bits.set(5)
    credential = status_list_credential(
        LIST_URL, ISSUER, "suspension", bits, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    )

    assert credential["@context"] == ["https://www.w3.org/ns/credentials/v2"]
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert credential["id"] == LIST_URL
    assert credential["issuer"] == ISSUER
    assert credential["validFrom"] == "2025-01-02T03:04:05Z"
    assert "proof" not in credential
    subject = credential["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "suspension"
    assert decode_list(subject["encodedList"]).set_indexes() == [5]


def test_status_entry_writes_the_index_as_a_string() -> None:
    entry = status_entry(LIST_URL, 42, "revocation")
    assert entry == {
        "id": f"{LIST_URL}#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": LIST_URL,
    }


@pytest.mark.parametrize("purpose", ["message", "Revocation", "refresh"])
def test_issuing_refuses_unknown_or_read_only_purposes(purpose: str) -> None:
    with pytest.raises(InvalidInput, match="purpose"):
        status_entry(LIST_URL, 1, purpose)
    with pytest.raises(InvalidInput, match="purpose"):
        status_list_credential(LIST_URL, ISSUER, purpose, Bitstring(), "2025-01-01T00:00:00Z")


# --- checking ---------------------------------------------------------------------------


def test_1edtech_sample_entry_is_revoked_by_the_sample_list() -> None:
    entry = _load(BSL_DIR / "credential-status-revoked.json")["credentialStatus"]
    assert entry["statusListIndex"] == 23  # a JSON number in the sample

    result = check_status(entry, lambda url: _load(BSL_DIR / "testlist"), now=NOW)

    assert result.state is StatusState.REVOKED
    assert not result.ok
    assert "revoked" in result.message and "index 23" in result.message


def test_neighbouring_index_of_the_sample_is_not_revoked() -> None:
    entry = dict(_load(BSL_DIR / "credential-status-revoked.json")["credentialStatus"])
    entry["statusListIndex"] = "22"

    result = check_status(entry, lambda url: _load(BSL_DIR / "testlist"), now=NOW)

    assert result.ok and result.state is StatusState.OK
    assert "Not revoked" in result.message


def test_issued_entry_round_trip_revoked_and_not_revoked() -> None:
    published = _published("revocation", 1000)

    revoked = check_status(status_entry(LIST_URL, 1000, "revocation"), _serve(published), now=NOW)
    fine = check_status(status_entry(LIST_URL, 1001, "revocation"), _serve(published), now=NOW)

    assert revoked.state is StatusState.REVOKED and revoked.index == 1000
    assert fine.state is StatusState.OK


def test_suspension_list_reports_suspended() -> None:
    published = _published("suspension", 7)
    result = check_status(status_entry(LIST_URL, 7, "suspension"), _serve(published), now=NOW)
    assert result.state is StatusState.SUSPENDED
    assert "suspended" in result.message


def test_purpose_mismatch_is_refused() -> None:
    published = _published("revocation", 7)
    with pytest.raises(InvalidInput, match="purpose mismatch"):
        check_status(status_entry(LIST_URL, 7, "suspension"), _serve(published), now=NOW)


def test_index_beyond_the_list_is_refused() -> None:
    published = _published("revocation")
    entry = status_entry(LIST_URL, MIN_BITSTRING_BITS, "revocation")
    with pytest.raises(InvalidInput, match="outside the status list"):
        check_status(entry, _serve(published), now=NOW)


def test_expired_list_is_refused() -> None:
    published = _published("revocation", valid_until="2025-03-01T00:00:00Z")
    entry = status_entry(LIST_URL, 3, "revocation")

    assert check_status(entry, _serve(published), now=datetime(2025, 2, 1, tzinfo=UTC)).ok
    with pytest.raises(InvalidInput, match="expired"):
        check_status(entry, _serve(published), now=NOW)


def test_list_not_yet_valid_is_refused() -> None:
    published = _published("revocation")
    with pytest.raises(InvalidInput, match="not valid yet"):
        check_status(
            status_entry(LIST_URL, 3, "revocation"),
            _serve(published),
            now=datetime(2024, 1, 1, tzinfo=UTC),
        )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "RevocationList2099Status"}, "Unsupported credentialStatus type"),
        ({"statusPurpose": "refresh"}, "Unsupported statusPurpose"),
        ({"statusListIndex": "-1"}, "non-negative"),
        ({"statusListIndex": "1.5"}, "non-negative"),
        ({"statusListIndex": True}, "not true/false"),
        ({"statusListIndex": None}, "non-negative"),
        ({"statusListCredential": None}, "statusListCredential"),
        ({"statusSize": 2}, "one bit"),
    ],
)
def test_malformed_entries_are_refused_before_fetching(change: dict[str, Any], reason: str) -> None:
    entry = {**status_entry(LIST_URL, 3, "revocation"), **change}

    def must_not_fetch(url: str) -> dict[str, Any]:
        raise AssertionError("fetched although the entry is malformed")

    with pytest.raises(InvalidInput, match=reason):
        check_status(entry, must_not_fetch, now=NOW)


def test_document_that_is_not_a_status_list_is_refused() -> None:
    not_a_list = {"type": ["VerifiableCredential", "OpenBadgeCredential"], "credentialSubject": {}}
    with pytest.raises(InvalidInput, match="not a BitstringStatusListCredential"):
        check_status(status_entry(LIST_URL, 3, "revocation"), _serve(not_a_list), now=NOW)


def test_fetch_errors_reach_the_caller() -> None:
    def refuse(url: str) -> dict[str, Any]:
        raise FetchRefused(f"Refused to fetch {url}")

    with pytest.raises(FetchRefused, match="Refused to fetch"):
        check_status(status_entry(LIST_URL, 3, "revocation"), refuse, now=NOW)


def test_message_purpose_is_read_with_its_status_messages() -> None:
    bits = Bitstring()
    bits.set(2 * 10 + 1)  # entry 10 of a 2-bit list holds 0b01
    published = status_list_credential(LIST_URL, ISSUER, "revocation", bits, "2025-01-01T00:00:00Z")
    published["credentialSubject"]["statusPurpose"] = "message"
    entry = {
        "type": "BitstringStatusListEntry",
        "statusPurpose": "message",
        "statusListIndex": "10",
        "statusSize": 2,
        "statusListCredential": LIST_URL,
        "statusMessage": [
            {"status": "0x0", "message": "pending"},
            {"status": "0x1", "message": "accepted"},
        ],
    }
    with pytest.raises(InvalidInput, match="fewer than 131,072"):
        check_status(entry, _serve(published), now=NOW)  # 2-bit entries: list too short

    big = Bitstring(2 * MIN_BITSTRING_BITS)
    big.set(2 * 10 + 1)
    published["credentialSubject"]["encodedList"] = encode_list(big)
    result = check_status(entry, _serve(published), now=NOW)
    assert result.ok and result.value == 1
    assert "accepted" in result.message


def test_status_list_2021_entries_are_read() -> None:
    bits = Bitstring()
    bits.set(94_567)
    legacy_list = {
        "@context": [
            "https://www.w3.org/2018/credentials/v1",
            "https://w3id.org/vc/status-list/2021/v1",
        ],
        "id": LIST_URL,
        "type": ["VerifiableCredential", "StatusList2021Credential"],
        "issuer": ISSUER,
        "issuanceDate": "2021-04-05T14:27:40Z",
        "expirationDate": "2030-01-01T00:00:00Z",
        "credentialSubject": {
            "id": f"{LIST_URL}#list",
            "type": "StatusList2021",
            "statusPurpose": "revocation",
            # StatusList2021 uses plain base64url, without the multibase "u".
            "encodedList": base64.urlsafe_b64encode(gzip.compress(bits.to_bytes())).decode(),
        },
    }
    entry = {
        "id": f"{LIST_URL}#94567",
        "type": "StatusList2021Entry",
        "statusPurpose": "revocation",
        "statusListIndex": "94567",
        "statusListCredential": LIST_URL,
    }

    assert check_status(entry, _serve(legacy_list), now=NOW).state is StatusState.REVOKED
    assert check_status({**entry, "statusListIndex": "1"}, _serve(legacy_list), now=NOW).ok
    with pytest.raises(InvalidInput, match="expired"):
        check_status(entry, _serve(legacy_list), now=datetime(2031, 1, 1, tzinfo=UTC))


# --- 1EdTech revocation list ------------------------------------------------------------


REVOCATION_DOC = {
    "revokedCredentials": [
        {"id": "urn:uuid:revoked-with-reason", "revocationReason": "Awarded by mistake"},
        {"id": "urn:uuid:reinstated", "revoked": False},
        "urn:uuid:bare-id",
    ]
}


def _vcrl_entry() -> dict[str, Any]:
    sample = _load(VECTORS / "1edtech-validator" / "ob30" / "credential-status-revoked.json")
    entry = sample["credentialStatus"]
    assert entry["type"] == "1EdTechRevocationList"
    return dict(entry)


def test_1edtech_revocation_list_reports_revoked_with_reason() -> None:
    entry = _vcrl_entry()
    fetched: list[str] = []

    def fetch(url: str) -> Any:
        fetched.append(url)
        return REVOCATION_DOC

    result = check_1edtech_revocation(entry, fetch, "urn:uuid:revoked-with-reason")

    assert fetched == [entry["id"]]
    assert result.state is StatusState.REVOKED
    assert result.reason == "Awarded by mistake"
    assert "Awarded by mistake" in result.message


@pytest.mark.parametrize(
    ("credential_id", "state"),
    [
        ("urn:uuid:reinstated", StatusState.OK),
        ("urn:uuid:bare-id", StatusState.REVOKED),
        ("urn:uuid:never-listed", StatusState.OK),
    ],
)
def test_1edtech_revocation_list_flags(credential_id: str, state: StatusState) -> None:
    result = check_1edtech_revocation(_vcrl_entry(), lambda url: REVOCATION_DOC, credential_id)
    assert result.state is state


def test_1edtech_revocation_list_without_entries_revokes_nothing() -> None:
    assert check_1edtech_revocation(_vcrl_entry(), lambda url: {}, "urn:uuid:x").ok


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"revokedCredentials": "urn:uuid:x"},
        {"revokedCredentials": [{"id": "x", "revoked": "no"}]},
    ],
)
def test_1edtech_revocation_list_malformed_is_refused(document: Any) -> None:
    with pytest.raises(InvalidInput):
        check_1edtech_revocation(_vcrl_entry(), lambda url: document, "x")


def test_1edtech_revocation_check_refuses_other_entry_types() -> None:
    with pytest.raises(InvalidInput, match="1EdTechRevocationList"):
        check_1edtech_revocation(status_entry(LIST_URL, 1, "revocation"), lambda url: {}, "x")


# --- cache ------------------------------------------------------------------------------


class _FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_cache_serves_repeat_checks_until_the_ttl_passes() -> None:
    clock = _FakeClock()
    cache = StatusListCache(ttl_seconds=60, clock=clock)
    calls: list[str] = []
    published = _published("revocation", 9)

    def fetch(url: str) -> dict[str, Any]:
        calls.append(url)
        return published

    cached = cache.wrap(fetch)
    entry = status_entry(LIST_URL, 9, "revocation")
    assert check_status(entry, cached, now=NOW).state is StatusState.REVOKED
    assert check_status(entry, cached, now=NOW).state is StatusState.REVOKED
    assert calls == [LIST_URL]

    clock.now += 61
    check_status(entry, cached, now=NOW)
    assert calls == [LIST_URL, LIST_URL]


def test_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    cache = StatusListCache(max_entries=2, clock=_FakeClock())
    cache.put("https://a.example/", {"n": 1})
    cache.put("https://b.example/", {"n": 2})
    assert cache.get("https://a.example/") == {"n": 1}  # a is now the most recently used
    cache.put("https://c.example/", {"n": 3})

    assert len(cache) == 2
    assert cache.get("https://b.example/") is None
    assert cache.get("https://a.example/") == {"n": 1}
    assert cache.get("https://c.example/") == {"n": 3}


def test_failed_fetches_are_not_cached() -> None:
    cache = StatusListCache(clock=_FakeClock())
    attempts: list[int] = []

    def flaky(url: str) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise FetchRefused("temporary failure")
        return _published("revocation")

    cached = cache.wrap(flaky)
    with pytest.raises(FetchRefused):
        cached(LIST_URL)
    assert cached(LIST_URL)["id"] == LIST_URL
    assert len(attempts) == 2


# --- dispatch ---------------------------------------------------------------------------


def test_check_credential_status_dispatches_on_the_entry_type() -> None:
    published = _published("revocation", 4)
    bitstring_result = check_credential_status(
        status_entry(LIST_URL, 4, "revocation"), _serve(published), now=NOW
    )
    vcrl_result = check_credential_status(
        _vcrl_entry(), lambda url: REVOCATION_DOC, document={"id": "urn:uuid:bare-id"}
    )

    assert bitstring_result.state is StatusState.REVOKED
    assert vcrl_result.state is StatusState.REVOKED
    with pytest.raises(InvalidInput, match="has no id"):
        check_credential_status(_vcrl_entry(), lambda url: REVOCATION_DOC, document={})


def test_status_list_returned_as_unverified_text_is_refused() -> None:
    with pytest.raises(InvalidInput, match="verified and decoded"):
        check_status(status_entry(LIST_URL, 4, "revocation"), lambda url: "eyJ.eyJ.sig", now=NOW)
