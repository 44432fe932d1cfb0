"""The fast schema check (jsonschema-rs) must agree with the authoritative Python validator:
a document skips the detailed check only when both would call it conforming."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from core.schema_validation import (
    ACHIEVEMENT_CREDENTIAL_SCHEMA,
    _as_vc2,
    _fast_validator,
    _validator,
)
from tests.conftest import VECTORS

SOURCES = [
    *sorted((VECTORS / "1edtech-validator" / "ob30").glob("*.json")),
    *sorted((VECTORS / "ob3-spec-examples").glob("*.json")),
    VECTORS / "ob3-impl-guide-eddsa-rdfc-2022" / "signed-credential.json",
]

MUTATIONS: list[tuple[str, Any]] = [
    ("validFrom without zone", lambda d: d.__setitem__("validFrom", "2024-01-01T00:00:00")),
    ("validFrom not a date", lambda d: d.__setitem__("validFrom", "yesterday")),
    ("name a number", lambda d: d.__setitem__("name", 42)),
    ("type a string", lambda d: d.__setitem__("type", "OpenBadgeCredential")),
    ("issuer missing", lambda d: d.pop("issuer")),
    ("subject a list", lambda d: d.__setitem__("credentialSubject", [])),
    (
        "achievement type wrong",
        lambda d: d["credentialSubject"]["achievement"].__setitem__("type", ["Nope"]),
    ),
    ("criteria missing", lambda d: d["credentialSubject"]["achievement"].pop("criteria")),
]


def _cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for source in SOURCES:
        document = json.loads(source.read_text())
        if "EndorsementCredential" in json.dumps(document.get("type")):
            continue
        cases.append((source.name, document))
        for name, mutate in MUTATIONS:
            mutated = copy.deepcopy(document)
            try:
                mutate(mutated)
            except (KeyError, TypeError, AttributeError):
                continue
            cases.append((f"{source.name}+{name}", mutated))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("name", "document"), CASES, ids=[c[0] for c in CASES])
def test_fast_and_authoritative_validators_agree(name: str, document: dict[str, Any]) -> None:
    subject = _as_vc2(document, set())
    authoritative = not list(_validator(ACHIEVEMENT_CREDENTIAL_SCHEMA).iter_errors(subject))
    assert _fast_validator(ACHIEVEMENT_CREDENTIAL_SCHEMA).is_valid(subject) == authoritative


def test_the_corpus_has_both_outcomes() -> None:
    outcomes = {
        _fast_validator(ACHIEVEMENT_CREDENTIAL_SCHEMA).is_valid(_as_vc2(d, set())) for _, d in CASES
    }
    assert outcomes == {True, False}
