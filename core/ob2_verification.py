"""Verifying Open Badges 2.0 assertions: hosted (fetched from their id) and signed (JWS).

Follows the 2.0 verification rules:

* **Hosted**: the copy served at the assertion's ``id`` is authoritative. A presented copy
  (e.g. from a baked image) must equal it; the ``id`` must be on an origin the issuer allows
  (``verification.allowedOrigins`` / ``startsWith`` on the issuer profile; by default the host
  of the issuer's id). ``revoked: true`` on the hosted copy means revoked.
* **Signed**: a compact JWS (RS256) whose payload is the assertion. ``verification.creator``
  names a ``CryptographicKey`` document (``publicKeyPem``); the key's ``owner`` must be the
  issuer, and the issuer profile must list the key in ``publicKey`` (the two-way link the spec
  asks for; without it anyone could publish a key claiming to belong to any issuer).
  Revocation comes from the issuer's ``revocationList``.

Everything is fetched through a :class:`~core.fetching.Fetcher`. A bad badge never raises: the
report carries a failed check with a readable message. Checks, in order: ``json``,
``hosted_copy`` (hosted only), ``properties``, ``badge_class``, ``issuer``, ``verification``,
``revocation``, ``dates``, ``recipient``. A check whose inputs are missing because an earlier
one failed is reported as skipped.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from core.errors import BadgeBridgeError, InvalidInput
from core.fetching import Fetcher
from core.json_input import parse_json, parse_json_object
from core.limits import MAX_CREDENTIAL_BYTES
from core.recipient import recipient_matches
from core.report import VerificationReport

HOSTED_FORMAT = "ob2-hosted"
SIGNED_FORMAT = "ob2-signed"

#: The Open Badges 2.0 context URL and its published alias.
OB2_CONTEXTS = frozenset(
    {"https://w3id.org/openbadges/v2", "https://openbadgespec.org/v2/context.json"}
)
_OBI = "https://w3id.org/openbadges#"
_HOSTED_TYPES = frozenset({"hosted", "HostedBadge", _OBI + "HostedBadge"})
_SIGNED_TYPES = frozenset({"signed", "SignedBadge", _OBI + "SignedBadge"})
_JSON_ACCEPT = "application/ld+json, application/json"
#: Smallest RSA modulus accepted for a signing key.
MIN_RSA_BITS = 2048
#: Tolerated clock difference between issuer and verifier for ``issuedOn``.
CLOCK_SKEW = timedelta(minutes=5)

_JWS_COMPACT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$")

_TITLES = {
    "json": "Readable assertion",
    "hosted_copy": "Hosted copy from the issuer",
    "properties": "Required properties",
    "badge_class": "Badge class",
    "issuer": "Issuer profile",
    "verification": "Verification",
    "revocation": "Not revoked",
    "dates": "Dates",
    "recipient": "Recipient",
}


class _StepFailed(BadgeBridgeError):
    """A check cannot pass; its message goes into the report."""


# --------------------------------------------------------------------------- small readers


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _types_of(node: Mapping[str, Any]) -> list[str]:
    return [t for t in _as_list(node.get("type")) if isinstance(t, str)]


def _has_type(node: Mapping[str, Any], *names: str) -> bool:
    wanted = set(names) | {_OBI + n for n in names}
    return any(t in wanted for t in _types_of(node))


def _id_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _is_http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _host_of(url: str) -> str:
    """Host and port, lower-cased: what ``allowedOrigins`` entries name."""
    return urlsplit(url).netloc.lower().rpartition("@")[2]


def _verification_of(node: Mapping[str, Any]) -> Any:
    # The 2.0 context defines "verify" as an alias of "verification" (1.x wording).
    return node.get("verification", node.get("verify"))


def _verification_type(node: Mapping[str, Any]) -> str | None:
    verification = _verification_of(node)
    if isinstance(verification, Mapping) and isinstance(verification.get("type"), str):
        return str(verification["type"])
    return None


def parse_ob2_datetime(value: Any) -> datetime | None:
    """An OB 2.0 DateTime (ISO 8601) as an aware datetime; no timezone means UTC.
    ``None`` when the value is not such a string."""
    if not isinstance(value, str) or not re.match(r"^\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _b64url_decode(part: str) -> bytes:
    try:
        return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("The JWS is not valid base64url.") from exc


# --------------------------------------------------------------------------- the run


@dataclass
class _Run:
    fetcher: Fetcher
    now: datetime
    report: VerificationReport
    jws_text: str | None = None
    jws_header: dict[str, Any] | None = None
    presented: dict[str, Any] | None = None  # the copy the caller gave us (hosted)
    assertion: dict[str, Any] | None = None  # the authoritative copy
    hosted_ok: bool = False
    badge_class: dict[str, Any] | None = None
    issuer: dict[str, Any] | None = None
    issuer_ids: set[str] = field(default_factory=set)
    issuer_fetched_from: str | None = None
    hosted_url: str | None = None  # when the input was the assertion's URL

    # ---- report helpers

    def passed(self, check: str, message: str) -> None:
        self.report.passed(check, _TITLES[check], message)

    def failed(self, check: str, message: str) -> None:
        self.report.failed(check, _TITLES[check], message)

    def warned(self, check: str, message: str) -> None:
        self.report.warned(check, _TITLES[check], message)

    def skipped(self, check: str, message: str) -> None:
        self.report.skipped(check, _TITLES[check], message)

    # ---- fetching

    def fetch_object(self, url: Any, what: str) -> dict[str, Any]:
        """Fetch a JSON object or raise :class:`_StepFailed` naming ``what`` and the URL."""
        if not _is_http_url(url):
            raise _StepFailed(f"The {what} reference {url!r} is not an http(s) URL to fetch.")
        try:
            fetched = self.fetcher.fetch(url, accept=_JSON_ACCEPT)
        except BadgeBridgeError as exc:
            raise _StepFailed(f"Could not fetch the {what} from {url}: {exc.message}") from exc
        try:
            return parse_json_object(fetched.body)
        except InvalidInput as exc:
            raise _StepFailed(f"The {what} at {url} is not a JSON object: {exc.message}") from exc


def verify_ob2(
    badge: Mapping[str, Any] | str | bytes,
    *,
    fetcher: Fetcher,
    recipient: str | None = None,
    now: datetime | None = None,
) -> VerificationReport:
    """Verify an Open Badges 2.0 assertion and report every check.

    ``badge`` is an assertion object (hosted: re-fetched from its ``id``), its JSON text, the
    assertion's URL, or a compact JWS (a signed assertion). ``recipient`` (e.g. an email
    address) is compared with the assertion's possibly hashed recipient when given. ``now``
    defaults to the current time (UTC when naive).

    Never raises for a bad badge or a failed fetch: ``report.valid`` is False and the failed
    check says why. ``report.format`` is ``"ob2-hosted"`` or ``"ob2-signed"``;
    ``report.credential`` is the authoritative assertion when one could be read.
    """
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    run = _Run(fetcher=fetcher, now=moment, report=VerificationReport(format=HOSTED_FORMAT))

    if not _read_input(run, badge):
        _skip_rest(run, "json", "the assertion could not be read")
        return run.report
    if run.jws_text is None:
        if run.report.format == SIGNED_FORMAT:
            # Decoded JSON of a signed assertion: nothing to fetch; the signature check fails.
            run.assertion = run.presented
        else:
            _load_hosted_copy(run)
    assertion = run.assertion
    if assertion is None:
        _skip_rest(run, "hosted_copy", "the assertion could not be read")
        return run.report
    run.report.credential = assertion
    if run.jws_text is None and _verification_type(assertion) in _SIGNED_TYPES:
        run.report.format = SIGNED_FORMAT

    _check_properties(run, assertion)
    _check_badge_class(run, assertion)
    _check_issuer(run)
    if run.report.format == SIGNED_FORMAT:
        _check_signature(run, assertion)
    else:
        _check_hosted_origin(run, assertion)
    _check_revocation(run, assertion)
    _check_dates(run, assertion)
    _check_recipient(run, assertion, recipient)
    return run.report


def _skip_rest(run: _Run, after: str, reason: str) -> None:
    order = list(_TITLES)
    for check in order[order.index(after) + 1 :]:
        if check == "hosted_copy" and run.report.format == SIGNED_FORMAT:
            continue
        run.skipped(check, f"Not checked: {reason}.")


# --------------------------------------------------------------------------- input


def _read_input(run: _Run, badge: Any) -> bool:
    """Classify and parse the input; sets the presented copy, the JWS or the hosted URL."""
    if isinstance(badge, Mapping):
        run.presented = dict(badge)
        if _verification_type(run.presented) in _SIGNED_TYPES:
            run.report.format = SIGNED_FORMAT
        run.passed("json", "The assertion is a JSON object.")
        return True
    if isinstance(badge, bytes | bytearray):
        try:
            badge = bytes(badge).decode("utf-8-sig")
        except UnicodeDecodeError:
            run.failed("json", "The input is not UTF-8 text, so it is not an assertion.")
            return False
    if not isinstance(badge, str):
        run.failed(
            "json",
            f"Expected an assertion (JSON object, JSON text, URL or compact JWS), got "
            f"{type(badge).__name__}.",
        )
        return False
    text = badge.strip()
    if len(text.encode("utf-8")) > MAX_CREDENTIAL_BYTES:
        run.failed("json", f"The input is too large (limit {MAX_CREDENTIAL_BYTES:,} bytes).")
        return False
    if _is_http_url(text):
        run.passed("json", f"An assertion URL: {text}.")
        run.hosted_url = text
        return True
    if _JWS_COMPACT.match(text):
        run.report.format = SIGNED_FORMAT
        return _read_jws(run, text)
    try:
        value = parse_json(text)
    except InvalidInput as exc:
        run.failed("json", exc.message)
        return False
    if not isinstance(value, dict):
        run.failed(
            "json", f"An assertion must be a JSON object, but this is a {type(value).__name__}."
        )
        return False
    run.presented = value
    if _verification_type(value) in _SIGNED_TYPES:
        run.report.format = SIGNED_FORMAT
    run.passed("json", "The assertion is a JSON object.")
    return True


def _read_jws(run: _Run, text: str) -> bool:
    header_part, payload_part, _signature = text.split(".")
    try:
        header = parse_json_object(_b64url_decode(header_part))
        payload = parse_json_object(_b64url_decode(payload_part))
    except InvalidInput as exc:
        run.failed("json", f"Not a readable compact JWS: {exc.message}")
        return False
    run.jws_text = text
    run.jws_header = header
    run.assertion = payload
    run.passed("json", "A compact JWS whose payload is a JSON object.")
    return True


# --------------------------------------------------------------------------- hosted copy


def _load_hosted_copy(run: _Run) -> None:
    presented = run.presented
    if presented is None:
        url: Any = run.hosted_url
    else:
        url = presented.get("id")
        if not _is_http_url(url):
            verification = _verification_of(presented)
            # Open Badges 1.x put the hosted URL in verify.url.
            if isinstance(verification, Mapping) and _is_http_url(verification.get("url")):
                url = verification.get("url")
    if not _is_http_url(url):
        run.failed(
            "hosted_copy",
            "A hosted assertion must have an http(s) id where the issuer hosts it; this one "
            f"has {presented.get('id') if presented else url!r}.",
        )
        run.assertion = presented
        return
    try:
        hosted = run.fetch_object(url, "hosted assertion")
        note = ""
        hosted_id = hosted.get("id")
        if hosted_id != url:
            if presented is None and _is_http_url(hosted_id):
                # 2.0: the id is the canonical location; follow it once and use that copy.
                canonical = run.fetch_object(hosted_id, "hosted assertion")
                if canonical.get("id") != hosted_id:
                    raise _StepFailed(
                        f"The assertion at {hosted_id} has id {canonical.get('id')!r}: a hosted "
                        "assertion's id must be the URL it is hosted at."
                    )
                note = (
                    f" It was requested from {url}, but its id is {hosted_id}; the copy hosted "
                    "there was used."
                )
                url, hosted = hosted_id, canonical
            else:
                raise _StepFailed(
                    f"The assertion hosted at {url} has id {hosted_id!r}: a hosted assertion's "
                    "id must be the URL it is hosted at."
                )
    except _StepFailed as exc:
        run.failed("hosted_copy", exc.message)
        run.assertion = presented
        return

    if presented is not None and presented != hosted:
        differing = sorted(
            key for key in set(presented) | set(hosted) if presented.get(key) != hosted.get(key)
        )
        run.failed(
            "hosted_copy",
            f"The assertion given differs from the copy the issuer hosts at {url} "
            f"(in {', '.join(differing[:10])}); the hosted copy is authoritative.",
        )
        run.assertion = hosted
        run.hosted_ok = True
        return
    run.assertion = hosted
    run.hosted_ok = True
    message = f"Fetched the authoritative copy from its id {url}.{note}"
    if note:
        run.warned("hosted_copy", message)
    else:
        run.passed("hosted_copy", message)


# --------------------------------------------------------------------------- properties


def _check_properties(run: _Run, assertion: dict[str, Any]) -> None:
    problems: list[str] = []
    contexts = _as_list(assertion.get("@context"))
    if not any(c in OB2_CONTEXTS for c in contexts if isinstance(c, str)):
        problems.append("@context does not include the Open Badges 2.0 context")
    if not _has_type(assertion, "Assertion"):
        problems.append(f"type is {assertion.get('type')!r}, not 'Assertion'")
    if not isinstance(assertion.get("id"), str) or ":" not in assertion["id"]:
        problems.append("id is missing or not an IRI")
    recipient = assertion.get("recipient")
    if not isinstance(recipient, Mapping):
        problems.append("recipient is missing or not an object")
    else:
        if not isinstance(recipient.get("identity"), str) or not recipient["identity"].strip():
            problems.append("recipient.identity is missing or not a string")
        if not isinstance(recipient.get("type"), str):
            problems.append("recipient.type is missing or not a string")
        if not isinstance(recipient.get("hashed"), bool):
            problems.append("recipient.hashed is missing or not true/false")
        if "salt" in recipient and not isinstance(recipient["salt"], str):
            problems.append("recipient.salt is not a string")
    badge = assertion.get("badge")
    if not isinstance(badge, str | Mapping):
        problems.append("badge is missing or neither an IRI nor an object")
    verification = _verification_of(assertion)
    if not isinstance(verification, Mapping) or not isinstance(verification.get("type"), str):
        problems.append("verification is missing or has no type")
    if parse_ob2_datetime(assertion.get("issuedOn")) is None:
        problems.append("issuedOn is missing or not an ISO 8601 date-time")
    if "expires" in assertion and parse_ob2_datetime(assertion.get("expires")) is None:
        problems.append("expires is not an ISO 8601 date-time")
    if problems:
        text = "; ".join(problems)
        run.failed("properties", text[0].upper() + text[1:] + ".")
    else:
        run.passed("properties", "An Open Badges 2.0 Assertion with all required properties.")


# --------------------------------------------------------------------------- badge class, issuer


def _check_fetched_id(
    node: Mapping[str, Any], fetched_from: str, what: str
) -> tuple[bool, str | None]:
    """(ok, warning): a fetched node's id may differ from its URL only on the same host, or
    be a non-http IRI; an http id on another host would let one site speak for another."""
    node_id = node.get("id")
    if node_id == fetched_from:
        return True, None
    if _is_http_url(node_id) and _host_of(str(node_id)) != _host_of(fetched_from):
        return False, (
            f"The {what} fetched from {fetched_from} claims the id {node_id}, on another host: "
            "one site cannot speak for another."
        )
    return True, f"Its id {node_id!r} is not the URL it was fetched from."


def _check_badge_class(run: _Run, assertion: dict[str, Any]) -> None:
    badge = assertion.get("badge")
    warning: str | None = None
    if isinstance(badge, Mapping):
        node = dict(badge)
        where = "embedded in the assertion"
    elif isinstance(badge, str):
        try:
            node = run.fetch_object(badge, "badge class")
        except _StepFailed as exc:
            run.failed("badge_class", exc.message)
            return
        ok, warning = _check_fetched_id(node, badge, "badge class")
        if not ok:
            run.failed("badge_class", warning or "")
            return
        where = f"fetched from {badge}"
    else:
        run.skipped("badge_class", "Not checked: the assertion names no badge class.")
        return
    problems = []
    if not _has_type(node, "BadgeClass"):
        problems.append(f"its type is {node.get('type')!r}, not 'BadgeClass'")
    if not isinstance(node.get("issuer"), str | Mapping):
        problems.append("it names no issuer")
    if not isinstance(node.get("name"), str):
        problems.append("it has no name")
    if problems:
        run.failed("badge_class", f"The badge class {where} is not valid: {'; '.join(problems)}.")
        return
    run.badge_class = node
    message = f"BadgeClass {node.get('name')!r} {where}."
    if warning:
        run.warned("badge_class", f"{message} {warning}")
    else:
        run.passed("badge_class", message)


def _check_issuer(run: _Run) -> None:
    if run.badge_class is None:
        run.skipped("issuer", "Not checked: the badge class could not be read.")
        return
    reference = run.badge_class.get("issuer")
    warning: str | None = None
    if isinstance(reference, Mapping):
        node = dict(reference)
        where = "embedded in the badge class"
    else:
        try:
            node = run.fetch_object(reference, "issuer profile")
        except _StepFailed as exc:
            run.failed("issuer", exc.message)
            return
        ok, warning = _check_fetched_id(node, str(reference), "issuer profile")
        if not ok:
            run.failed("issuer", warning or "")
            return
        run.issuer_fetched_from = str(reference)
        run.issuer_ids.add(str(reference))
        where = f"fetched from {reference}"
    if not _has_type(node, "Issuer", "Profile"):
        run.failed(
            "issuer",
            f"The issuer {where} has type {node.get('type')!r}, not 'Issuer' or 'Profile'.",
        )
        return
    if isinstance(node.get("id"), str):
        run.issuer_ids.add(node["id"])
    if not run.issuer_ids:
        run.failed("issuer", f"The issuer {where} has no id.")
        return
    run.issuer = node
    message = f"Issuer {node.get('name')!r} {where}."
    if warning:
        run.warned("issuer", f"{message} {warning}")
    else:
        run.passed("issuer", message)


# --------------------------------------------------------------------------- hosted verification


def _check_hosted_origin(run: _Run, assertion: dict[str, Any]) -> None:
    check = "verification"
    declared = _verification_type(assertion)
    if declared not in _HOSTED_TYPES:
        run.failed(
            check,
            f"The assertion declares verification type {declared!r}; hosted verification needs "
            "'hosted' (signed assertions must be given as their JWS).",
        )
        return
    if not run.hosted_ok:
        run.skipped(check, "Not checked: the issuer's hosted copy could not be confirmed.")
        return
    if run.issuer is None:
        run.skipped(check, "Not checked: the issuer profile could not be read.")
        return
    assertion_id = str(assertion.get("id"))
    policy = run.issuer.get("verification")
    if policy is not None and not isinstance(policy, Mapping):
        run.failed(check, "The issuer's verification policy is not an object.")
        return
    policy = policy or {}
    prop = policy.get("verificationProperty", "id")
    if prop != "id":
        run.failed(check, f"Unsupported verificationProperty {prop!r} (only 'id' is defined).")
        return

    starts_with = [s for s in _as_list(policy.get("startsWith")) if isinstance(s, str)]
    allowed = [
        o.strip().lower() for o in _as_list(policy.get("allowedOrigins")) if isinstance(o, str)
    ]
    if not starts_with and not allowed:
        # Default policy: the assertion must be on the host of the issuer's id.
        issuer_id = run.issuer.get("id")
        base = issuer_id if _is_http_url(issuer_id) else run.issuer_fetched_from
        if base is None:
            run.failed(
                check,
                "The issuer has no http(s) id and no verification policy, so no origin is "
                "allowed to host its assertions.",
            )
            return
        allowed = [_host_of(str(base))]
    problems = []
    host = _host_of(assertion_id)
    if allowed and host not in allowed:
        problems.append(
            f"its host {host!r} is not among the issuer's allowed origins ({', '.join(allowed)})"
        )
    if starts_with and not any(assertion_id.startswith(prefix) for prefix in starts_with):
        problems.append(
            f"it does not start with any of the issuer's prefixes ({', '.join(starts_with)})"
        )
    if problems:
        run.failed(
            check,
            f"The assertion id {assertion_id} is not hosted where the issuer allows: {'; '.join(problems)}.",
        )
        return
    run.passed(check, f"Hosted at {assertion_id}, an origin the issuer allows.")


# --------------------------------------------------------------------------- signed verification


@dataclass(frozen=True)
class _KeyCandidate:
    id: str
    embedded: Mapping[str, Any] | None  # the key object when the issuer embeds it


def _issuer_keys(issuer: Mapping[str, Any]) -> list[_KeyCandidate]:
    keys = []
    for entry in _as_list(issuer.get("publicKey")):
        key_id = _id_of(entry)
        if key_id:
            keys.append(_KeyCandidate(key_id, entry if isinstance(entry, Mapping) else None))
    return keys


def _load_rsa_key(run: _Run, candidate: _KeyCandidate) -> RSAKey:
    """The key's public RSA key after the ownership checks, or raise :class:`_StepFailed`."""
    if candidate.embedded is not None and "publicKeyPem" in candidate.embedded:
        document: Mapping[str, Any] = candidate.embedded
        owner = document.get("owner")
        if owner is not None and (not isinstance(owner, str) or owner not in run.issuer_ids):
            raise _StepFailed(f"The key {candidate.id} is owned by {owner!r}, not by the issuer.")
    else:
        document = run.fetch_object(candidate.id, "signing key")
        owner = document.get("owner")
        if not isinstance(owner, str) or owner not in run.issuer_ids:
            raise _StepFailed(
                f"The key {candidate.id} is owned by {owner!r}, not by the issuer "
                f"({', '.join(sorted(run.issuer_ids))})."
            )
    pem = document.get("publicKeyPem")
    if not isinstance(pem, str):
        raise _StepFailed(f"The key {candidate.id} has no publicKeyPem.")
    try:
        key = RSAKey.import_key(pem)
    except (JoseError, ValueError, TypeError) as exc:
        raise _StepFailed(f"The key {candidate.id} is not a readable RSA public key.") from exc
    if key.is_private:
        raise _StepFailed(
            f"The key document {candidate.id} publishes a private key: anyone could have "
            "signed with it."
        )
    bits = key.raw_value.key_size
    if bits < MIN_RSA_BITS:
        raise _StepFailed(
            f"The key {candidate.id} is a {bits}-bit RSA key; at least {MIN_RSA_BITS} bits are "
            "required."
        )
    return key


def _check_signature(run: _Run, assertion: dict[str, Any]) -> None:
    check = "verification"
    run.report.format = SIGNED_FORMAT
    if run.jws_text is None or run.jws_header is None:
        run.failed(
            check,
            "A signed assertion is verified from its compact JWS; only the decoded JSON was given.",
        )
        return
    declared = _verification_type(assertion)
    if declared not in _SIGNED_TYPES:
        run.failed(check, f"The JWS payload declares verification type {declared!r}, not 'signed'.")
        return
    alg = run.jws_header.get("alg")
    if alg != "RS256":
        run.failed(
            check,
            f"The JWS uses algorithm {alg!r}; Open Badges 2.0 signed assertions must use RS256.",
        )
        return
    if run.issuer is None:
        run.skipped(check, "Not checked: the issuer profile (which must list the key) is missing.")
        return
    listed = _issuer_keys(run.issuer)
    verification = _verification_of(assertion)
    creator = verification.get("creator") if isinstance(verification, Mapping) else None
    if creator is not None:
        if not isinstance(creator, str):
            run.failed(check, "verification.creator is not a key IRI.")
            return
        matching = [k for k in listed if k.id == creator]
        if not matching:
            run.failed(
                check,
                f"The signing key {creator} is not listed in the issuer's publicKey, so it "
                "cannot be shown to belong to the issuer.",
            )
            return
        candidates = matching[:1]
    else:
        # 2.0: without a creator, verifiers try the keys the issuer declares.
        candidates = listed
        if not candidates:
            run.failed(check, "The assertion names no signing key and the issuer lists none.")
            return

    reasons = []
    for candidate in candidates:
        try:
            key = _load_rsa_key(run, candidate)
        except _StepFailed as exc:
            reasons.append(exc.message)
            continue
        try:
            jws.deserialize_compact(run.jws_text, key, algorithms=["RS256"])
        except (JoseError, ValueError):
            reasons.append(f"The signature does not verify with the key {candidate.id}.")
            continue
        run.passed(check, f"RS256 signature verified with the issuer's key {candidate.id}.")
        return
    run.failed(check, " ".join(reasons))


# --------------------------------------------------------------------------- revocation


def _check_revocation(run: _Run, assertion: dict[str, Any]) -> None:
    check = "revocation"
    if run.report.format == HOSTED_FORMAT:
        if not run.hosted_ok:
            run.skipped(check, "Not checked: the issuer's hosted copy could not be read.")
            return
        revoked = assertion.get("revoked", False)
        if revoked is True:
            reason = assertion.get("revocationReason")
            run.failed(
                check,
                "The issuer has revoked this assertion"
                + (f" (reason given: {reason})." if isinstance(reason, str) and reason else "."),
            )
        elif revoked is False:
            run.passed(check, "The issuer's hosted copy is not marked revoked.")
        else:
            run.failed(check, f"'revoked' must be true or false, not {revoked!r}.")
        return

    if run.issuer is None:
        run.skipped(check, "Not checked: the issuer profile could not be read.")
        return
    reference = run.issuer.get("revocationList")
    if reference is None:
        run.passed(check, "The issuer publishes no revocation list.")
        return
    if isinstance(reference, Mapping):
        revocation_list: dict[str, Any] = dict(reference)
        where = "embedded in the issuer profile"
    else:
        try:
            revocation_list = run.fetch_object(reference, "revocation list")
        except _StepFailed as exc:
            run.failed(check, exc.message)
            return
        where = f"at {reference}"
    if not _has_type(revocation_list, "RevocationList"):
        run.failed(check, f"The revocation list {where} is not of type RevocationList.")
        return
    entries = _as_list(revocation_list.get("revokedAssertions"))
    assertion_id = assertion.get("id")
    for entry in entries:
        if _id_of(entry) == assertion_id:
            reason = entry.get("revocationReason") if isinstance(entry, Mapping) else None
            run.failed(
                check,
                f"The issuer's revocation list {where} revokes this assertion"
                + (f" (reason given: {reason})." if isinstance(reason, str) and reason else "."),
            )
            return
    run.passed(check, f"Not on the issuer's revocation list {where} ({len(entries)} entries).")


# --------------------------------------------------------------------------- dates, recipient


def _check_dates(run: _Run, assertion: dict[str, Any]) -> None:
    check = "dates"
    issued = parse_ob2_datetime(assertion.get("issuedOn"))
    expires = parse_ob2_datetime(assertion.get("expires"))
    if issued is None:
        run.skipped(check, "Not checked: issuedOn is missing or unreadable.")
        return
    problems = []
    if issued > run.now + CLOCK_SKEW:
        problems.append(f"it is issued in the future ({issued.isoformat()})")
    if expires is not None:
        if expires <= run.now:
            problems.append(f"it expired on {expires.isoformat()}")
        if expires < issued:
            problems.append(
                f"it expires ({expires.isoformat()}) before it was issued ({issued.isoformat()})"
            )
    if problems:
        run.failed(check, "The assertion is not currently valid: " + "; ".join(problems) + ".")
        return
    until = f", expires {expires.isoformat()}" if expires else ", does not expire"
    run.passed(check, f"Issued {issued.isoformat()}{until}.")


def _check_recipient(run: _Run, assertion: dict[str, Any], candidate: str | None) -> None:
    check = "recipient"
    if candidate is None:
        run.skipped(check, "No recipient identity was given to compare.")
        return
    recipient = assertion.get("recipient")
    if not isinstance(recipient, Mapping):
        run.failed(check, "The assertion has no readable recipient to compare with.")
        return
    try:
        matches = recipient_matches(recipient, candidate)
    except InvalidInput as exc:
        run.failed(check, exc.message)
        return
    kind = "hashed " if recipient.get("hashed") is True else ""
    if matches:
        run.passed(check, f"The {kind}recipient identity matches {candidate.strip()!r}.")
    else:
        run.failed(check, f"The badge was not awarded to {candidate.strip()!r}.")


__all__ = [
    "HOSTED_FORMAT",
    "OB2_CONTEXTS",
    "SIGNED_FORMAT",
    "parse_ob2_datetime",
    "verify_ob2",
]
