"""Offline JSON-LD: bundled contexts only, undefined terms refused, RDFC-1.0 canonical form."""

from __future__ import annotations

import copy
import json
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from core.errors import InvalidInput, UndefinedTerms, UnknownContext
from core.jsonld import (
    bundled_context_urls,
    canonicalize,
    check_terms,
    expand,
    load_context,
)

REPO = Path(__file__).resolve().parents[1]
STANDARDS = Path(__file__).resolve().parents[2] / "shared" / "standards"
VECTORS = STANDARDS / "vectors"
VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_303 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
EXAMPLES_V2 = "https://www.w3.org/ns/credentials/examples/v2"


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


EXAMPLE_CONTEXTS = {
    url: _load_json(STANDARDS / "contexts" / file)
    for url, file in _load_json(STANDARDS / "contexts" / "index.json")["contexts"].items()
    if "/examples/" in url
}


def _credential() -> dict[str, Any]:
    document: dict[str, Any] = _load_json(
        VECTORS / "ob3-impl-guide-eddsa-rdfc-2022" / "unsigned-credential.json"
    )
    return document


def _alignment(code: str) -> dict[str, Any]:
    return {
        "type": ["Alignment"],
        "targetCode": code,
        "targetName": "Teamwork",
        "targetUrl": "https://example.org/frameworks/teamwork",
    }


# --------------------------------------------------------------------------------------------
# Context loading
# --------------------------------------------------------------------------------------------


def test_bundled_contexts_cover_vc_and_open_badges() -> None:
    urls = bundled_context_urls()
    assert {VC_V2, OB_303, "https://www.w3.org/2018/credentials/v1"} <= urls
    assert EXAMPLES_V2 not in urls  # has @vocab: never bundled


def test_load_context_returns_an_independent_copy() -> None:
    first = load_context(VC_V2)
    first["@context"]["VerifiableCredential"] = "urn:changed"
    assert load_context(VC_V2)["@context"]["VerifiableCredential"] != "urn:changed"


def test_load_context_refuses_unknown_urls() -> None:
    with pytest.raises(UnknownContext) as caught:
        load_context("https://example.org/contexts/unknown.jsonld")
    assert caught.value.url == "https://example.org/contexts/unknown.jsonld"


def test_an_unknown_context_is_refused_without_a_network_fetch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    document = _credential()
    document["@context"] = [*document["@context"], "https://example.org/contexts/unknown.jsonld"]
    with pytest.raises(UnknownContext) as caught:
        canonicalize(document)
    assert caught.value.url == "https://example.org/contexts/unknown.jsonld"
    assert "https://example.org/contexts/unknown.jsonld" in caught.value.message


def test_the_example_context_needs_to_be_passed_explicitly() -> None:
    unsigned = _load_json(VECTORS / "vc-di-eddsa" / "unsigned.json")
    with pytest.raises(UnknownContext):
        canonicalize(unsigned)
    assert "alumniOf" in canonicalize(unsigned, extra_contexts=EXAMPLE_CONTEXTS)


def test_extra_contexts_do_not_leak_into_later_calls() -> None:
    unsigned = _load_json(VECTORS / "vc-di-eddsa" / "unsigned.json")
    canonicalize(unsigned, extra_contexts=EXAMPLE_CONTEXTS)
    with pytest.raises(UnknownContext):
        canonicalize(unsigned)


def test_a_changed_extra_context_is_not_served_from_a_cache() -> None:
    url = "https://example.org/contexts/test/v1"
    document = {"@context": [VC_V2, url], "type": ["VerifiableCredential"], "motto": "Hi"}
    first = {url: {"@context": {"motto": "https://example.org/vocab#motto"}}}
    second = {url: {"@context": {"motto": "https://example.org/other#motto"}}}
    assert "<https://example.org/vocab#motto>" in canonicalize(document, extra_contexts=first)
    assert "<https://example.org/other#motto>" in canonicalize(document, extra_contexts=second)


# --------------------------------------------------------------------------------------------
# Undefined terms and other things that would go unsigned
# --------------------------------------------------------------------------------------------


def test_an_undefined_property_is_refused_and_named() -> None:
    document = _credential()
    document["favouriteColour"] = "green"
    with pytest.raises(UndefinedTerms) as caught:
        canonicalize(document)
    assert caught.value.terms == ["favouriteColour"]
    assert "favouriteColour" in caught.value.message


def test_an_undefined_nested_property_is_refused() -> None:
    document = _credential()
    document["credentialSubject"]["achievement"]["level"] = "gold"
    with pytest.raises(UndefinedTerms) as caught:
        canonicalize(document)
    assert caught.value.terms == ["level"]


def test_an_undefined_type_is_refused() -> None:
    document = _credential()
    document["type"] = [*document["type"], "PlatinumBadge"]
    with pytest.raises(UndefinedTerms) as caught:
        canonicalize(document)
    assert caught.value.terms == ["PlatinumBadge"]


def test_all_undefined_terms_are_listed_together() -> None:
    document = _credential()
    document["type"] = [*document["type"], "PlatinumBadge"]
    document["issuer"]["motto"] = "Excellence"
    with pytest.raises(UndefinedTerms) as caught:
        canonicalize(document)
    assert caught.value.terms == ["PlatinumBadge", "motto"]


def test_a_keyword_lookalike_key_is_refused() -> None:
    document = _credential()
    document["@signature"] = "x"
    with pytest.raises(UndefinedTerms) as caught:
        canonicalize(document)
    assert caught.value.terms == ["@signature"]


def test_a_term_mapped_to_null_is_refused() -> None:
    document = _credential()
    document["@context"] = [*document["@context"], {"internalNote": None}]
    document["internalNote"] = "not for the public"
    with pytest.raises(UndefinedTerms) as caught:
        canonicalize(document)
    assert caught.value.terms == ["internalNote"]


def test_a_relative_id_is_refused() -> None:
    document = _credential()
    document["credentialSubject"]["id"] = "learner-42"
    with pytest.raises(InvalidInput) as caught:
        canonicalize(document)
    assert "learner-42" in caught.value.message
    assert "absolute IRI" in caught.value.message


def test_a_relative_reference_is_refused() -> None:
    document = _credential()
    document["issuer"] = "issuers/565049"
    with pytest.raises(InvalidInput) as caught:
        canonicalize(document)
    assert "issuers/565049" in caught.value.message


def test_check_terms_accepts_a_clean_credential_and_refuses_an_undefined_term() -> None:
    check_terms(_credential())
    document = _credential()
    document["motto"] = "x"
    with pytest.raises(UndefinedTerms):
        check_terms(document)


def test_expand_uses_the_bundled_contexts_and_refuses_undefined_terms() -> None:
    expanded = expand(_credential())
    assert expanded[0]["@id"] == "http://example.com/credentials/3527"
    assert "https://www.w3.org/2018/credentials#VerifiableCredential" in expanded[0]["@type"]
    document = _credential()
    document["motto"] = "x"
    with pytest.raises(UndefinedTerms):
        expand(document)


# --------------------------------------------------------------------------------------------
# Malformed input: always our own errors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("context", "words"),
    [
        ({"@vocab": "https://example.org/"}, "must be a context URL or a list"),
        (42, "must be a context URL or a list"),
        ([], "empty list"),
    ],
)
def test_an_unusable_context_value_is_refused_clearly(context: Any, words: str) -> None:
    document = _credential()
    document["@context"] = context
    with pytest.raises(InvalidInput) as caught:
        canonicalize(document)
    assert words in caught.value.message


def test_a_document_without_context_is_refused() -> None:
    document = _credential()
    del document["@context"]
    with pytest.raises(InvalidInput) as caught:
        canonicalize(document)
    assert "no @context" in caught.value.message


def test_a_non_object_document_is_refused() -> None:
    with pytest.raises(InvalidInput):
        canonicalize([_credential()])


def test_invalid_json_ld_becomes_invalid_input() -> None:
    document = _credential()
    document["id"] = 42  # @id must be a string
    with pytest.raises(InvalidInput) as caught:
        canonicalize(document)
    assert type(caught.value) is InvalidInput
    assert caught.value.message.startswith("Not valid JSON-LD")


def test_redefining_a_protected_term_becomes_invalid_input() -> None:
    document = _credential()
    document["@context"] = [*document["@context"], {"name": "https://example.org/name"}]
    with pytest.raises(InvalidInput) as caught:
        canonicalize(document)
    assert "protected" in caught.value.message


# --------------------------------------------------------------------------------------------
# RDFC-1.0
# --------------------------------------------------------------------------------------------

_RING_CONTEXT = {
    "next": {"@id": "http://example.org/vocab#next", "@type": "@id"},
    "prev": {"@id": "http://example.org/vocab#prev", "@type": "@id"},
    "p": "urn:ex:p",
}


def test_rdfc10_ring_and_literal_escapes() -> None:
    # A three-node blank-node ring and a literal with every escaped character, as in the
    # RDFC-1.0 test suite: controls are \b \t \n \f \r or \uXXXX, upper-case hex.
    document = {
        "@context": [_RING_CONTEXT],
        "@graph": [
            {"@id": "_:e0", "next": "_:e1", "prev": "_:e2"},
            {"@id": "_:e1", "next": "_:e2", "prev": "_:e0"},
            {"@id": "_:e2", "next": "_:e0", "prev": "_:e1"},
            {"@id": "urn:ex:s", "p": '\b\t\n\x0b\f\r"\\\x7f'},
        ],
    }
    assert canonicalize(document) == (
        '<urn:ex:s> <urn:ex:p> "\\b\\t\\n\\u000B\\f\\r\\"\\\\\\u007F" .\n'
        "_:c14n0 <http://example.org/vocab#next> _:c14n2 .\n"
        "_:c14n0 <http://example.org/vocab#prev> _:c14n1 .\n"
        "_:c14n1 <http://example.org/vocab#next> _:c14n0 .\n"
        "_:c14n1 <http://example.org/vocab#prev> _:c14n2 .\n"
        "_:c14n2 <http://example.org/vocab#next> _:c14n1 .\n"
        "_:c14n2 <http://example.org/vocab#prev> _:c14n0 .\n"
    )


def test_a_credential_name_with_control_characters_is_escaped() -> None:
    document = _credential()
    document["name"] = "Tab\there, bell\x07"
    assert '"Tab\\there, bell\\u0007"' in canonicalize(document)


def test_blank_node_order_in_the_input_does_not_matter() -> None:
    document = _credential()
    achievement = document["credentialSubject"]["achievement"]
    achievement["alignment"] = [_alignment("A"), _alignment("B"), _alignment("A")]
    reordered = copy.deepcopy(document)
    reordered["credentialSubject"]["achievement"]["alignment"].reverse()
    canonical = canonicalize(document)
    assert canonical == canonicalize(reordered)
    assert "_:c14n" in canonical


def test_a_poison_graph_is_refused_instead_of_running_for_ever() -> None:
    size = 12  # every blank node linked to every other: exponential without a bound
    nodes = [
        {"@id": f"_:n{i}", "next": [f"_:n{j}" for j in range(size) if j != i]} for i in range(size)
    ]
    with pytest.raises(InvalidInput) as caught:
        canonicalize({"@context": [_RING_CONTEXT], "@graph": nodes})
    assert "blank nodes" in caught.value.message


def _pyld_urdna2015(document: dict[str, Any], extra: dict[str, Any] | None) -> str:
    from pyld import jsonld

    def loader(url: str, options: Any = None) -> dict[str, Any]:
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": load_context(url, extra_contexts=extra),
        }

    result: str = jsonld.normalize(
        document,
        {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
    )
    return result


@pytest.mark.parametrize(
    "relative",
    [
        "ob3-spec-examples/fullOpenBadge.json",
        "ob3-spec-examples/skillAssertionCase.json",
        "1edtech-validator/ob30/complete.json",
        "1edtech-validator/ob30/credential-status-revoked.json",
        "vc-di-eddsa/proof-set-chain/signedProofChain2.json",
    ],
)
def test_agrees_with_pyld_urdna2015_on_real_documents(relative: str) -> None:
    # pyld's URDNA2015 is an independent implementation of the same algorithm (it differs
    # only in escaping rare control characters, which these documents do not contain).
    document = _load_json(VECTORS / relative)
    extra = EXAMPLE_CONTEXTS if relative.startswith("vc-di-eddsa") else None
    ours = canonicalize(document, extra_contexts=extra)
    assert ours.count("_:c14n") > 5
    assert ours == _pyld_urdna2015(document, extra)


def test_identical_blank_nodes_agree_with_pyld() -> None:
    document = _credential()
    document["credentialSubject"]["achievement"]["alignment"] = [
        _alignment("A"),
        _alignment("A"),
        _alignment("B"),
    ]
    assert canonicalize(document) == _pyld_urdna2015(document, None)


def test_concurrent_calls_give_the_same_results() -> None:
    documents = [_credential() for _ in range(8)]
    for index, document in enumerate(documents):
        document["name"] = f"Badge {index}"
    expected = [canonicalize(document) for document in documents]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(canonicalize, documents * 3))
    assert results == expected * 3


def test_importing_core_jsonld_does_not_import_requests() -> None:
    code = "import sys, core.jsonld, core.proofs.data_integrity; print('requests' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert output.stdout.strip() == "False"
