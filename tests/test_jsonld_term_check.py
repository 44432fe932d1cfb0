"""check_terms reads refusals off the expanded document; canonicalize reads them off RDF.
Both must refuse exactly the same documents, with the same kind of error."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from core.errors import BadgeBridgeError
from core.jsonld import canonicalize, check_terms
from tests.conftest import VECTORS

SOURCES = [
    *sorted((VECTORS / "ob3-spec-examples").glob("*.json")),
    VECTORS / "ob3-impl-guide-eddsa-rdfc-2022" / "unsigned-credential.json",
    *sorted((VECTORS / "1edtech-validator" / "ob30").glob("simple*.json")),
    VECTORS / "1edtech-validator" / "ob30" / "complete.json",
]

MUTATIONS: list[tuple[str, Any]] = [
    ("undefined property", lambda d: d.__setitem__("notATerm", "x")),
    ("relative id", lambda d: d.__setitem__("id", "relative/credential")),
    ("undefined type", lambda d: d.__setitem__("type", [*d["type"], "MadeUpType"])),
    ("nested undefined", lambda d: d["credentialSubject"].__setitem__("shoeSize", 44)),
    (
        "relative nested id",
        lambda d: d["credentialSubject"].__setitem__("id", "not an iri"),
    ),
    (
        "unknown achievementType",
        lambda d: (
            d["credentialSubject"]
            .get("achievement", {})
            .__setitem__("achievementType", "NoSuchEnumValue")
        ),
    ),
    ("compact iri with unknown prefix", lambda d: d.__setitem__("zz:thing", "x")),
    ("keyword-like key", lambda d: d.__setitem__("@nonsense", "x")),
]


def _documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for source in SOURCES:
        document = json.loads(source.read_text())
        document.pop("proof", None)
        yield source.name, document
        for name, mutate in MUTATIONS:
            mutated = copy.deepcopy(document)
            try:
                mutate(mutated)
            except (KeyError, TypeError, AttributeError):
                continue
            yield f"{source.name}+{name}", mutated


def _outcome(check: Any, document: dict[str, Any]) -> str:
    try:
        check(document)
    except BadgeBridgeError as exc:
        return type(exc).__name__
    return "ok"


CASES = list(_documents())


@pytest.mark.parametrize(("name", "document"), CASES, ids=[c[0] for c in CASES])
def test_check_terms_refuses_what_canonicalize_refuses(name: str, document: dict[str, Any]) -> None:
    assert _outcome(check_terms, document) == _outcome(canonicalize, document)


def test_the_corpus_has_both_outcomes() -> None:
    outcomes = {_outcome(canonicalize, d) for _, d in CASES}
    assert {"ok", "UndefinedTerms", "InvalidInput"} <= outcomes
