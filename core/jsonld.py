"""Offline JSON-LD: the bundled contexts, RDFC-1.0 canonical N-Quads, and refusal of
undefined terms.

Nothing here touches the network. Context URLs resolve only to the files bundled in
``core/contexts/`` (listed in ``index.json``) or to contexts a caller passes explicitly as
``extra_contexts`` (tests use that for the W3C example contexts; production never does).

Expansion uses pyld (pinned at 3.3.0). Two things are added around it, both in this module:

* **Speed.** pyld re-processes every type-scoped context each time it meets a typed node
  (the result of a non-propagating context gets a fresh cache id on every call), and it keys
  inline contexts by their JSON canonical form, computed in pure Python. Open Badges contexts are
  full of scoped contexts, so that was ~90 % of the time. :class:`_ContextStore` memoizes
  processed active contexts (see ``_process_context`` in :func:`_processor_class`), keyed by the
  parent context's id and by the identity of the (immutable, bundled) local context.
* **Safety.** pyld silently drops terms the contexts do not define, so they would be left
  unsigned. Dropped properties, undefined (relative) ``type`` values and datatypes, and ids that
  are not absolute IRIs are refused with :class:`UndefinedTerms` / :class:`InvalidInput`.

The RDF dataset is then canonicalized by this module's own RDFC-1.0 implementation
(:func:`_rdfc10`): it follows the W3C Recommendation, including the canonical N-Quads escaping
(pyld 3.3 escapes fewer control characters than RDFC-1.0 requires) and a bound on the work
spent on blank nodes, like the reference implementation (rdf-canonize).

pyld imports ``requests`` when it is imported, so it is imported lazily, on first use.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

from core.errors import BadgeBridgeError, InvalidInput, UndefinedTerms, UnknownContext

#: Mapping of context URL to context document, as callers pass it.
ContextMap = Mapping[str, Any]

_CONTEXT_DIR: Final = Path(__file__).resolve().parent / "contexts"

RDF_TYPE: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_LANGSTRING: Final = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
XSD_STRING: Final = "http://www.w3.org/2001/XMLSchema#string"

# Same test pyld applies when it decides what to drop while producing RDF.
_ABSOLUTE_IRI: Final = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*|_):[^\s]*$")

#: How many processed active contexts one store keeps. A credential uses a few dozen.
_PROCESSED_CACHE_SIZE: Final = 4096
#: How many term/IRI expansions one store remembers before starting afresh.
_EXPANDED_IRI_CACHE_SIZE: Final = 20_000
_MISSING: Final = object()
#: RDFC-1.0 work bounds (see ``_Canonicalizer.run``).
_DEEP_ITERATIONS_PER_BLANK_NODE: Final = 10
_MAX_PERMUTATIONS: Final = 100_000
#: How many stores for distinct ``extra_contexts`` sets are kept (tests use one or two).
_EXTRA_STORES_KEPT: Final = 8


# --------------------------------------------------------------------------------------------
# Context documents
# --------------------------------------------------------------------------------------------


@cache
def _bundled_documents() -> dict[str, Any]:
    """URL -> parsed context, read once from ``core/contexts`` (the files never change)."""
    index = json.loads((_CONTEXT_DIR / "index.json").read_text(encoding="utf-8"))
    by_file: dict[str, Any] = {}
    documents: dict[str, Any] = {}
    for url, relative in index["contexts"].items():
        if relative not in by_file:
            by_file[relative] = json.loads((_CONTEXT_DIR / relative).read_text(encoding="utf-8"))
        documents[url] = by_file[relative]
    return documents


def bundled_context_urls() -> frozenset[str]:
    """The context URLs that resolve without ``extra_contexts``."""
    return frozenset(_bundled_documents())


def load_context(url: str, *, extra_contexts: ContextMap | None = None) -> dict[str, Any]:
    """A copy of the context document for ``url``: from ``extra_contexts`` if it lists the URL,
    otherwise from the bundled contexts. Raises :class:`UnknownContext`; never fetches."""
    if extra_contexts and url in extra_contexts:
        document = extra_contexts[url]
    else:
        document = _bundled_documents().get(url)
    if not isinstance(document, dict):
        raise UnknownContext(url)
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


class _ContextStore:
    """One set of context documents plus everything pyld derives from them.

    The documents are private deep copies that are never mutated, which is what makes it
    safe to key processed contexts by the identity of their sub-objects.
    """

    def __init__(self, documents: dict[str, Any]) -> None:
        from cachetools import LRUCache  # installed with pyld

        self.documents = documents
        self.stable_ids: frozenset[int] = frozenset(_container_ids(documents.values()))
        # pyld's ContextResolver cache (URL or canonical JSON -> ResolvedContext). Private to
        # this store, so contexts passed as extra_contexts never leak into other calls.
        self.resolved_contexts: Any = LRUCache(maxsize=256)
        self.processed: Any = LRUCache(maxsize=_PROCESSED_CACHE_SIZE)
        self.expanded_iris: dict[tuple[Any, ...], Any] = {}
        # pyld's caches are not thread-safe; a credential is canonicalized under this lock.
        self.lock = threading.Lock()

    def load_document(self, url: str, options: Any = None) -> dict[str, Any]:
        """pyld document loader: bundled or extra contexts only."""
        document = self.documents.get(url)
        if document is None:
            raise UnknownContext(url)
        # tag "static" lets pyld cache the resolved context across operations.
        return {
            "contextUrl": None,
            "documentUrl": url,
            "document": document,
            "contentType": "application/ld+json",
            "tag": "static",
        }

    def context_key(self, local_ctx: Any) -> Any:
        """A hashable key for a local context, or None when it should not be memoized."""
        if isinstance(local_ctx, str):
            return ("url", local_ctx)
        if local_ctx is None:
            return ("null",)
        if isinstance(local_ctx, dict | list):
            if id(local_ctx) in self.stable_ids:
                # A context object inside a bundled document: immutable and kept alive by the
                # store, so its identity is a safe (and cheap) key.
                return ("object", id(local_ctx))
            try:
                return ("json", json.dumps(local_ctx, sort_keys=True))
            except (TypeError, ValueError):
                return None
        return None


def _container_ids(values: Any) -> Iterator[int]:
    stack = list(values)
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield id(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            yield id(item)
            stack.extend(item)


_stores_lock = threading.Lock()
_extra_stores: OrderedDict[str, _ContextStore] = OrderedDict()


@cache
def _bundled_store() -> _ContextStore:
    return _ContextStore(_bundled_documents())


def _store_for(extra_contexts: ContextMap | None) -> _ContextStore:
    if not extra_contexts:
        return _bundled_store()
    try:
        fingerprint = json.dumps(dict(extra_contexts), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("extra_contexts must map context URLs to JSON objects.") from exc
    with _stores_lock:
        store = _extra_stores.get(fingerprint)
        if store is not None:
            _extra_stores.move_to_end(fingerprint)
            return store
    documents = dict(_bundled_documents())
    for url, document in json.loads(fingerprint).items():
        if not isinstance(document, dict):
            raise InvalidInput(f"extra_contexts[{url!r}] is not a JSON object.")
        documents[url] = document
    store = _ContextStore(documents)
    with _stores_lock:
        _extra_stores[fingerprint] = store
        while len(_extra_stores) > _EXTRA_STORES_KEPT:
            _extra_stores.popitem(last=False)
    return store


# --------------------------------------------------------------------------------------------
# pyld, patched in one place
# --------------------------------------------------------------------------------------------


@cache
def _processor_class() -> Any:
    """Build (once) the pyld processor subclass. Imported lazily: pyld imports ``requests``."""
    from frozendict import frozendict  # installed with pyld
    from pyld.jsonld import JsonLdProcessor

    class _MemoizingProcessor(JsonLdProcessor):  # type: ignore[misc]
        """pyld's processor with memoized context processing and dropped-term tracking."""

        def __init__(self, store: _ContextStore) -> None:
            super().__init__(on_property_dropped=self._record_dropped)
            self._store = store
            self.dropped: list[str] = []

        def _record_dropped(self, expanded_property: str | None) -> None:
            # pyld reports only the expanded property, which is None for a key mapped to null
            # or shaped like a keyword ("@foo"). The caller's local ``key`` names it better
            # (pyld is pinned at 3.3.0, where that frame is ``_expand_object``).
            key = sys._getframe(1).f_locals.get("key")
            self.dropped.append(key if isinstance(key, str) else str(expanded_property))

        def _expand_iri(
            self,
            active_ctx: Any,
            value: Any,
            base: Any = None,
            vocab: bool = False,
            local_ctx: Any = None,
            defined: Any = None,
        ) -> Any:
            # Expanding a term or IRI against a frozen active context always gives the same
            # answer; documents repeat the same few dozen keys and types over and over.
            if local_ctx is None and type(value) is str and isinstance(active_ctx, frozendict):
                memo = self._store.expanded_iris
                key = (active_ctx["_uuid"], value, base, vocab)
                hit = memo.get(key, _MISSING)
                if hit is not _MISSING:
                    return hit
                result = super()._expand_iri(active_ctx, value, base, vocab)
                if len(memo) >= _EXPANDED_IRI_CACHE_SIZE:
                    memo.clear()
                memo[key] = result
                return result
            return super()._expand_iri(active_ctx, value, base, vocab, local_ctx, defined)

        def _process_context(
            self,
            active_ctx: Any,
            local_ctx: Any,
            options: Any,
            override_protected: bool = False,
            propagate: bool = True,
            validate_scoped: bool = True,
            cycles: Any = None,
        ) -> Any:
            # Only top-level calls on a frozen (immutable, cached by pyld) active context are
            # memoized; nested calls during term definition work on a context under
            # construction. The result depends only on these inputs (the base IRI and
            # processing mode are fixed by this module, the documents by the store).
            if cycles is None and isinstance(active_ctx, frozendict) and "_uuid" in active_ctx:
                ctx_key = self._store.context_key(local_ctx)
                if ctx_key is not None:
                    key = (
                        active_ctx["_uuid"],
                        ctx_key,
                        override_protected,
                        propagate,
                        validate_scoped,
                    )
                    hit = self._store.processed.get(key)
                    if hit is not None:
                        return hit
                    result = super()._process_context(
                        active_ctx,
                        local_ctx,
                        options,
                        override_protected,
                        propagate,
                        validate_scoped,
                        cycles,
                    )
                    if isinstance(result, frozendict):
                        self._store.processed[key] = result
                    return result
            return super()._process_context(
                active_ctx,
                local_ctx,
                options,
                override_protected,
                propagate,
                validate_scoped,
                cycles,
            )

    return _MemoizingProcessor


def _pyld_options(store: _ContextStore) -> dict[str, Any]:
    from pyld.context_resolver import ContextResolver

    return {
        # No base IRI: a relative id stays relative (and is refused below) instead of being
        # resolved against pyld's placeholder http://example.org/base/.
        "base": None,
        "documentLoader": store.load_document,
        "contextResolver": ContextResolver(store.resolved_contexts, store.load_document),
        "processingMode": "json-ld-1.1",
        "extractAllScripts": True,
        "produceGeneralizedRdf": False,
        "rdfDirection": None,
        "isFrame": False,
        "keepFreeFloatingNodes": False,
    }


def _check_document(document: Any) -> None:
    if not isinstance(document, dict):
        raise InvalidInput("A JSON-LD document must be a JSON object.")
    if "@context" not in document:
        raise InvalidInput("The document has no @context, so none of its terms are defined.")
    context = document["@context"]
    if not isinstance(context, list | str):
        raise InvalidInput(
            "The document's @context must be a context URL or a list of them "
            f"(found {type(context).__name__})."
        )
    if isinstance(context, list) and not context:
        raise InvalidInput("The document's @context is an empty list.")


def _translate_error(exc: BaseException) -> BadgeBridgeError:
    """Turn a pyld failure into our error: the innermost readable reason wins."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in chain:
        if isinstance(item, BadgeBridgeError):
            return item
    if any(isinstance(item, RecursionError) for item in chain):
        return InvalidInput("The JSON-LD document is nested too deeply to process.")
    reasons = []
    for item in reversed(chain):
        code = getattr(item, "code", None)
        text = str(item.args[0]) if item.args else str(item)
        text = text.split("\n", 1)[0].strip()
        if code and code not in text:
            text = f"{text} ({code})"
        if text and text not in reasons:
            reasons.append(text)
        if len(reasons) == 2:
            break
    reason = "; ".join(reasons) or type(exc).__name__
    return InvalidInput(f"Not valid JSON-LD: {reason}")


def _expand_with(store: _ContextStore, document: dict[str, Any]) -> tuple[Any, list[Any], Any]:
    processor = _processor_class()(store)
    options = _pyld_options(store)
    expanded = processor.expand(document, options)
    return processor, expanded, options


def expand(document: Any, *, extra_contexts: ContextMap | None = None) -> list[Any]:
    """JSON-LD expansion with only the bundled (and ``extra_contexts``) contexts.

    Raises :class:`UndefinedTerms` when a property would be dropped, :class:`UnknownContext`,
    or :class:`InvalidInput` for anything else that is not valid JSON-LD.
    """
    _check_document(document)
    store = _store_for(extra_contexts)
    with store.lock:
        try:
            processor, expanded, _ = _expand_with(store, document)
            if processor.dropped:
                raise UndefinedTerms(processor.dropped)
        except BadgeBridgeError:
            raise
        except Exception as exc:
            raise _translate_error(exc) from exc
    result: list[Any] = expanded
    return result


def canonicalize(document: Any, *, extra_contexts: ContextMap | None = None) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document (what Data Integrity proofs hash).

    Refuses, rather than silently leaving data unsigned: terms the contexts do not define
    (:class:`UndefinedTerms`), context URLs that are not bundled (:class:`UnknownContext`),
    ids that are not absolute IRIs and invalid JSON-LD (:class:`InvalidInput`).
    """
    return _rdfc10(_strict_quads(document, extra_contexts))


def check_terms(document: Any, *, extra_contexts: ContextMap | None = None) -> None:
    """Raise unless every term of ``document`` is defined by known contexts and every id is an
    absolute IRI: the refusals :func:`canonicalize` makes, read off the expanded document
    without building RDF (JCS proofs and the verifier's contexts check need no RDF)."""
    _check_document(document)
    store = _store_for(extra_contexts)
    with store.lock:
        try:
            processor, expanded, _options = _expand_with(store, document)
            undefined: list[str] = list(processor.dropped)
            try:
                _check_expanded(expanded, undefined)
            except InvalidInput:
                if undefined:  # the likelier root cause, and the clearer message
                    raise UndefinedTerms(undefined) from None
                raise
            if undefined:
                raise UndefinedTerms(undefined)
        except BadgeBridgeError:
            raise
        except Exception as exc:
            raise _translate_error(exc) from exc


def _check_expanded(node: Any, undefined: list[str]) -> None:
    """Walk expanded JSON-LD: relative property, type and datatype IRIs are undefined terms;
    a node id that is neither absolute nor a blank node would be dropped (InvalidInput)."""
    if isinstance(node, list):
        for item in node:
            _check_expanded(item, undefined)
        return
    if not isinstance(node, dict):
        return
    if "@value" in node:
        datatype = node.get("@type")
        if isinstance(datatype, str) and datatype != "@json" and not _ABSOLUTE_IRI.match(datatype):
            undefined.append(datatype)
        return
    node_id = node.get("@id")
    if isinstance(node_id, str):
        _node_term(node_id, "an id")
    for type_iri in node.get("@type", []):
        if isinstance(type_iri, str) and not _is_node_iri(type_iri):
            undefined.append(type_iri)
    for key, value in node.items():
        if key in ("@list", "@set", "@graph", "@included", "@reverse"):
            # a @reverse map is keyed by property IRIs, like a node
            _check_expanded(value, undefined)
        elif key.startswith("@"):
            continue
        elif key.startswith("_:") or not _ABSOLUTE_IRI.match(key):
            undefined.append(key)
        else:
            _check_expanded(value, undefined)


def _is_node_iri(value: str) -> bool:
    return value.startswith("_:") or bool(_ABSOLUTE_IRI.match(value))


def _strict_quads(document: Any, extra_contexts: ContextMap | None) -> list[Quad]:
    """The document's RDF quads, refusing whatever JSON-LD processing would drop."""
    _check_document(document)
    store = _store_for(extra_contexts)
    with store.lock:
        try:
            processor, expanded, options = _expand_with(store, document)
            undefined: list[str] = list(processor.dropped)
            try:
                quads = _dataset_quads(processor, expanded, options, undefined)
            except InvalidInput:
                if undefined:  # the likelier root cause, and the clearer message
                    raise UndefinedTerms(undefined) from None
                raise
            if undefined:
                raise UndefinedTerms(undefined)
        except BadgeBridgeError:
            raise
        except Exception as exc:
            raise _translate_error(exc) from exc
    return quads


# --------------------------------------------------------------------------------------------
# JSON-LD to RDF (strict)
# --------------------------------------------------------------------------------------------

#: A quad: serialized subject, predicate, object and graph ("" = default graph), with blank
#: nodes as ``_:label``; the fifth item is ``<predicate IRI>`` unescaped, as RDFC-1.0 hashes it.
Quad = tuple[str, str, str, str, str]

_LITERAL_ESCAPES: Final = {
    **{code: f"\\u{code:04X}" for code in [*range(0x20), 0x7F]},
    0x08: "\\b",
    0x09: "\\t",
    0x0A: "\\n",
    0x0C: "\\f",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
}
_LITERAL_NEEDS_ESCAPE: Final = re.compile(r'[\x00-\x1f\x7f"\\]')
_IRI_ESCAPES: Final = {code: f"\\u{code:04X}" for code in [*range(0x21), *b'<>"{}|^`\\']}
_IRI_NEEDS_ESCAPE: Final = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def _iri_term(iri: str) -> str:
    if _IRI_NEEDS_ESCAPE.search(iri):
        iri = iri.translate(_IRI_ESCAPES)
    return f"<{iri}>"


def _node_term(value: str, what: str) -> str:
    if value.startswith("_:"):
        return value
    if not _ABSOLUTE_IRI.match(value):
        raise InvalidInput(
            f"{value!r} is used as {what} but is not an absolute IRI (a URL, DID or URN): "
            "JSON-LD would drop it and everything said about it, so it would not be signed."
        )
    return _iri_term(value)


def _object_term(obj: dict[str, Any]) -> str:
    kind = obj["type"]
    value = obj["value"]
    if kind == "blank node":
        return str(value)
    if kind == "IRI":
        return _node_term(value, "an id")
    if _LITERAL_NEEDS_ESCAPE.search(value):
        value = value.translate(_LITERAL_ESCAPES)
    datatype = obj["datatype"]
    if datatype == RDF_LANGSTRING:
        language = obj.get("language")
        return f'"{value}"@{language}' if language else f'"{value}"'
    if datatype == XSD_STRING:
        return f'"{value}"'
    if not isinstance(datatype, str) or not _ABSOLUTE_IRI.match(datatype):
        raise UndefinedTerms([str(datatype)])
    return f'"{value}"^^{_iri_term(datatype)}'


def _dataset_quads(
    processor: Any, expanded: list[Any], options: Any, undefined: list[str]
) -> list[Quad]:
    """Like pyld's ``to_rdf`` (node map, then triples), but refusing instead of dropping:
    undefined (relative) types and properties are appended to ``undefined``; ids that are not
    absolute IRIs raise :class:`InvalidInput`."""
    from pyld.identifier_issuer import IdentifierIssuer

    issuer = IdentifierIssuer("_:b")
    node_map: dict[str, Any] = {"@default": {}}
    processor._create_node_map(expanded, node_map, "@default", issuer)
    quads: list[Quad] = []
    for graph_name, graph in node_map.items():
        graph_term = "" if graph_name == "@default" else _node_term(graph_name, "a graph id")
        for node_id, node in graph.items():
            subject = _node_term(node_id, "an id")
            for prop, items in node.items():
                if prop == "@type":
                    for item in items:
                        if not item.startswith("_:") and not _ABSOLUTE_IRI.match(item):
                            undefined.append(item)
                            continue
                        term = _node_term(item, "a type")
                        quads.append((subject, f"<{RDF_TYPE}>", term, graph_term, f"<{RDF_TYPE}>"))
                    continue
                if prop.startswith("@"):
                    continue  # other keywords (@id, @index, ...) produce no triples
                if prop.startswith("_:") or not _ABSOLUTE_IRI.match(prop):
                    undefined.append(prop)
                    continue
                predicate, related_predicate = _iri_term(prop), f"<{prop}>"
                for item in items:
                    extra: list[dict[str, Any]] = []
                    obj = processor._object_to_rdf(item, issuer, extra, options)
                    if obj is None:
                        _refuse_dropped_object(item)
                    quads.append(
                        (subject, predicate, _object_term(obj), graph_term, related_predicate)
                    )
                    # list cells (rdf:first / rdf:rest) created for @list values
                    for triple in extra:
                        if triple["object"] is None:
                            raise InvalidInput(
                                "A list holds an id that is not an absolute IRI; it would be "
                                "dropped, so it would not be signed."
                            )
                        cell_predicate = triple["predicate"]["value"]
                        quads.append(
                            (
                                _object_term(triple["subject"]),
                                _iri_term(cell_predicate),
                                _object_term(triple["object"]),
                                graph_term,
                                f"<{cell_predicate}>",
                            )
                        )
    return quads


def _refuse_dropped_object(item: Any) -> None:
    value = item.get("@id") if isinstance(item, dict) else item
    raise InvalidInput(
        f"{value!r} is used as an id but is not an absolute IRI (a URL, DID or URN): JSON-LD "
        "would drop it, so it would not be signed."
    )


# --------------------------------------------------------------------------------------------
# RDFC-1.0 (W3C RDF Dataset Canonicalization, 2024)
# --------------------------------------------------------------------------------------------


class _IdentifierIssuer:
    """Issues ``prefix0``, ``prefix1``, ... remembering the order of the old identifiers."""

    __slots__ = ("counter", "issued", "prefix")

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counter = 0
        self.issued: dict[str, str] = {}  # insertion-ordered: the "order" of the spec

    def issue(self, old: str) -> str:
        new = self.issued.get(old)
        if new is None:
            new = f"{self.prefix}{self.counter}"
            self.counter += 1
            self.issued[old] = new
        return new

    def copy(self) -> _IdentifierIssuer:
        clone = _IdentifierIssuer(self.prefix)
        clone.counter = self.counter
        clone.issued = dict(self.issued)
        return clone


def _nquad(subject: str, predicate: str, obj: str, graph: str) -> str:
    if graph:
        return f"{subject} {predicate} {obj} {graph} .\n"
    return f"{subject} {predicate} {obj} .\n"


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Canonicalizer:
    """State of one RDFC-1.0 run (section 4.4 of the Recommendation)."""

    def __init__(self, quads: list[Quad]) -> None:
        self.quads = quads
        self.canonical = _IdentifierIssuer("_:c14n")
        # blank node -> the quads that mention it (each quad once, in input order)
        self.bnode_quads: dict[str, list[Quad]] = {}
        for quad in quads:
            for term in dict.fromkeys((quad[0], quad[2], quad[3])):
                if term.startswith("_:"):
                    self.bnode_quads.setdefault(term, []).append(quad)
        self.first_degree: dict[str, str] = {}
        self.remaining_deep_iterations = 0
        self.remaining_permutations = 0

    def run(self) -> str:
        hash_to_bnodes: dict[str, list[str]] = {}
        for bnode in self.bnode_quads:
            digest = self._hash_first_degree(bnode)
            self.first_degree[bnode] = digest
            hash_to_bnodes.setdefault(digest, []).append(bnode)

        # 4.4.3 step 5: blank nodes with a unique first-degree hash get their ids in hash
        # order. (Repeating the step cannot change those hashes, so one pass suffices.)
        non_unique: list[list[str]] = []
        for digest in sorted(hash_to_bnodes):
            bnodes = hash_to_bnodes[digest]
            if len(bnodes) > 1:
                non_unique.append(bnodes)
            else:
                self.canonical.issue(bnodes[0])

        # Bound the work on symmetric ("poison") blank-node graphs, whose cost is otherwise
        # exponential (RDFC-1.0 section 8.2). Tree-shaped JSON needs about one Hash N-Degree
        # Quads call per non-unique blank node; rdf-canonize allows exactly that by default,
        # we allow ten times as much, plus a budget of permutations.
        non_unique_count = sum(len(bnodes) for bnodes in non_unique)
        self.remaining_deep_iterations = _DEEP_ITERATIONS_PER_BLANK_NODE * non_unique_count
        self.remaining_permutations = _MAX_PERMUTATIONS

        # step 6
        for bnodes in non_unique:
            results: list[tuple[str, _IdentifierIssuer]] = []
            for bnode in bnodes:
                if bnode in self.canonical.issued:
                    continue
                issuer = _IdentifierIssuer("_:b")
                issuer.issue(bnode)
                results.append(self._hash_n_degree(bnode, issuer))
            results.sort(key=lambda result: result[0])
            for _, issuer in results:
                for existing in issuer.issued:
                    self.canonical.issue(existing)

        # step 7: relabel and serialize
        issued = self.canonical.issued
        lines = []
        for subject, predicate, obj, graph, _ in self.quads:
            if subject.startswith("_:"):
                subject = issued[subject]
            if obj.startswith("_:"):
                obj = issued[obj]
            if graph.startswith("_:"):
                graph = issued[graph]
            lines.append(_nquad(subject, predicate, obj, graph))
        lines.sort()
        return "".join(lines)

    def _hash_first_degree(self, bnode: str) -> str:
        """4.6 Hash First Degree Quads."""
        lines = []
        for subject, predicate, obj, graph, _ in self.bnode_quads[bnode]:
            if subject.startswith("_:"):
                subject = "_:a" if subject == bnode else "_:z"
            if obj.startswith("_:"):
                obj = "_:a" if obj == bnode else "_:z"
            if graph.startswith("_:"):
                graph = "_:a" if graph == bnode else "_:z"
            lines.append(_nquad(subject, predicate, obj, graph))
        lines.sort()
        return _sha256_hex("".join(lines))

    def _hash_related(
        self, related: str, quad: Quad, issuer: _IdentifierIssuer, position: str
    ) -> str:
        """4.7 Hash Related Blank Node."""
        identifier = self.canonical.issued.get(related) or issuer.issued.get(related)
        if identifier is None:
            identifier = self.first_degree[related]
        predicate = quad[4] if position != "g" else ""
        return _sha256_hex(f"{position}{predicate}{identifier}")

    def _hash_n_degree(
        self, bnode: str, issuer: _IdentifierIssuer
    ) -> tuple[str, _IdentifierIssuer]:
        """4.8 Hash N-Degree Quads."""
        if self.remaining_deep_iterations <= 0:
            raise _too_complex()
        self.remaining_deep_iterations -= 1

        hash_to_related: dict[str, list[str]] = {}
        for quad in self.bnode_quads[bnode]:
            for term, position in ((quad[0], "s"), (quad[2], "o"), (quad[3], "g")):
                if term.startswith("_:") and term != bnode:
                    digest = self._hash_related(term, quad, issuer, position)
                    hash_to_related.setdefault(digest, []).append(term)

        data = hashlib.sha256()
        for related_hash in sorted(hash_to_related):
            data.update(related_hash.encode("ascii"))
            chosen_path = ""
            chosen_issuer: _IdentifierIssuer | None = None
            for permutation in itertools.permutations(sorted(hash_to_related[related_hash])):
                self.remaining_permutations -= 1
                if self.remaining_permutations < 0:
                    raise _too_complex()
                issuer_copy = issuer.copy()
                path = ""
                recursion: list[str] = []
                skip = False
                for related in permutation:
                    canonical_id = self.canonical.issued.get(related)
                    if canonical_id is not None:
                        path += canonical_id
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += issuer_copy.issue(related)
                    if chosen_path and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                for related in recursion:
                    result_hash, result_issuer = self._hash_n_degree(related, issuer_copy)
                    path += issuer_copy.issue(related)
                    path += f"<{result_hash}>"
                    issuer_copy = result_issuer
                    if chosen_path and path > chosen_path:
                        skip = True
                        break
                if skip:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path = path
                    chosen_issuer = issuer_copy
            data.update(chosen_path.encode("utf-8"))
            if chosen_issuer is not None:
                issuer = chosen_issuer
        return data.hexdigest(), issuer


def _too_complex() -> InvalidInput:
    return InvalidInput(
        "The document has too many interlinked, look-alike blank nodes (objects without an id) "
        "to canonicalize safely; give them ids."
    )


def _rdfc10(quads: list[Quad]) -> str:
    # A dataset is a set: identical quads count once (pyld's node map rarely produces any).
    return _Canonicalizer(list(dict.fromkeys(quads))).run()
