"""The verifier facing hostile or wrong input: a clear failed check, never an exception."""

from __future__ import annotations

import gzip
import json
import struct
import zlib
from typing import Any

import pytest

from core.did import ControllerDocumentResolver, did_key_for_ed25519, did_key_verification_method
from core.keys import IssuerSigningKey, generate_private_key
from core.proofs.data_integrity import create_proof
from core.report import CheckStatus
from core.service import BadgeService
from core.verification import VerificationOptions, verify_credential

ACHIEVEMENT: dict[str, Any] = {
    "type": ["Achievement"],
    "name": "Wijkgids",
    "description": "Guided visitors through the neighbourhood.",
    "criteria": {"narrative": "Lead three walking tours."},
}


def offline() -> VerificationOptions:
    return VerificationOptions(resolver=ControllerDocumentResolver())


def png_with_text_chunk(keyword: bytes, payload: bytes, compressed: bool) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    body = zlib.compress(payload, 9) if compressed else payload
    itxt = keyword + b"\x00" + (b"\x01\x00" if compressed else b"\x00\x00") + b"\x00\x00" + body
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"iTXt", itxt)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


HOSTILE: dict[str, bytes | str] = {
    "malformed JSON": '{"@context": ["https://www.w3.org/ns/credentials/v2",',
    "not an object": "[1, 2, 3]",
    "deep nesting": "[" * 10_000 + "]" * 10_000,
    "huge document": '{"a": "' + "x" * 3_000_000 + '"}',
    "duplicate keys": '{"id": "a", "id": "b"}',
    "binary garbage": b"\x00\x01\x02\xff\xfe" * 100,
    "empty": "   ",
    "png bomb": png_with_text_chunk(b"openbadgecredential", b"\x00" * 60_000_000, compressed=True),
    "svg with entities": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg">&b;</svg>'
    ),
    "svg with external reference": (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'
    ),
    "gzip instead of json": gzip.compress(b'{"a": 1}'),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_is_a_failed_check_with_a_reason(name: str) -> None:
    report = verify_credential(HOSTILE[name], offline())
    assert not report.valid
    first = report.failures[0]
    assert first.id == "input"
    assert len(first.message) > 10 and "Traceback" not in first.message


def test_unknown_context_is_refused_without_fetching() -> None:
    document = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
            "https://attacker.example/context.json",
        ],
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
    }
    report = verify_credential(json.dumps(document), offline())
    contexts = report.check("contexts")
    assert contexts is not None and contexts.status is CheckStatus.FAIL
    assert "attacker.example" in contexts.message


def test_undefined_terms_fail_the_contexts_check(sqlite_service: BadgeService) -> None:
    sqlite_service.create_issuer("wijk", "Wijk")
    document = json.loads(sqlite_service.issue("wijk", ACHIEVEMENT, "a@b.org").text)
    document["credentialSubject"]["sneakyUnsignedClaim"] = "trust me"
    report = sqlite_service.verify(json.dumps(document))
    assert report.check("contexts").status is CheckStatus.FAIL
    assert "sneakyUnsignedClaim" in report.check("contexts").message


def test_key_of_someone_else_fails_the_issuer_key_check(sqlite_service: BadgeService) -> None:
    """An attacker signs with their own did:key but names a real https issuer."""
    sqlite_service.create_issuer("echt", "Echte Uitgever")
    genuine = json.loads(sqlite_service.issue("echt", ACHIEVEMENT, "a@b.org").text)
    forged = {k: v for k, v in genuine.items() if k != "proof"}
    private_key = generate_private_key("Ed25519")
    did = did_key_for_ed25519(private_key.public_key())  # type: ignore[arg-type]
    signer = IssuerSigningKey(private_key, did_key_verification_method(did))
    report = sqlite_service.verify(json.dumps(create_proof(forged, signer)))
    assert report.check("proof").status is CheckStatus.PASS  # the maths is fine...
    assert report.check("issuer-key").status is CheckStatus.FAIL  # ...but not the issuer's key
    assert not report.valid


def test_forged_proof_value_and_wrong_cryptosuite(sqlite_service: BadgeService) -> None:
    sqlite_service.create_issuer("f", "F")
    genuine = json.loads(sqlite_service.issue("f", ACHIEVEMENT, "a@b.org").text)
    forged = json.loads(json.dumps(genuine))
    forged["proof"]["proofValue"] = "z" + "1" * 86
    assert sqlite_service.verify(json.dumps(forged)).check("proof").status is CheckStatus.FAIL
    wrong_suite = json.loads(json.dumps(genuine))
    wrong_suite["proof"]["cryptosuite"] = "eddsa-jcs-2022"
    assert sqlite_service.verify(json.dumps(wrong_suite)).check("proof").status is CheckStatus.FAIL
    wrong_purpose = json.loads(json.dumps(genuine))
    wrong_purpose["proof"]["proofPurpose"] = "authentication"
    report = sqlite_service.verify(json.dumps(wrong_purpose))
    assert report.check("proof").status is CheckStatus.FAIL
