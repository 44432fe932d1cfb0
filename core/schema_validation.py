"""Checking OB 3.0 documents against the bundled 1EdTech JSON Schemas (draft 2019-09).

The bundled schemas (``core/schemas/ob3/``) are the "JSON-LD" flavour 1EdTech publishes next to
the formal ones: they also accept the compacted forms JSON-LD allows (a single value where the
formal schema wants an array). Two adjustments are made when they are loaded, both documented
where they happen:

* A lone string ``type`` must be the required class name. The published JSON-LD flavour
  accepts *any* string there (``"type": "InvalidEvidence"`` passes), which the formal schema and
  the spec do not allow.
* VC 1.1 credentials (first context ``https://www.w3.org/2018/credentials/v1``) are checked as
  their VC 2.0 equivalents: the 3.0.3 schemas only know VC 2.0, whose ``validFrom`` /
  ``validUntil`` replace ``issuanceDate`` / ``expirationDate``. Problems are reported with the
  document's own property names.

``$ref``s are resolved only inside the bundled files: the registry has no retrieval function,
so nothing is ever fetched. Validators are compiled once and cached.

Each credential is checked against the schema its ``type`` calls for, and against every schema
its ``credentialSchema`` lists; a listed schema that is not bundled is reported as a problem,
because it cannot be checked (it is never fetched).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# jsonschema ships no type information and types-jsonschema is not a dependency.
from jsonschema import Draft201909Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from core.models.ob3 import (
    VC_V1_CONTEXT,
    VC_V2_CONTEXT,
    is_full_date,
    is_rfc3339_date_time,
    json_kind,
    json_path,
)

ACHIEVEMENT_CREDENTIAL_SCHEMA = "ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_CREDENTIAL_SCHEMA = "ob_v3p0_endorsementcredential_schema.json"
PROFILE_SCHEMA = "ob_v3p0_profile_schema.json"

_SCHEMA_URL_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/schema/"
# The URLs a credential may cite in credentialSchema for each bundled schema. 1EdTech publishes
# a formal (json/) and a JSON-LD (json-ld/) flavour, and the $id inside the files disagrees with
# the published URLs (see the standards MANIFEST); every spelling maps to the bundled file.
_SCHEMA_FILES_BY_URL = {
    f"{_SCHEMA_URL_PREFIX}{flavour}/ob_v3p0_{name}{suffix}": f"ob_v3p0_{name}_schema.json"
    for name in ("achievementcredential", "endorsementcredential", "profile")
    for flavour in ("json", "json-ld")
    for suffix in ("_schema.json", "-jsonschema1.json")
}

#: Most problems returned for one document (a badly broken one can produce hundreds).
MAX_SCHEMA_PROBLEMS = 50


@dataclass(frozen=True)
class SchemaProblem:
    """One schema violation: the JSON path of the offending value and a readable message."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _load_schema(filename: str) -> dict[str, Any]:
    text = resources.files("core").joinpath("schemas", "ob3", filename).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _required_classes(array_branch: Mapping[str, Any]) -> list[set[str]] | None:
    """The class sets an array-form ``type`` schema demands (one set per ``contains``)."""
    parts = array_branch.get("allOf", [array_branch])
    sets: list[set[str]] = []
    for part in parts:
        contains = part.get("contains") if isinstance(part, Mapping) else None
        if not isinstance(contains, Mapping) or "enum" not in contains:
            return None
        sets.append(set(contains["enum"]))
    return sets or None


def _tighten_single_type(schema: Any) -> None:
    """Make a lone string ``type`` name the required class, in place.

    Each ``type`` in the JSON-LD flavour is ``oneOf: [<any string or language map>, <array that
    contains the class>]``. The first branch is replaced by an ``enum`` of the names that satisfy
    every ``contains`` of the second (none, for a credential, whose type needs two names).
    """
    if isinstance(schema, list):
        for item in schema:
            _tighten_single_type(item)
        return
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict) and isinstance(properties.get("type"), dict):
        branches = properties["type"].get("oneOf")
        if isinstance(branches, list) and len(branches) == 2:
            required = _required_classes(branches[1])
            if required is not None:
                allowed = set.intersection(*required)
                branches[0] = {"enum": sorted(allowed)} if allowed else False
    for value in schema.values():
        _tighten_single_type(value)


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checks("date-time")(is_rfc3339_date_time)
    checker.checks("date")(is_full_date)
    return checker


@cache
def _tightened_schema(filename: str) -> dict[str, Any]:
    """A bundled schema, read once, with lone ``type`` strings tightened (never mutated later)."""
    schema = _load_schema(filename)
    _tighten_single_type(schema)
    return schema


def _refuse_retrieval(uri: str) -> Any:
    raise ValueError(f"schemas are never fetched ({uri})")


@cache
def _fast_validator(filename: str) -> Any:
    """jsonschema-rs over the same (tightened) schema: answers "valid?" ~100x faster. The
    Python validator stays the authority and explains every problem; the fast one only lets
    a conforming document skip it (their agreement is tested on a mutated corpus)."""
    import jsonschema_rs

    schema = _tightened_schema(filename)
    return jsonschema_rs.Draft201909Validator(
        schema,
        validate_formats=True,
        formats={"date-time": is_rfc3339_date_time, "date": is_full_date},
        retriever=_refuse_retrieval,
    )


@cache
def _validator(filename: str) -> Draft201909Validator:
    """The compiled validator for one bundled schema (built once per process)."""
    schema = _tightened_schema(filename)
    resource = Resource.from_contents(schema, default_specification=DRAFT201909)
    # A registry without a retrieve function: any $ref outside the file fails instead of
    # fetching. The schema is also registered under the URLs credentials cite.
    registry: Registry[Any] = Registry().with_resources(
        [(schema.get("$id", filename), resource)]
        + [(url, resource) for url, name in _SCHEMA_FILES_BY_URL.items() if name == filename]
    )
    return Draft201909Validator(schema, registry=registry, format_checker=_format_checker())


# --------------------------------------------------------------------------------------------
# VC 1.1 adaptation
# --------------------------------------------------------------------------------------------

_VC1_RENAMES = {"issuanceDate": "validFrom", "expirationDate": "validUntil"}
_VC2_NAMES = {new: old for old, new in _VC1_RENAMES.items()}


def _is_vc1(node: Mapping[str, Any]) -> bool:
    contexts = node.get("@context")
    first = contexts[0] if isinstance(contexts, list) and contexts else contexts
    return first == VC_V1_CONTEXT


def _as_vc2(value: Any, adapted: set[int]) -> Any:
    """A copy in which every VC 1.1 credential reads as VC 2.0; ``adapted`` collects the ids of
    the adapted objects (the copy stays alive while they are used, so ids stay unique)."""
    if isinstance(value, list):
        return [_as_vc2(item, adapted) for item in value]
    if not isinstance(value, dict):
        return value
    if not _is_vc1(value):
        return {key: _as_vc2(item, adapted) for key, item in value.items()}
    out: dict[str, Any] = {}
    for key, item in value.items():
        key = str(key)
        if key == "@context":
            contexts = list(item) if isinstance(item, list) else [item]
            out[key] = [VC_V2_CONTEXT, *contexts[1:]]
        else:
            out[_VC1_RENAMES.get(key, key)] = _as_vc2(item, adapted)
    adapted.add(id(out))
    return out


def _original_path(subject: Any, path: Iterable[str | int], adapted: set[int]) -> list[str | int]:
    """Map a path through the adapted copy back to the property names the document uses."""
    out: list[str | int] = []
    node = subject
    for segment in path:
        renamed = segment
        if isinstance(segment, str) and id(node) in adapted:
            renamed = _VC2_NAMES.get(segment, segment)
        out.append(renamed)
        if isinstance(node, dict) and isinstance(segment, str):
            node = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int) and segment < len(node):
            node = node[segment]
        else:
            node = None
    return out


# --------------------------------------------------------------------------------------------
# Turning jsonschema errors into readable problems
# --------------------------------------------------------------------------------------------


# How badly an alternative misses when this check fails on the value itself: a `false`
# alternative never applies, a wrong JSON type means the alternative does not apply, a value
# outside an enum or pattern means it applies but the value is wrong.
_MISS_LEVEL: dict[Any, int] = {None: 3, "type": 2, "enum": 1, "const": 1, "pattern": 1}


def _depth(error: ValidationError) -> int:
    return max([len(error.absolute_path)] + [_depth(e) for e in error.context or ()])


def _branches(error: ValidationError) -> list[list[ValidationError]]:
    """The errors of each alternative of a ``oneOf``/``anyOf``, grouped by alternative."""
    groups: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        # A `false` alternative yields an error without a schema path.
        key = sub.relative_schema_path[0] if sub.relative_schema_path else "false"
        groups.setdefault(key, []).append(sub)
    return list(groups.values())


def _branch_rank(errors: list[ValidationError]) -> tuple[int, int, int]:
    """Sort key for alternatives: best first.

    An alternative whose own kind does not fit the value ("must be an array" said of an object)
    did not apply at all. Among the others, the one that got deepest into the value, then the
    one with the fewest complaints, came closest to matching.
    """
    miss = max((_MISS_LEVEL.get(e.validator, 0) for e in errors if not e.relative_path), default=0)
    complaints = sum(len(list(_leaf_errors(e))) for e in errors)
    return miss, -max(_depth(e) for e in errors), complaints


def _leaf_errors(error: ValidationError) -> Iterator[ValidationError]:
    """The errors that explain a failure: for ``oneOf``/``anyOf``, those of the alternative
    that came closest to matching, recursively."""
    branches = _branches(error) if error.validator in ("oneOf", "anyOf") else []
    if not branches:
        yield error
        return
    ranked = sorted(branches, key=_branch_rank)
    if len(ranked) > 1 and _branch_rank(ranked[1]) == _branch_rank(ranked[0]):
        # No alternative stands out (e.g. a number where a string or a map is expected).
        yield error
        return
    for sub in ranked[0]:
        yield from _leaf_errors(sub)


def _allowed_values(error: ValidationError) -> tuple[list[Any], list[str]]:
    """The enum values and patterns of a ``oneOf``/``anyOf`` over plain values."""
    values: list[Any] = []
    patterns: list[str] = []
    for sub in error.context or ():
        if sub.relative_path:
            continue
        if sub.validator == "enum":
            values.extend(sub.validator_value)
        elif sub.validator == "pattern":
            patterns.append(str(sub.validator_value))
    return values, patterns


def _expected_kinds(error: ValidationError) -> list[str]:
    """The JSON types a ``oneOf``/``anyOf`` would have accepted, when that is all it says."""
    kinds: list[str] = []
    for branch in _branches(error):
        found = [e.validator_value for e in branch if e.validator == "type" and not e.relative_path]
        if not found:
            return []
        kinds.extend(str(k) for k in found if str(k) not in kinds)
    return kinds


_REQUIRED_MESSAGE = re.compile(r"^'(.+)' is a required property$")


def _missing_property(error: ValidationError) -> str | None:
    # jsonschema reports one "required" error per missing property, naming it only in the text.
    match = _REQUIRED_MESSAGE.match(error.message)
    return match.group(1) if match else None


def _message(error: ValidationError) -> str:
    value = error.instance
    kind = error.validator
    argument = error.validator_value
    if kind == "required":
        return "is required but missing"
    if kind == "type":
        return f"must be of JSON type {argument!r}, not {json_kind(value)}"
    if kind == "enum":
        choices = ", ".join(repr(c) for c in argument[:8]) + (" ..." if len(argument) > 8 else "")
        return f"must be one of {choices}; found {json_kind(value)}"
    if kind == "const":
        return f"must be {argument!r}; found {json_kind(value)}"
    if kind == "contains":
        wanted = argument.get("enum", []) if isinstance(argument, Mapping) else []
        return "must include " + " or ".join(repr(w) for w in wanted) + f"; found {value!r}"
    if kind == "format":
        return f"must be a valid {argument} ({json_kind(value)} is not)"
    if kind == "pattern":
        return f"{json_kind(value)} does not match the pattern {argument}"
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(error.schema.get("properties", {})))
        return "unexpected propert" + ("y " if len(extra) == 1 else "ies ") + ", ".join(extra)
    if kind == "minItems":
        return f"must have at least {argument} item(s)"
    if kind is None:  # a `false` schema
        return f"{json_kind(value)} is not allowed here"
    if kind in ("oneOf", "anyOf"):
        kinds = _expected_kinds(error)
        if kinds:
            wanted = " or ".join(repr(k) for k in kinds)
            return f"must be of JSON type {wanted}, not {json_kind(value)}"
        values, patterns = _allowed_values(error)
        if values:
            shown = ", ".join(repr(v) for v in values[:8]) + (", ..." if len(values) > 8 else "")
            alternatives = "".join(f" or match {p}" for p in patterns)
            return f"must be one of {shown}{alternatives}; found {json_kind(value)}"
        return f"{json_kind(value)} matches none of the allowed forms"
    message = str(error.message)
    return message if len(message) <= 200 else message[:197] + "..."


def _problems(
    validator: Draft201909Validator, subject: Any, adapted: set[int]
) -> list[SchemaProblem]:
    problems: list[SchemaProblem] = []
    for error in validator.iter_errors(subject):
        for leaf in _leaf_errors(error):
            path = _original_path(subject, leaf.absolute_path, adapted)
            missing = _missing_property(leaf) if leaf.validator == "required" else None
            if missing is not None:
                vc1_node = isinstance(leaf.instance, dict) and id(leaf.instance) in adapted
                path.append(_VC2_NAMES.get(missing, missing) if vc1_node else missing)
            problem = SchemaProblem(json_path(path), _message(leaf))
            if problem not in problems:
                problems.append(problem)
    return problems


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _types_of(document: Mapping[str, Any]) -> list[Any]:
    types = document.get("type")
    return types if isinstance(types, list) else [types]


def _declared_schemas(document: Mapping[str, Any]) -> Iterator[tuple[Sequence[str | int], str]]:
    entries = document.get("credentialSchema")
    listed = entries if isinstance(entries, list) else [entries] if entries is not None else []
    for index, entry in enumerate(listed):
        where: list[str | int] = (
            ["credentialSchema", index] if isinstance(entries, list) else ["credentialSchema"]
        )
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            yield [*where, "id"], entry["id"]


def validate_ob3_schema(
    document: dict[str, Any], *, check_declared_schemas: bool = True
) -> list[SchemaProblem]:
    """Check an OB 3.0 credential against the bundled JSON Schemas; [] when it conforms.

    The schema is chosen by ``type`` (EndorsementCredential, else AchievementCredential). With
    ``check_declared_schemas``, every ``credentialSchema`` entry is also checked: a bundled
    schema is applied, any other is reported (it would have to be fetched, which never happens).
    """
    if not isinstance(document, dict):
        return [SchemaProblem("$", f"must be an object, not {json_kind(document)}")]
    primary = (
        ENDORSEMENT_CREDENTIAL_SCHEMA
        if "EndorsementCredential" in _types_of(document)
        else ACHIEVEMENT_CREDENTIAL_SCHEMA
    )
    filenames = [primary]
    problems: list[SchemaProblem] = []
    if check_declared_schemas:
        for where, url in _declared_schemas(document):
            filename = _SCHEMA_FILES_BY_URL.get(url)
            if filename is None:
                problems.append(
                    SchemaProblem(
                        json_path(where),
                        f"the schema {url} is not bundled, so the credential cannot be checked "
                        "against it (schemas are never fetched)",
                    )
                )
            elif filename not in filenames:
                filenames.append(filename)
    adapted: set[int] = set()
    subject = _as_vc2(document, adapted)
    for filename in filenames:
        if _fast_validator(filename).is_valid(subject):
            continue
        for problem in _problems(_validator(filename), subject, adapted):
            if problem not in problems:
                problems.append(problem)
    return problems[:MAX_SCHEMA_PROBLEMS]


def validate_profile_schema(document: dict[str, Any]) -> list[SchemaProblem]:
    """Check an OB 3.0 Profile document against the bundled Profile schema; [] when it conforms."""
    if not isinstance(document, dict):
        return [SchemaProblem("$", f"must be an object, not {json_kind(document)}")]
    adapted: set[int] = set()
    subject = _as_vc2(document, adapted)
    return _problems(_validator(PROFILE_SCHEMA), subject, adapted)[:MAX_SCHEMA_PROBLEMS]
