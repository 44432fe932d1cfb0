"""W3C Data Integrity proofs with Ed25519 (vc-di-eddsa): issuing and verifying.

Issued: ``DataIntegrityProof`` with cryptosuite ``eddsa-rdfc-2022`` (RDFC-1.0 canonical
N-Quads) or ``eddsa-jcs-2022`` (JSON Canonicalization Scheme).

Verified, additionally: the legacy cryptosuite name ``eddsa-2022`` (same algorithm as
``eddsa-rdfc-2022``, used with VC v1 + the data-integrity/v1 context) and ``Ed25519Signature2020``
(same hashing; the proof's @context is the document's).

For every suite the signed data is ``SHA-256(canonical proof configuration) ‖
SHA-256(canonical document without proof)``, where the proof configuration is the proof without
``proofValue`` and with the document's ``@context``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from core.errors import BadgeBridgeError, InvalidInput, ProofProblem, UndefinedTerms
from core.jsonld import ContextMap, canonicalize, check_terms
from core.key_resolution import KeyResolver, Signer
from core.multiformats import multibase_decode, multibase_encode

DATA_INTEGRITY_PROOF: Final = "DataIntegrityProof"
ED25519_SIGNATURE_2020: Final = "Ed25519Signature2020"
EDDSA_RDFC_2022: Final = "eddsa-rdfc-2022"
EDDSA_JCS_2022: Final = "eddsa-jcs-2022"
#: Pre-Recommendation name of eddsa-rdfc-2022, still found in Open Badges 3.0 credentials.
EDDSA_2022_LEGACY: Final = "eddsa-2022"

#: Cryptosuites :func:`create_proof` issues.
ISSUED_CRYPTOSUITES: Final = (EDDSA_RDFC_2022, EDDSA_JCS_2022)
_RDFC_SUITES: Final = frozenset({EDDSA_RDFC_2022, EDDSA_2022_LEGACY})
_VERIFIED_SUITES: Final = frozenset({EDDSA_RDFC_2022, EDDSA_JCS_2022, EDDSA_2022_LEGACY})

# XML Schema dateTimeStamp (a date-time with a timezone), as Data Integrity requires.
_DATE_TIME_STAMP: Final = re.compile(
    r"^(-?\d{4,})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class ProofVerification:
    """The outcome of verifying a credential's Data Integrity proof (or proof set).

    ``ok`` is true when at least one supported proof verifies; the other fields then describe
    that proof. When none verifies they describe the first supported proof that was tried.
    ``message`` says, in words, what was verified or why it failed.
    """

    ok: bool
    message: str
    cryptosuite: str | None = None
    verification_method: str | None = None
    controller: str | None = None
    proof_purpose: str | None = None
    created: datetime | None = None
    proof_type: str | None = None


class _ProofFailure(Exception):
    """One proof did not verify; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------
# Issuing
# --------------------------------------------------------------------------------------------


def create_proof(
    document: dict[str, Any],
    signer: Signer,
    *,
    cryptosuite: str = EDDSA_RDFC_2022,
    created: datetime | None = None,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    extra_contexts: ContextMap | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` secured with a new Data Integrity proof (``document`` is
    not changed). If it already has proofs, the new one joins them as a proof set (it signs
    the document without them). ``proof_id`` gives the proof an ``id`` (a URL or URN).

    Raises :class:`UndefinedTerms` if the document uses terms its contexts do not define (they
    would not be signed), :class:`UnknownContext`, :class:`InvalidInput` for a malformed
    document, and :class:`ProofProblem` for an unsupported cryptosuite or signer.
    """
    if cryptosuite not in ISSUED_CRYPTOSUITES:
        raise ProofProblem(
            f"Cannot issue cryptosuite {cryptosuite!r}; supported: {', '.join(ISSUED_CRYPTOSUITES)}."
        )
    if signer.algorithm != "Ed25519":
        raise ProofProblem(
            f"{cryptosuite} needs an Ed25519 key; this signer uses {signer.algorithm}."
        )
    if not isinstance(document, dict):
        raise InvalidInput("Only a JSON object can be signed.")
    secured = _json_copy(document)
    existing = secured.pop("proof", None)
    unsecured = secured

    config: dict[str, Any] = {"type": DATA_INTEGRITY_PROOF}
    if proof_id is not None:
        config["id"] = proof_id
    config |= {
        "cryptosuite": cryptosuite,
        "created": _format_created(created),
        "verificationMethod": signer.verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in unsecured:
        config["@context"] = copy.deepcopy(unsecured["@context"])

    if cryptosuite == EDDSA_JCS_2022:
        # JCS signs the JSON as is, but the credential is still read as JSON-LD: refuse terms
        # a JSON-LD reader would drop.
        check_terms(unsecured, extra_contexts=extra_contexts)
        data = _jcs_hash(config) + _jcs_hash(unsecured)
    else:
        try:
            proof_canonical = canonicalize(config, extra_contexts=extra_contexts)
        except UndefinedTerms as exc:
            raise ProofProblem(
                "The document's @context does not define the Data Integrity proof terms ("
                + ", ".join(exc.terms)
                + "). VC 2.0 credentials define them; VC 1.1 credentials need "
                "https://w3id.org/security/data-integrity/v2 in @context."
            ) from exc
        document_canonical = canonicalize(unsecured, extra_contexts=extra_contexts)
        data = _sha256(proof_canonical) + _sha256(document_canonical)

    signature = signer.sign(data)
    if len(signature) != 64:
        raise ProofProblem("The signer did not return a 64-byte Ed25519 signature.")

    proof = dict(config)
    if cryptosuite != EDDSA_JCS_2022:
        # eddsa-rdfc-2022 proofs carry no @context of their own (the document's applies);
        # eddsa-jcs-2022 keeps it, as the W3C test vectors do.
        proof.pop("@context", None)
    proof["proofValue"] = multibase_encode(signature, "z")

    if existing is None:
        secured["proof"] = proof
    else:
        secured["proof"] = [*_as_list(existing), proof]
    return secured


def _format_created(created: datetime | None) -> str:
    moment = created if created is not None else datetime.now(UTC)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ProofProblem("The proof's created time must carry a timezone.")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# Verifying
# --------------------------------------------------------------------------------------------


def verify_proof(
    document: dict[str, Any],
    resolver: KeyResolver,
    *,
    expected_purpose: str = "assertionMethod",
    extra_contexts: ContextMap | None = None,
) -> ProofVerification:
    """Verify the Data Integrity proof(s) of ``document``.

    Valid when at least one supported proof verifies; proofs of unknown types are skipped and
    named in the message. Never raises for a bad credential: the result says what is wrong.
    """
    if not isinstance(document, dict):
        return ProofVerification(False, "The credential is not a JSON object.")
    raw_proofs = document.get("proof")
    if raw_proofs is None or raw_proofs == []:
        return ProofVerification(False, "The credential has no proof: it is not signed.")
    proofs = _as_list(raw_proofs)

    skipped: list[str] = []
    failures: list[tuple[ProofVerification, str]] = []
    for index, proof in enumerate(proofs, start=1):
        label = f"proof {index}" if len(proofs) > 1 else "the proof"
        if not isinstance(proof, dict):
            skipped.append(f"{label} is not a JSON object")
            continue
        proof_type = proof.get("type")
        suite = proof.get("cryptosuite")
        if (
            proof_type == DATA_INTEGRITY_PROOF
            and isinstance(suite, str)
            and suite in _VERIFIED_SUITES
        ):
            suite_name = suite
        elif proof_type == ED25519_SIGNATURE_2020:
            suite_name = ED25519_SIGNATURE_2020
        else:
            if proof_type == DATA_INTEGRITY_PROOF:
                skipped.append(f"{label} uses the unsupported cryptosuite {suite!r}")
            else:
                skipped.append(f"{label} has the unsupported type {proof_type!r}")
            continue
        outcome = _verify_one(
            document, proof, proofs, suite_name, resolver, expected_purpose, extra_contexts
        )
        if outcome.ok:
            message = outcome.message
            others = [f"{failure[1]}: {failure[0].message}" for failure in failures]
            if skipped:
                others.append("skipped " + "; ".join(skipped))
            if others:
                message += " (other proofs: " + "; ".join(others) + ")"
            return _with_message(outcome, message)
        failures.append((outcome, label))

    if not failures:
        return ProofVerification(False, "No supported proof to verify: " + "; ".join(skipped) + ".")
    first = failures[0][0]
    if len(proofs) == 1:
        return first
    parts = [f"{lbl}: {failure.message}" for failure, lbl in failures]
    if skipped:
        parts.append("skipped " + "; ".join(skipped))
    return _with_message(
        first, "No proof verifies. " + " ".join(p.rstrip(".") + "." for p in parts)
    )


def _with_message(result: ProofVerification, message: str) -> ProofVerification:
    return replace(result, message=message)


def _verify_one(
    document: dict[str, Any],
    proof: dict[str, Any],
    all_proofs: list[Any],
    suite: str,
    resolver: KeyResolver,
    expected_purpose: str,
    extra_contexts: ContextMap | None,
) -> ProofVerification:
    method = proof.get("verificationMethod")
    purpose = proof.get("proofPurpose")
    base = {
        "cryptosuite": suite,
        "verification_method": method if isinstance(method, str) else None,
        "proof_purpose": purpose if isinstance(purpose, str) else None,
        "proof_type": str(proof.get("type")),
    }
    created: datetime | None = None
    controller: str | None = None
    try:
        if not isinstance(purpose, str):
            raise _ProofFailure("The proof has no proofPurpose.")
        if purpose != expected_purpose:
            raise _ProofFailure(
                f"The proof's purpose is {purpose!r}, but {expected_purpose!r} is required."
            )
        created = _parse_proof_time(proof, "created")
        expires = _parse_proof_time(proof, "expires")
        if expires is not None and expires < datetime.now(UTC):
            raise _ProofFailure(f"The proof expired on {proof['expires']}.")
        if not isinstance(method, str) or not method:
            raise _ProofFailure("The proof names no verificationMethod.")
        signature = _decode_proof_value(proof.get("proofValue"))

        data = _signed_data(document, proof, all_proofs, suite, extra_contexts)

        try:
            key = resolver.resolve(method)
        except BadgeBridgeError as exc:
            raise _ProofFailure(
                f"The verification method {method} cannot be resolved: {exc.message}"
            ) from exc
        controller = key.controller
        if purpose not in key.purposes:
            raise _ProofFailure(
                f"The key {method} is not listed for {purpose} by its controller {key.controller}."
            )
        if not isinstance(key.public_key, Ed25519PublicKey):
            raise _ProofFailure(f"The key {method} is not an Ed25519 key, as {suite} requires.")
        try:
            key.public_key.verify(signature, data)
        except InvalidSignature as exc:
            raise _ProofFailure(
                "The signature does not match: the credential or its proof was changed after "
                "signing, or another key signed it."
            ) from exc
    except _ProofFailure as failure:
        return ProofVerification(
            ok=False, message=failure.message, created=created, controller=controller, **base
        )
    except BadgeBridgeError as exc:
        return ProofVerification(
            ok=False,
            message=f"Cannot verify: {exc.message}",
            created=created,
            controller=controller,
            **base,
        )
    return ProofVerification(
        ok=True,
        message=f"Valid {suite} signature by {method} (controller {controller}).",
        created=created,
        controller=controller,
        **base,
    )


def _parse_proof_time(proof: dict[str, Any], name: str) -> datetime | None:
    value = proof.get(name)
    if value is None:
        return None
    parsed = _parse_date_time_stamp(value)
    if parsed is None:
        raise _ProofFailure(
            f"The proof's {name} value {value!r} is not a date-time with a timezone "
            "(like 2024-05-01T12:00:00Z)."
        )
    return parsed


def _parse_date_time_stamp(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    match = _DATE_TIME_STAMP.match(value)
    if match is None:
        return None
    text = value
    fraction = match.group(7)
    if fraction and len(fraction) > 7:  # Python reads at most 6 fractional digits
        text = value.replace(fraction, fraction[:7], 1)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _decode_proof_value(value: Any) -> bytes:
    if not isinstance(value, str) or not value:
        raise _ProofFailure("The proof has no proofValue.")
    if not value.startswith("z"):
        raise _ProofFailure("The proofValue is not base58btc multibase (it must start with 'z').")
    try:
        signature = multibase_decode(value)
    except InvalidInput as exc:
        raise _ProofFailure("The proofValue is not valid base58btc.") from exc
    if len(signature) != 64:
        raise _ProofFailure(
            f"The proofValue holds {len(signature)} bytes; an Ed25519 signature has 64."
        )
    return signature


def _signed_data(
    document: dict[str, Any],
    proof: dict[str, Any],
    all_proofs: list[Any],
    suite: str,
    extra_contexts: ContextMap | None,
) -> bytes:
    """The bytes the proof's signature covers (proof hash ‖ document hash)."""
    unsecured = {key: value for key, value in document.items() if key != "proof"}

    # Proof chains: a proof with previousProof also signed the proofs it names.
    previous = proof.get("previousProof")
    if previous is not None:
        wanted = _as_list(previous)
        if not wanted or not all(isinstance(ref, str) for ref in wanted):
            raise _ProofFailure("The proof's previousProof must name proof ids.")
        by_id = {
            p["id"]: p for p in all_proofs if isinstance(p, dict) and isinstance(p.get("id"), str)
        }
        missing = [ref for ref in wanted if ref not in by_id]
        if missing:
            raise _ProofFailure(
                f"The proof's previousProof {missing[0]!r} is not in the credential."
            )
        unsecured["proof"] = [by_id[ref] for ref in wanted]

    config = {key: value for key, value in proof.items() if key != "proofValue"}
    if suite == ED25519_SIGNATURE_2020:
        # jsonld-signatures: the proof's own @context if it has one, else the document's.
        if "@context" not in config and "@context" in unsecured:
            config["@context"] = unsecured["@context"]
    elif "@context" in proof:
        # vc-di-eddsa: a proof's own @context must be the start of the document's.
        proof_contexts = _as_list(proof["@context"])
        document_contexts = _as_list(document.get("@context"))
        if document_contexts[: len(proof_contexts)] != proof_contexts:
            raise _ProofFailure("The proof's @context does not match the credential's @context.")
        unsecured["@context"] = proof["@context"]
    if suite != ED25519_SIGNATURE_2020 and "@context" in unsecured:
        config["@context"] = unsecured["@context"]

    if suite == EDDSA_JCS_2022:
        check_terms(unsecured, extra_contexts=extra_contexts)
        return _jcs_hash(config) + _jcs_hash(unsecured)
    try:
        proof_canonical = canonicalize(config, extra_contexts=extra_contexts)
    except UndefinedTerms as exc:
        raise _ProofFailure(
            "The proof uses terms the credential's @context does not define: "
            + ", ".join(exc.terms)
            + "."
        ) from exc
    return _sha256(proof_canonical) + _sha256(
        canonicalize(unsecured, extra_contexts=extra_contexts)
    )


# --------------------------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------------------------


def _sha256(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _jcs_hash(value: Any) -> bytes:
    try:
        canonical = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInput(f"The JSON cannot be canonicalized (JCS): {exc}") from exc
    return hashlib.sha256(canonical).digest()


def _json_copy(document: Mapping[str, Any]) -> dict[str, Any]:
    try:
        copied: dict[str, Any] = json.loads(json.dumps(document, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"The document is not plain JSON: {exc}") from exc
    return copied


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
