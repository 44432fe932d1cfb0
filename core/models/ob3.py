"""Open Badges 3.0 data model (pydantic v2), plus the building blocks the 2.0 model reuses.

Parsing is strict: wrong JSON types are refused (no number-to-string or string-to-bool
coercion), ``type`` must name the class the spec requires, dates are RFC 3339 date-times with a
time zone, and vocabulary properties (``achievementType``, ``identityType``...) take the spec's
values or an ``ext:`` extension value. Unknown properties are kept and written back unchanged:
JSON-LD allows extensions, and the JSON-LD layer elsewhere refuses terms that no context defines.

JSON-LD compaction may write a one-element set as a bare value (``"type": "Profile"``), so the
parser accepts a single value wherever the spec allows several. Serialization follows the OB 3.0
rules: properties with multiplicity [0..*] / [1..*] are written as arrays, nothing is written as
``null``, and optional empty arrays are left out. Dates are kept as the exact text of the input so
that re-serializing a signed credential does not change its canonical form.

Bad input raises :class:`InvalidBadgeData` (an :class:`~core.errors.InvalidInput`) whose message
lists each failing property by its JSON path, e.g. ``$.credentialSubject.result[1].type``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from core.errors import InvalidInput

# --------------------------------------------------------------------------------------------
# Problems and error reporting
# --------------------------------------------------------------------------------------------

#: Most problems listed in one error message (the rest are counted).
MAX_PROBLEMS_SHOWN = 10


@dataclass(frozen=True)
class FieldProblem:
    """One failing property: where it is (JSON path) and what is wrong with it."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class InvalidBadgeData(InvalidInput):
    """A badge document has the wrong shape; ``problems`` lists every failing property."""

    def __init__(self, what: str, problems: Sequence[FieldProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:MAX_PROBLEMS_SHOWN])
        more = len(problems) - MAX_PROBLEMS_SHOWN
        suffix = f" (and {more} more)" if more > 0 else ""
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"Not a valid {what} ({count}): {shown}{suffix}")
        self.what = what
        self.problems = list(problems)


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_@$:\-]+$")


def json_path(segments: Sequence[str | int]) -> str:
    """Render a property path as a JSON path: ``$.credentialSubject.result[1].type``."""
    out = "$"
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        elif _PLAIN_KEY.match(segment):
            out += f".{segment}"
        else:
            out += "[" + repr(segment) + "]"
    return out


def json_kind(value: object) -> str:
    """Name a JSON value's type the way a person reading the document would."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"a string ({shown!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


#: Labels for the two arms of an "embedded object or IRI" union. Pydantic puts them in error
#: locations; they are dropped again when a location is turned into a JSON path.
OBJECT_TAG = "<object>"
IRI_TAG = "<IRI>"
_UNION_LABELS = frozenset({OBJECT_TAG, IRI_TAG})


def _path_of(loc: Sequence[str | int], data: object) -> list[str | int]:
    """Turn a pydantic error location into a path through the input document.

    Union labels are skipped, and so is the index 0 that pydantic adds when a single value was
    accepted in place of an array (the input has no array there, so the path must not either).
    """
    out: list[str | int] = []
    node: object = data
    for segment in loc:
        in_object = isinstance(node, Mapping) and isinstance(segment, str) and segment in node
        in_array = isinstance(node, list) and isinstance(segment, int) and 0 <= segment < len(node)
        if in_object or in_array:
            out.append(segment)
            node = node[segment]  # type: ignore[index]  # checked just above
        elif segment in _UNION_LABELS or (isinstance(segment, int) and node is not None):
            continue
        else:
            out.append(segment)
            node = None
    return out


def _friendly_message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return "is required but missing"
    if kind == "string_type":
        return f"must be a string, not {json_kind(value)}"
    if kind == "bool_type":
        return f"must be true or false, not {json_kind(value)}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be an object, not {json_kind(value)}"
    if kind == "list_type":
        return f"must be an array, not {json_kind(value)}"
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"must be {expected}, not {json_kind(value)}"
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def problems_from_validation_error(exc: ValidationError, data: object) -> list[FieldProblem]:
    """Readable problems (JSON path + message) from a pydantic error, without duplicates."""
    problems: list[FieldProblem] = []
    for error in exc.errors(include_url=False):
        problem = FieldProblem(json_path(_path_of(error["loc"], data)), _friendly_message(error))
        if problem not in problems:
            problems.append(problem)
    return problems


def invalid_value(reason: str) -> PydanticCustomError:
    """The error a validator raises: reported as ``<path>: <reason>``."""
    return PydanticCustomError("badge_value", "{reason}", {"reason": reason})


# --------------------------------------------------------------------------------------------
# Value types shared by the 2.0 and 3.0 models
# --------------------------------------------------------------------------------------------

_RFC3339_DATE_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date_time(text: str) -> datetime:
    """Parse an RFC 3339 date-time that carries a time zone; :class:`InvalidInput` otherwise."""
    match = _RFC3339_DATE_TIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidInput(
            f"{text!r} is not an RFC 3339 date-time with a time zone "
            "(for example 2024-05-01T12:00:00Z)."
        )
    normalised = text.upper().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise InvalidInput(f"{text!r} is not a real date and time.") from exc


def is_rfc3339_date_time(text: object) -> bool:
    """True for an RFC 3339 date-time string with a time zone (used by the schema checker too)."""
    if not isinstance(text, str):
        return True  # not a string: the type check, not the format check, reports it
    try:
        parse_date_time(text)
    except InvalidInput:
        return False
    return True


def is_full_date(text: object) -> bool:
    """True for an RFC 3339 ``full-date`` (YYYY-MM-DD) that names a real day."""
    if not isinstance(text, str):
        return True
    if not _FULL_DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def format_date_time(moment: datetime) -> str:
    """RFC 3339 text for an aware datetime: UTC, whole seconds, ``Z`` suffix."""
    if moment.tzinfo is None:
        raise InvalidInput("A date-time needs a time zone; naive datetimes are refused.")
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _date_time_text(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise invalid_value("must have a time zone (a naive datetime was given)")
        return format_date_time(value)
    if not isinstance(value, str):
        raise invalid_value(f"must be a date-time string, not {json_kind(value)}")
    if not _RFC3339_DATE_TIME.match(value):
        raise invalid_value(
            f"must be an RFC 3339 date-time with a time zone (like 2024-05-01T12:00:00Z), "
            f"not {value!r}"
        )
    try:
        parse_date_time(value)
    except InvalidInput:
        raise invalid_value(f"{value!r} is not a real date and time") from None
    return value


def _full_date_text(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str) or not is_full_date(value):
        raise invalid_value(f"must be a date like 1990-12-31, not {json_kind(value)}")
    return value


#: An RFC 3339 date-time with a time zone, kept as the exact input text (an aware
#: ``datetime`` is accepted when building a model and written as ``...Z``).
DateTimeText = Annotated[str, BeforeValidator(_date_time_text)]
#: A calendar date, ``YYYY-MM-DD``.
DateText = Annotated[str, BeforeValidator(_full_date_text)]

_IRI = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:|_:)\S*$")


def _check_iri(value: str) -> str:
    if not _IRI.match(value):
        raise invalid_value(
            f"must be an absolute IRI (https://..., urn:..., did:..., data:...), not {value!r}"
        )
    return value


#: An absolute IRI (any scheme, including ``did:``, ``urn:`` and ``data:``) or a blank node id.
IRI = Annotated[str, AfterValidator(_check_iri)]


def _number(value: Any) -> int | float:
    # bool is an int in Python but not a number in JSON. ints stay ints: the JSON-LD
    # canonical form of 42 and 42.0 differ, so converting would break signatures.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_value(f"must be a number, not {json_kind(value)}")
    return value


#: A JSON number; integers and decimals are kept as given.
Number = Annotated[int | float, PlainValidator(_number)]


def as_list(value: Any) -> Any:
    """A bare value stands for a one-element set in compacted JSON-LD."""
    return value if isinstance(value, list) else [value]


def unwrap_single(value: Any) -> Any:
    """``["Image"]`` and ``"Image"`` mean the same in JSON-LD; single-valued types take either."""
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _context_list(value: Any) -> list[str | dict[str, Any]]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise invalid_value("must list at least one context")
    for item in items:
        if not isinstance(item, str | dict):
            raise invalid_value(f"entries must be context URLs or objects, not {json_kind(item)}")
    return list(items)


#: ``@context``: URLs and embedded context objects, always written as an array.
ContextList = Annotated[list[str | dict[str, Any]], PlainValidator(_context_list)]


def type_including(*required: str) -> Callable[[list[str]], list[str]]:
    """A check that a ``type`` set names each required class (first the ones always needed)."""

    def check(types: list[str]) -> list[str]:
        missing = [name for name in required if name not in types]
        if missing:
            wanted = " and ".join(repr(name) for name in required)
            raise invalid_value(f"must include {wanted}; found {types!r}")
        return types

    return check


def type_including_any(*choices: str) -> Callable[[list[str]], list[str]]:
    """A check that a ``type`` set names at least one of several classes."""

    def check(types: list[str]) -> list[str]:
        if not any(name in types for name in choices):
            wanted = " or ".join(repr(name) for name in choices)
            raise invalid_value(f"must include {wanted}; found {types!r}")
        return types

    return check


_EXTENSION_TERM = re.compile(r"^ext:[A-Za-z0-9._\-]+$")


def _vocabulary(*allowed: str) -> Callable[[str], str]:
    allowed_set = frozenset(allowed)

    def check(value: str) -> str:
        if value not in allowed_set and not _EXTENSION_TERM.match(value):
            raise invalid_value(
                f"{value!r} is not one of the spec's values and not an 'ext:' value"
            )
        return value

    return check


# --------------------------------------------------------------------------------------------
# Base node: configuration, null refusal, OB serialization rules
# --------------------------------------------------------------------------------------------


def _without_nulls(value: Any) -> Any:
    """Drop ``null`` members of extension data (JSON-LD ignores them), except in contexts,
    where ``"term": null`` is meaningful."""
    if isinstance(value, dict):
        return {
            key: item if key == "@context" else _without_nulls(item)
            for key, item in value.items()
            if item is not None or key == "@context"
        }
    if isinstance(value, list):
        return [_without_nulls(item) for item in value if item is not None]
    return value


class JsonLdNode(BaseModel):
    """Base of every badge class: strict types, extensions kept, OB serialization rules."""

    model_config = ConfigDict(
        strict=True,
        extra="allow",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    #: Properties written even when their array is empty (where the spec requires the array).
    keep_empty_arrays: ClassVar[frozenset[str]] = frozenset()
    #: Properties moved to the end when serializing (declared order is kept otherwise).
    written_last: ClassVar[tuple[str, ...]] = ()

    def __init__(self, /, **data: Any) -> None:
        # Building a model in code reports bad values the same way parsing does.
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = problems_from_validation_error(exc, data)
            raise InvalidBadgeData(type(self).__name__, problems) from None

    # Mark this __init__ as pydantic's own (as pydantic's RootModel does), so that nested
    # validation keeps building sub-models directly and collects every error in one pass.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any) -> Any:
        if value is None:
            raise invalid_value("must not be null (leave the property out instead)")
        return value

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        extras = self.model_extra or {}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key in extras:
                if value is not None:
                    out[key] = _without_nulls(value)
            elif value is None or (value == [] and key not in self.keep_empty_arrays):
                continue
            else:
                out[key] = value
        for key in self.written_last:
            if key in out:
                out[key] = out.pop(key)
        return out


NodeT = TypeVar("NodeT", bound=JsonLdNode)


def parse_node(model: type[NodeT], data: object, *, what: str) -> NodeT:
    """Validate a decoded JSON object as ``model``; :class:`InvalidBadgeData` on any problem.

    Only the JSON property names are accepted here (``validFrom``, never ``valid_from``), so a
    snake_case key in a document stays an unknown extension property.
    """
    if not isinstance(data, dict):
        raise InvalidBadgeData(
            what, [FieldProblem("$", f"must be an object, not {json_kind(data)}")]
        )
    try:
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise InvalidBadgeData(what, problems_from_validation_error(exc, data)) from None


def to_json_ld(model: JsonLdNode) -> dict[str, Any]:
    """Serialize a badge model as a JSON-LD document following the OB serialization rules."""
    result: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return result


def object_or_iri(value: Any) -> str:
    """Which arm of an "embedded object or IRI" union a value belongs to."""
    return OBJECT_TAG if isinstance(value, dict | BaseModel) else IRI_TAG


# --------------------------------------------------------------------------------------------
# Open Badges 3.0 classes
# --------------------------------------------------------------------------------------------

VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
_OB3_CONTEXT = re.compile(
    r"^https://purl\.imsglobal\.org/spec/ob/v3p0/context(?:-3\.\d+\.\d+)?\.json$"
    r"|^https://purl\.imsglobal\.org/spec/ob/v3p0/context/ob_v3p0\.jsonld$"
)

IDENTIFIER_TYPES = (
    "name",
    "sourcedId",
    "systemId",
    "productId",
    "userName",
    "accountId",
    "emailAddress",
    "nationalIdentityNumber",
    "isbn",
    "issn",
    "lisSourcedId",
    "oneRosterSourcedId",
    "sisSourcedId",
    "ltiContextId",
    "ltiDeploymentId",
    "ltiToolId",
    "ltiPlatformId",
    "ltiUserId",
    "identifier",
)
ACHIEVEMENT_TYPES = (
    "Achievement",
    "ApprenticeshipCertificate",
    "Assessment",
    "Assignment",
    "AssociateDegree",
    "Award",
    "Badge",
    "BachelorDegree",
    "Certificate",
    "CertificateOfCompletion",
    "Certification",
    "CommunityService",
    "Competency",
    "Course",
    "CoCurricular",
    "Degree",
    "Diploma",
    "DoctoralDegree",
    "Fieldwork",
    "GeneralEducationDevelopment",
    "JourneymanCertificate",
    "LearningProgram",
    "License",
    "Membership",
    "ProfessionalDoctorate",
    "QualityAssuranceCredential",
    "MasterCertificate",
    "MasterDegree",
    "MicroCredential",
    "ResearchDoctorate",
    "SecondarySchoolDiploma",
)
RESULT_TYPES = (
    "GradePointAverage",
    "LetterGrade",
    "Percent",
    "PerformanceLevel",
    "PredictedScore",
    "RawScore",
    "Result",
    "RubricCriterion",
    "RubricCriterionLevel",
    "RubricScore",
    "ScaledScore",
    "Status",
)
ALIGNMENT_TARGET_TYPES = (
    "ceasn:Competency",
    "ceterms:Credential",
    "CFItem",
    "CFRubric",
    "CFRubricCriterion",
    "CFRubricCriterionLevel",
    "CTDL",
)
RESULT_STATUSES = (
    "Completed",
    "Enrolled",
    "Failed",
    "InProgress",
    "OnHold",
    "Provisional",
    "Withdrew",
)

IdentifierTypeText = Annotated[str, AfterValidator(_vocabulary(*IDENTIFIER_TYPES))]

_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$")


def _check_compact_jws(value: str) -> str:
    if not _COMPACT_JWS.match(value):
        raise invalid_value("must be a compact JWS (three base64url parts separated by dots)")
    return value


CompactJws = Annotated[str, AfterValidator(_check_compact_jws)]
_LANGUAGE_TAG = re.compile(r"^[a-z]{2,4}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$")


def _check_language(value: str) -> str:
    if not _LANGUAGE_TAG.match(value):
        raise invalid_value(f"must be a BCP 47 language tag like 'en' or 'pt-BR', not {value!r}")
    return value


LanguageTag = Annotated[str, AfterValidator(_check_language)]


class Image(JsonLdNode):
    """An image: a URL or data URI (``id``) and an optional caption."""

    id: IRI
    type: Annotated[Literal["Image"], BeforeValidator(unwrap_single)]
    caption: str | None = None


class IdentifierEntry(JsonLdNode):
    """Another identifier of a profile or achievement (``otherIdentifier``)."""

    type: Annotated[Literal["IdentifierEntry"], BeforeValidator(unwrap_single)]
    identifier: str
    identifier_type: IdentifierTypeText


class GeoCoordinates(JsonLdNode):
    """A geographic point."""

    type: Annotated[Literal["GeoCoordinates"], BeforeValidator(unwrap_single)]
    latitude: Number
    longitude: Number


class Address(JsonLdNode):
    """A postal address."""

    type: Annotated[list[str], BeforeValidator(as_list), AfterValidator(type_including("Address"))]
    address_country: str | None = None
    address_country_code: str | None = None
    address_region: str | None = None
    address_locality: str | None = None
    street_address: str | None = None
    post_office_box_number: str | None = None
    postal_code: str | None = None
    geo: GeoCoordinates | None = None


class Profile(JsonLdNode):
    """A person or organization: an issuer, creator, endorser or source."""

    context: ContextList | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[list[str], BeforeValidator(as_list), AfterValidator(type_including("Profile"))]
    name: str | None = None
    url: IRI | None = None
    phone: str | None = None
    description: str | None = None
    endorsement: Annotated[list[EndorsementCredential], BeforeValidator(as_list)] = []
    endorsement_jwt: Annotated[list[CompactJws], BeforeValidator(as_list)] = []
    image: Image | None = None
    email: str | None = None
    address: Address | None = None
    other_identifier: Annotated[list[IdentifierEntry], BeforeValidator(as_list)] = []
    official: str | None = None
    parent_org: Profile | None = None
    family_name: str | None = None
    given_name: str | None = None
    additional_name: str | None = None
    patronymic_name: str | None = None
    honorific_prefix: str | None = None
    honorific_suffix: str | None = None
    family_name_prefix: str | None = None
    date_of_birth: DateText | None = None


#: ``issuer``: an embedded Profile or the Profile's IRI.
ProfileRef = Annotated[
    Union[Annotated[Profile, Tag(OBJECT_TAG)], Annotated[IRI, Tag(IRI_TAG)]],  # noqa: UP007
    Discriminator(object_or_iri),
]


class Alignment(JsonLdNode):
    """An alignment to a competency, standard or framework item."""

    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(type_including("Alignment"))
    ]
    target_code: str | None = None
    target_description: str | None = None
    target_name: str
    target_framework: str | None = None
    target_type: Annotated[str, AfterValidator(_vocabulary(*ALIGNMENT_TARGET_TYPES))] | None = None
    target_url: IRI


class Criteria(JsonLdNode):
    """How the achievement is earned: a page (``id``) and/or a narrative."""

    id: IRI | None = None
    narrative: str | None = None

    @model_validator(mode="after")
    def _id_or_narrative(self) -> Criteria:
        if self.id is None and self.narrative is None:
            raise invalid_value("needs an 'id' or a 'narrative' (or both)")
        return self


class RubricCriterionLevel(JsonLdNode):
    """One level of a rubric criterion."""

    id: IRI
    type: Annotated[
        list[str],
        BeforeValidator(as_list),
        AfterValidator(type_including("RubricCriterionLevel")),
    ]
    alignment: Annotated[list[Alignment], BeforeValidator(as_list)] = []
    description: str | None = None
    level: str | None = None
    name: str
    points: str | None = None


class ResultDescription(JsonLdNode):
    """A kind of result the achievement can carry (a grade, a rubric level...)."""

    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(type_including("ResultDescription"))
    ]
    alignment: Annotated[list[Alignment], BeforeValidator(as_list)] = []
    allowed_value: Annotated[list[str], BeforeValidator(as_list)] = []
    name: str
    required_level: IRI | None = None
    required_value: str | None = None
    result_type: Annotated[str, AfterValidator(_vocabulary(*RESULT_TYPES))]
    rubric_criterion_level: Annotated[list[RubricCriterionLevel], BeforeValidator(as_list)] = []
    value_max: str | None = None
    value_min: str | None = None


class Related(JsonLdNode):
    """Another edition (language, version) of the same achievement."""

    id: IRI
    type: Annotated[list[str], BeforeValidator(as_list), AfterValidator(type_including("Related"))]
    in_language: LanguageTag | None = None
    version: str | None = None


class Achievement(JsonLdNode):
    """What was achieved: the badge definition."""

    context: ContextList | None = Field(default=None, alias="@context")
    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(type_including("Achievement"))
    ]
    alignment: Annotated[list[Alignment], BeforeValidator(as_list)] = []
    achievement_type: Annotated[str, AfterValidator(_vocabulary(*ACHIEVEMENT_TYPES))] | None = None
    creator: Profile | None = None
    credits_available: Number | None = None
    criteria: Criteria
    description: str
    endorsement: Annotated[list[EndorsementCredential], BeforeValidator(as_list)] = []
    endorsement_jwt: Annotated[list[CompactJws], BeforeValidator(as_list)] = []
    field_of_study: str | None = None
    human_code: str | None = None
    image: Image | None = None
    in_language: LanguageTag | None = None
    name: str
    other_identifier: Annotated[list[IdentifierEntry], BeforeValidator(as_list)] = []
    related: Annotated[list[Related], BeforeValidator(as_list)] = []
    result_description: Annotated[list[ResultDescription], BeforeValidator(as_list)] = []
    specialization: str | None = None
    tag: Annotated[list[str], BeforeValidator(as_list)] = []
    version: str | None = None


_IDENTITY_HASH = re.compile(r"^(?:sha256\$[0-9a-fA-F]{64}|md5\$[0-9a-fA-F]{32})$")


class IdentityObject(JsonLdNode):
    """A recipient identifier, in plain text or hashed (``sha256$<hex>`` of identity + salt)."""

    type: Annotated[Literal["IdentityObject"], BeforeValidator(unwrap_single)]
    hashed: bool
    identity_hash: str
    identity_type: IdentifierTypeText
    salt: str | None = None

    @model_validator(mode="after")
    def _hash_format(self) -> IdentityObject:
        if self.hashed and not _IDENTITY_HASH.match(self.identity_hash):
            raise invalid_value(
                "identityHash of a hashed identity must be 'sha256$' + 64 hex digits "
                "(or 'md5$' + 32)"
            )
        return self


class Result(JsonLdNode):
    """A result the recipient earned (a grade, a level, a status)."""

    type: Annotated[list[str], BeforeValidator(as_list), AfterValidator(type_including("Result"))]
    achieved_level: IRI | None = None
    alignment: Annotated[list[Alignment], BeforeValidator(as_list)] = []
    result_description: IRI | None = None
    status: Annotated[str, AfterValidator(_vocabulary(*RESULT_STATUSES))] | None = None
    value: str | None = None


class AchievementSubject(JsonLdNode):
    """The recipient and what they achieved (``credentialSubject`` of an OpenBadgeCredential)."""

    id: IRI | None = None
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(type_including("AchievementSubject"))
    ]
    activity_end_date: DateTimeText | None = None
    activity_start_date: DateTimeText | None = None
    credits_earned: Number | None = None
    achievement: Achievement
    identifier: Annotated[list[IdentityObject], BeforeValidator(as_list)] = []
    image: Image | None = None
    license_number: str | None = None
    narrative: str | None = None
    result: Annotated[list[Result], BeforeValidator(as_list)] = []
    role: str | None = None
    source: Profile | None = None
    term: str | None = None

    @model_validator(mode="after")
    def _id_or_identifier(self) -> AchievementSubject:
        if self.id is None and not self.identifier:
            raise invalid_value("needs an 'id' or at least one 'identifier' for the recipient")
        return self


class Evidence(JsonLdNode):
    """Evidence of the work that earned the achievement."""

    id: IRI | None = None
    type: Annotated[list[str], BeforeValidator(as_list), AfterValidator(type_including("Evidence"))]
    narrative: str | None = None
    name: str | None = None
    description: str | None = None
    genre: str | None = None
    audience: str | None = None


class EndorsementSubject(JsonLdNode):
    """What an endorsement is about (``credentialSubject`` of an EndorsementCredential)."""

    id: IRI
    type: Annotated[
        list[str], BeforeValidator(as_list), AfterValidator(type_including("EndorsementSubject"))
    ]
    endorsement_comment: str | None = None


class CredentialStatus(JsonLdNode):
    """Where to check revocation/suspension; the status method's own properties are extras."""

    id: IRI | None = None
    type: str


class CredentialSchema(JsonLdNode):
    """A JSON Schema the credential claims to follow."""

    id: IRI
    type: str


class RefreshService(JsonLdNode):
    """Where a fresh copy of the credential can be fetched."""

    id: IRI
    type: str


class TermsOfUse(JsonLdNode):
    """Terms of use of the credential."""

    id: IRI | None = None
    type: str


class Proof(JsonLdNode):
    """An embedded proof. Only the common properties are typed; the rest are kept as is."""

    type: str
    created: DateTimeText | None = None
    cryptosuite: str | None = None
    challenge: str | None = None
    domain: str | None = None
    nonce: str | None = None
    proof_purpose: str | None = None
    proof_value: str | None = None
    verification_method: str | None = None


def _check_credential_context(contexts: list[str | dict[str, Any]]) -> None:
    if contexts[0] not in (VC_V2_CONTEXT, VC_V1_CONTEXT):
        raise invalid_value(
            f"the first context must be {VC_V2_CONTEXT} (or {VC_V1_CONTEXT} for VC 1.1 "
            f"credentials), not {contexts[0]!r}"
        )
    if not any(isinstance(c, str) and _OB3_CONTEXT.match(c) for c in contexts):
        raise invalid_value(
            "must include the Open Badges 3.0 context "
            "(https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json)"
        )


class VerifiableCredentialBase(JsonLdNode):
    """Properties every OB 3.0 credential shares (VC 2.0 and VC 1.1 dates both accepted)."""

    context: ContextList = Field(alias="@context")
    id: IRI
    type: list[str]
    name: str | None = None
    description: str | None = None
    image: Image | None = None
    awarded_date: DateTimeText | None = None
    issuer: ProfileRef
    valid_from: DateTimeText | None = None
    valid_until: DateTimeText | None = None
    issuance_date: DateTimeText | None = None
    expiration_date: DateTimeText | None = None
    credential_schema: Annotated[list[CredentialSchema], BeforeValidator(as_list)] = []
    credential_status: CredentialStatus | None = None
    refresh_service: RefreshService | None = None
    terms_of_use: Annotated[list[TermsOfUse], BeforeValidator(as_list)] = []
    proof: Annotated[list[Proof], BeforeValidator(as_list)] = []

    written_last: ClassVar[tuple[str, ...]] = ("proof",)

    @field_validator("context")
    @classmethod
    def _contexts(cls, contexts: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        _check_credential_context(contexts)
        return contexts

    @model_validator(mode="after")
    def _dates_match_vc_version(self) -> VerifiableCredentialBase:
        if self.is_vc_v2:
            if self.issuance_date is not None or self.expiration_date is not None:
                raise invalid_value(
                    "issuanceDate/expirationDate are VC 1.1 properties; a VC 2.0 credential "
                    "uses validFrom/validUntil"
                )
            if self.valid_from is None:
                raise invalid_value("validFrom is required (the date the credential takes effect)")
        elif self.issuance_date is None:
            raise invalid_value("issuanceDate is required in a VC 1.1 credential")
        return self

    @property
    def is_vc_v2(self) -> bool:
        """True for a VC 2.0 credential (first context ``https://www.w3.org/ns/credentials/v2``)."""
        return self.context[0] == VC_V2_CONTEXT

    @property
    def issuer_id(self) -> str:
        """The issuer's IRI, whether the Profile is embedded or referenced."""
        return self.issuer if isinstance(self.issuer, str) else self.issuer.id

    @property
    def valid_from_datetime(self) -> datetime:
        """When the credential takes effect (``validFrom``, or ``issuanceDate`` in VC 1.1)."""
        text = self.valid_from if self.is_vc_v2 else (self.valid_from or self.issuance_date)
        assert text is not None  # guaranteed by _dates_match_vc_version
        return parse_date_time(text)

    @property
    def valid_until_datetime(self) -> datetime | None:
        """When the credential stops being valid (``validUntil``/``expirationDate``), if ever."""
        text = self.valid_until or self.expiration_date
        return None if text is None else parse_date_time(text)


class OpenBadgeCredential(VerifiableCredentialBase):
    """An OB 3.0 credential (``AchievementCredential`` is the same class under another name)."""

    type: Annotated[
        list[str],
        BeforeValidator(as_list),
        AfterValidator(type_including("VerifiableCredential")),
        AfterValidator(type_including_any("OpenBadgeCredential", "AchievementCredential")),
    ]
    credential_subject: AchievementSubject
    endorsement: Annotated[list[EndorsementCredential], BeforeValidator(as_list)] = []
    endorsement_jwt: Annotated[list[CompactJws], BeforeValidator(as_list)] = []
    evidence: Annotated[list[Evidence], BeforeValidator(as_list)] = []


#: The spec's other name for :class:`OpenBadgeCredential`.
AchievementCredential = OpenBadgeCredential


class EndorsementCredential(VerifiableCredentialBase):
    """A third party's endorsement of a profile, achievement or credential."""

    type: Annotated[
        list[str],
        BeforeValidator(as_list),
        AfterValidator(type_including("VerifiableCredential", "EndorsementCredential")),
    ]
    name: str
    credential_subject: EndorsementSubject


# Profile and Achievement refer to EndorsementCredential, defined after them.
Profile.model_rebuild()
Achievement.model_rebuild()
AchievementSubject.model_rebuild()
OpenBadgeCredential.model_rebuild()
EndorsementCredential.model_rebuild()


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def parse_ob3_credential(data: object) -> OpenBadgeCredential:
    """Parse a decoded OB 3.0 OpenBadgeCredential/AchievementCredential (a JSON object).

    Raises :class:`InvalidBadgeData` naming every failing property path.
    """
    return parse_node(OpenBadgeCredential, data, what="Open Badges 3.0 credential")


def parse_endorsement_credential(data: object) -> EndorsementCredential:
    """Parse a decoded OB 3.0 EndorsementCredential."""
    return parse_node(EndorsementCredential, data, what="Open Badges 3.0 endorsement")


def parse_ob3_document(data: object) -> OpenBadgeCredential | EndorsementCredential:
    """Parse an OB 3.0 credential of either kind, chosen by its ``type``."""
    types = as_list(data.get("type")) if isinstance(data, dict) else []
    if "EndorsementCredential" in types:
        return parse_endorsement_credential(data)
    return parse_ob3_credential(data)


def parse_ob3_profile(data: object) -> Profile:
    """Parse a decoded OB 3.0 Profile (an issuer profile document)."""
    return parse_node(Profile, data, what="Open Badges 3.0 profile")


def parse_ob3_achievement(data: object) -> Achievement:
    """Parse a decoded OB 3.0 Achievement."""
    return parse_node(Achievement, data, what="Open Badges 3.0 achievement")
