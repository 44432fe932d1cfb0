"""Open Badges 2.0 data model (pydantic v2): Assertion, BadgeClass, Profile (Issuer) and the
objects they embed, plus RevocationList, CryptographicKey and Endorsement.

OB 2.0 links badge objects together: ``badge``, ``issuer``, ``image``, ``criteria``,
``evidence``, ``endorsement`` and ``publicKey`` may each hold an embedded object or the IRI where
that object is published; the models accept both (an IRI stays a ``str``). Parsing is strict in
the same way as the 3.0 models (:mod:`core.models.ob3`): wrong JSON types are refused, ``type``
must name the expected class, dates are ISO 8601 strings with a time zone, and unknown properties
(extensions) are kept.

Serialization (:func:`core.models.ob3.to_json_ld`) writes multi-valued properties as arrays,
leaves out nulls and empty optional arrays, and writes a single ``type`` as a plain string, the
form OB 2.0 consumers expect.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    field_serializer,
    model_validator,
)

from core.errors import InvalidInput
from core.models.ob3 import (
    IRI,
    IRI_TAG,
    OBJECT_TAG,
    FieldProblem,
    InvalidBadgeData,
    JsonLdNode,
    NodeT,
    as_list,
    format_date_time,
    invalid_value,
    json_kind,
    object_or_iri,
    parse_node,
    unwrap_single,
)

#: Context URLs of Open Badges 2.0 (the second is an alias of the first).
OB2_CONTEXTS = frozenset(
    {"https://w3id.org/openbadges/v2", "https://openbadgespec.org/v2/context.json"}
)
_OBI = "https://w3id.org/openbadges#"


# ISO 8601 as OB 2.0 uses it: date, "T", hours and minutes, optional seconds and fraction,
# and a time zone designator (Z, +hh:mm, +hhmm or +hh). Unix timestamps were OB 1.x only.
_ISO8601_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$"
)


def parse_ob2_date_time(text: str) -> datetime:
    """Parse an OB 2.0 DateTime (ISO 8601 with a time zone); :class:`InvalidInput` otherwise."""
    if not isinstance(text, str) or not _ISO8601_DATE_TIME.match(text):
        raise InvalidInput(
            f"{text!r} is not an ISO 8601 date-time with a time zone "
            "(for example 2016-12-31T23:59:59+00:00)."
        )
    normalised = text[:-1] + "+00:00" if text.endswith("Z") else text
    try:
        return datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a real date and time.") from exc


def _ob2_date_time_text(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise invalid_value("must have a time zone (a naive datetime was given)")
        return format_date_time(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise invalid_value(
            "must be an ISO 8601 date-time string with a time zone; "
            "Unix timestamps are Open Badges 1.x only"
        )
    if not isinstance(value, str):
        raise invalid_value(f"must be a date-time string, not {json_kind(value)}")
    try:
        parse_ob2_date_time(value)
    except InvalidInput:
        raise invalid_value(
            f"must be an ISO 8601 date-time with a time zone (like 2016-12-31T23:59:59Z), "
            f"not {value!r}"
        ) from None
    return value


#: An OB 2.0 DateTime, kept as the exact input text.
Ob2DateTimeText = Annotated[str, BeforeValidator(_ob2_date_time_text)]


def _string_or_number(value: Any) -> str | int | float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise invalid_value(f"must be a string or a number, not {json_kind(value)}")
    return value


def _types_including(*choices: str) -> Any:
    def check(types: list[str]) -> list[str]:
        accepted = set(choices) | {_OBI + name for name in choices}
        if not accepted & set(types):
            wanted = " or ".join(repr(name) for name in choices)
            raise invalid_value(f"must include {wanted}; found {types!r}")
        return types

    return check


def _single_as_written(values: list[Any]) -> Any:
    """A one-element set as its element, the form OB 2.0 documents use."""
    return values[0] if len(values) == 1 else values


class Ob2Node(JsonLdNode):
    """Base of the OB 2.0 classes: a lone ``type`` or ``@context`` is written as a plain string,
    the form OB 2.0 consumers expect (JSON-LD reads both forms the same)."""

    @field_serializer("type", check_fields=False)
    def _write_type(self, types: list[str]) -> str | list[str]:
        written: str | list[str] = _single_as_written(types)
        return written

    @field_serializer("context", check_fields=False)
    def _write_context(
        self, contexts: list[str | dict[str, Any]] | None
    ) -> list[str | dict[str, Any]] | str | dict[str, Any] | None:
        return None if contexts is None else _single_as_written(contexts)


def _check_ob2_context(contexts: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
    # An inline context object may define the OB terms itself (the JSON-LD layer judges it);
    # a list of URLs alone must include the OB 2.0 context.
    if not any(isinstance(c, dict) or c in OB2_CONTEXTS for c in contexts):
        raise invalid_value(
            "must include the Open Badges 2.0 context https://w3id.org/openbadges/v2, "
            f"found {contexts!r}"
        )
    return contexts


def _ob2_context_list(value: Any) -> list[str | dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    for item in items:
        if not isinstance(item, str | dict):
            raise invalid_value(f"entries must be context URLs or objects, not {json_kind(item)}")
    return _check_ob2_context(list(items))


Ob2Context = Annotated[list[str | dict[str, Any]], PlainValidator(_ob2_context_list)]


class Image(Ob2Node):
    """An image described by an object (usually it is just an IRI or data URI)."""

    id: IRI
    type: Annotated[list[str], BeforeValidator(as_list)] = []
    caption: str | None = None
    author: IRI | None = None


ImageRef = Annotated[
    Union[Annotated[Image, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class Criteria(Ob2Node):
    """How the badge is earned: a page (``id``) and/or a narrative."""

    id: IRI | None = None
    type: Annotated[list[str], BeforeValidator(as_list)] = []
    narrative: str | None = None


CriteriaRef = Annotated[
    Union[Annotated[Criteria, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class Evidence(Ob2Node):
    """Evidence of the recipient's work."""

    id: IRI | None = None
    type: Annotated[list[str], BeforeValidator(as_list)] = []
    narrative: str | None = None
    name: str | None = None
    description: str | None = None
    genre: str | None = None
    audience: str | None = None


EvidenceRef = Annotated[
    Union[Annotated[Evidence, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class AlignmentObject(Ob2Node):
    """An educational standard or competency the badge aligns to (schema.org AlignmentObject)."""

    type: Annotated[list[str], BeforeValidator(as_list)] = []
    target_name: str
    target_url: IRI
    target_description: str | None = None
    target_framework: str | None = None
    target_code: str | None = None


_RECIPIENT_PROPERTIES = frozenset({"email", "url", "telephone", "id"})
_IDENTITY_HASH = re.compile(r"^(?:sha256\$[0-9a-fA-F]{64}|md5\$[0-9a-fA-F]{32})$")


def _check_recipient_type(value: str) -> str:
    # Any property IRI is allowed; bare words must be one of the profile identifier properties.
    if value not in _RECIPIENT_PROPERTIES and ":" not in value:
        raise invalid_value(
            f"must be 'email', 'url', 'telephone', 'id' or a property IRI, not {value!r}"
        )
    return value


class IdentityObject(JsonLdNode):
    """The recipient: an email, URL, telephone or id, in plain text or hashed.

    ``hashed`` is optional here because the spec's own examples omit it; absent means false.
    """

    type: Annotated[str, BeforeValidator(unwrap_single), AfterValidator(_check_recipient_type)]
    identity: str
    hashed: bool | None = None
    salt: str | None = None

    @model_validator(mode="after")
    def _hash_format(self) -> IdentityObject:
        if self.hashed and not _IDENTITY_HASH.match(self.identity):
            raise invalid_value(
                "identity of a hashed recipient must be 'sha256$' + 64 hex digits (or 'md5$' + 32)"
            )
        return self


_HOSTED = frozenset({"hosted", "HostedBadge", _OBI + "HostedBadge"})
_SIGNED = frozenset({"signed", "SignedBadge", _OBI + "SignedBadge"})


class VerificationObject(Ob2Node):
    """How to verify: ``hosted`` or ``signed`` in an Assertion, the allowed scope in a Profile."""

    type: Annotated[list[str], BeforeValidator(as_list)] = []
    verification_property: str | None = None
    starts_with: Annotated[list[str], BeforeValidator(as_list)] = []
    allowed_origins: Annotated[list[str], BeforeValidator(as_list)] = []
    creator: IRI | None = None

    @property
    def method(self) -> Literal["hosted", "signed"] | None:
        """``hosted`` or ``signed`` for an Assertion's verification, else None."""
        if _HOSTED & set(self.type):
            return "hosted"
        if _SIGNED & set(self.type):
            return "signed"
        return None


class CryptographicKey(Ob2Node):
    """A public key an issuer signs assertions with."""

    context: Ob2Context | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(_types_including("CryptographicKey"))
    ]
    owner: IRI | None = None
    public_key_pem: str | None = None


KeyRef = Annotated[
    Union[Annotated[CryptographicKey, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class Profile(Ob2Node):
    """An issuer, endorser or recipient profile (``type`` Issuer or Profile)."""

    context: Ob2Context | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(_types_including("Issuer", "Profile"))
    ]
    name: str | None = None
    url: IRI | None = None
    telephone: str | None = None
    description: str | None = None
    image: ImageRef | None = None
    email: str | None = None
    public_key: Annotated[list[KeyRef], BeforeValidator(as_list)] = []
    verification: VerificationObject | None = None
    revocation_list: IRI | None = None
    endorsement: Annotated[list[EndorsementRef], BeforeValidator(as_list)] = []
    related: Annotated[list[RelatedRef], BeforeValidator(as_list)] = []

    def issuer_problems(self) -> list[str]:
        """What an issuer Profile lacks: the spec requires name, url and email of issuers."""
        return [name for name in ("name", "url", "email") if getattr(self, name) is None]


ProfileRef = Annotated[
    Union[Annotated[Profile, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class RelatedNode(Ob2Node):
    """Another edition of the same object (``related``), given as an object with an id."""

    id: IRI
    type: Annotated[list[str], BeforeValidator(as_list)] = []


RelatedRef = Annotated[
    Union[Annotated[RelatedNode, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class EndorsementClaim(Ob2Node):
    """The endorsed entity (by id) and what the endorser claims about it."""

    id: IRI
    endorsement_comment: str | None = None


class Endorsement(Ob2Node):
    """A claim by a third party about a Profile, BadgeClass or Assertion."""

    context: Ob2Context | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(_types_including("Endorsement"))
    ]
    claim: EndorsementClaim
    issuer: ProfileRef
    issued_on: Ob2DateTimeText
    verification: VerificationObject


EndorsementRef = Annotated[
    Union[Annotated[Endorsement, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class BadgeClass(Ob2Node):
    """The badge definition: name, description, image, criteria and issuer."""

    context: Ob2Context | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(_types_including("BadgeClass"))
    ]
    name: str
    description: str
    # The spec's table marks image as required, but the 1EdTech validator's own valid samples
    # (badge-class-with-language.json, rdf-validation/valid-badge-class.json) omit it.
    image: ImageRef | None = None
    criteria: CriteriaRef
    issuer: ProfileRef
    alignment: Annotated[list[AlignmentObject], BeforeValidator(as_list)] = []
    tags: Annotated[list[str], BeforeValidator(as_list)] = []
    endorsement: Annotated[list[EndorsementRef], BeforeValidator(as_list)] = []
    related: Annotated[list[RelatedRef], BeforeValidator(as_list)] = []
    version: Annotated[str | int | float, PlainValidator(_string_or_number)] | None = None

    @model_validator(mode="after")
    def _embedded_issuer_complete(self) -> BadgeClass:
        if isinstance(self.issuer, Profile) and (missing := self.issuer.issuer_problems()):
            raise invalid_value("the embedded issuer Profile lacks " + ", ".join(missing))
        return self


class Assertion(Ob2Node):
    """An awarded badge: who received which BadgeClass, when, and how to verify it.

    A revoked Assertion may be stripped down to ``id`` and ``revoked``; otherwise recipient,
    badge, verification and issuedOn are required.
    """

    context: Ob2Context | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(_types_including("Assertion"))
    ]
    recipient: IdentityObject | None = None
    badge: BadgeClassRef | None = None
    verification: VerificationObject | None = None
    issued_on: Ob2DateTimeText | None = None
    image: ImageRef | None = None
    evidence: Annotated[list[EvidenceRef], BeforeValidator(as_list)] = []
    narrative: str | None = None
    expires: Ob2DateTimeText | None = None
    revoked: bool | None = None
    revocation_reason: str | None = None
    endorsement: Annotated[list[EndorsementRef], BeforeValidator(as_list)] = []
    related: Annotated[list[RelatedRef], BeforeValidator(as_list)] = []

    @model_validator(mode="after")
    def _required_unless_revoked(self) -> Assertion:
        if self.revoked:
            return self
        missing = [
            alias
            for alias, value in (
                ("recipient", self.recipient),
                ("badge", self.badge),
                ("verification", self.verification),
                ("issuedOn", self.issued_on),
            )
            if value is None
        ]
        if missing:
            raise invalid_value("lacks " + ", ".join(missing) + " (required unless revoked)")
        if self.verification is not None and self.verification.method is None:
            raise invalid_value(
                "verification.type must be 'hosted' (HostedBadge) or 'signed' (SignedBadge), "
                f"found {self.verification.type!r}"
            )
        return self

    @property
    def issued_on_datetime(self) -> datetime | None:
        """``issuedOn`` as an aware datetime."""
        return None if self.issued_on is None else parse_ob2_date_time(self.issued_on)

    @property
    def expires_datetime(self) -> datetime | None:
        """``expires`` as an aware datetime, if the badge expires."""
        return None if self.expires is None else parse_ob2_date_time(self.expires)


BadgeClassRef = Annotated[
    Union[Annotated[BadgeClass, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class RevokedAssertion(Ob2Node):
    """An entry of a RevocationList given as an object (by ``id`` or legacy ``uid``)."""

    id: IRI | None = None
    uid: str | None = None
    type: Annotated[list[str], BeforeValidator(as_list)] = []
    revoked: bool | None = None
    revocation_reason: str | None = None

    @model_validator(mode="after")
    def _identified(self) -> RevokedAssertion:
        if self.id is None and self.uid is None:
            raise invalid_value("needs an 'id' (or a legacy 'uid') naming the revoked assertion")
        return self


RevokedAssertionRef = Annotated[
    Union[Annotated[RevokedAssertion, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class RevocationList(Ob2Node):
    """An issuer's list of revoked signed assertions."""

    context: Ob2Context | None = Field(default=None, alias="@context")
    id: IRI | None = None
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(_types_including("RevocationList"))
    ]
    issuer: IRI | None = None
    revoked_assertions: Annotated[list[RevokedAssertionRef], BeforeValidator(as_list)]

    # An empty list is meaningful ("nothing revoked") and the property is required.
    keep_empty_arrays: ClassVar[frozenset[str]] = frozenset({"revokedAssertions"})

    def revocation_reason_for(self, assertion_id: str) -> str | None:
        """The reason ``assertion_id`` is revoked ("" when no reason is given), or None."""
        for entry in self.revoked_assertions:
            if entry == assertion_id:
                return ""
            if isinstance(entry, RevokedAssertion) and entry.id == assertion_id:
                return entry.revocation_reason or ""
        return None


for _model in (Profile, Endorsement, BadgeClass, Assertion, RevocationList):
    _model.model_rebuild()


def _parse_top_level(model: type[NodeT], data: object, what: str) -> NodeT:
    """Parse a published badge object, which must carry its own ``@context``."""
    problems = []
    if isinstance(data, dict) and "@context" not in data:
        problems.append(FieldProblem("$.@context", "is required (https://w3id.org/openbadges/v2)"))
    try:
        parsed = parse_node(model, data, what=what)
    except InvalidBadgeData as exc:
        raise InvalidBadgeData(what, problems + exc.problems) from None
    if problems:
        raise InvalidBadgeData(what, problems)
    return parsed


def parse_ob2_assertion(data: object) -> Assertion:
    """Parse a decoded OB 2.0 Assertion (the JSON object, or a signed badge's JWS payload)."""
    return _parse_top_level(Assertion, data, "Open Badges 2.0 assertion")


def parse_ob2_badge_class(data: object) -> BadgeClass:
    """Parse a decoded OB 2.0 BadgeClass."""
    return _parse_top_level(BadgeClass, data, "Open Badges 2.0 badge class")


def parse_ob2_issuer(data: object) -> Profile:
    """Parse a decoded OB 2.0 issuer Profile (name, url and email are required of issuers)."""
    what = "Open Badges 2.0 issuer profile"
    profile = _parse_top_level(Profile, data, what)
    missing = profile.issuer_problems()
    if missing:
        raise InvalidBadgeData(
            what, [FieldProblem(f"$.{name}", "is required of an issuer") for name in missing]
        )
    return profile


def parse_ob2_revocation_list(data: object) -> RevocationList:
    """Parse a decoded OB 2.0 RevocationList."""
    return _parse_top_level(RevocationList, data, "Open Badges 2.0 revocation list")


def parse_ob2_cryptographic_key(data: object) -> CryptographicKey:
    """Parse a decoded OB 2.0 CryptographicKey document."""
    return _parse_top_level(CryptographicKey, data, "Open Badges 2.0 key")


def parse_ob2_endorsement(data: object) -> Endorsement:
    """Parse a decoded OB 2.0 Endorsement."""
    return _parse_top_level(Endorsement, data, "Open Badges 2.0 endorsement")
