"""The bundled competence frameworks: lookup, search, validation and OB 3.0 alignments."""

from __future__ import annotations

import json
import re

import pytest

from core import frameworks
from core.errors import InvalidInput, NotFound
from core.models.ob3 import Alignment, parse_node
from tests.conftest import REPO, SHARED

ESCO = "http://data.europa.eu/esco/skill/0a1b2c3d-0000-4000-8000-000000000001"


def test_the_package_data_is_the_shared_framework_data() -> None:
    # Drift between the shipped copy and shared/frameworks would change skill ids silently.
    shipped = sorted(p.name for p in (REPO / "core" / "frameworks").glob("*.json"))
    source = sorted(p.name for p in (SHARED / "frameworks").glob("*.json"))
    assert shipped == source
    for name in shipped:
        ours = json.loads((REPO / "core" / "frameworks" / name).read_text("utf-8"))
        theirs = json.loads((SHARED / "frameworks" / name).read_text("utf-8"))
        assert ours == theirs, name


def test_all_five_frameworks_load_with_their_competences() -> None:
    counts = {f.id: len(f.skills) for f in frameworks.frameworks()}
    assert counts == {
        "slo-21": 11,
        "digcomp-2.2": 21,
        "entrecomp": 15,
        "lifecomp": 9,
        "greencomp": 12,
    }
    every = frameworks.skills()
    assert len({s.id for s in every}) == len(every) == 68
    assert all(s.id.startswith(f"{s.framework_id}:") for s in every)


def test_a_skill_is_found_by_its_stable_id_with_area_and_dutch_name() -> None:
    digital = frameworks.skill("digcomp-2.2:4.2")
    assert digital.name_en == "Protecting personal data and privacy"
    assert digital.area is not None and digital.area.name_en == "Safety"
    assert digital.framework_name == "DigComp 2.2"
    slo = frameworks.skill("slo-21:samenwerken")
    assert slo.name("nl") == "Samenwerken"
    assert slo.name("en") == "Collaboration"
    # No official Dutch wording: Dutch readers see the English name.
    assert digital.name("nl") == digital.name_en


def test_an_unknown_skill_or_framework_is_not_found() -> None:
    with pytest.raises(NotFound, match=re.escape("'digcomp-2.2:9.9'")):
        frameworks.skill("digcomp-2.2:9.9")
    with pytest.raises(NotFound, match="digcomp-3"):
        frameworks.framework("digcomp-3")


def test_search_matches_english_and_dutch_names_ignoring_case_and_accents() -> None:
    assert [s.id for s in frameworks.search_skills("SAMENWERKEN")] == ["slo-21:samenwerken"]
    assert "slo-21:samenwerken" in [s.id for s in frameworks.search_skills("collaboration")]
    assert [s.id for s in frameworks.search_skills("crÉatief denken")] == [
        "slo-21:creatief-denken-en-handelen"
    ]
    # Every word must match; the framework filter narrows.
    safety = frameworks.search_skills("safety", framework_id="digcomp-2.2")
    assert {s.id for s in safety} == {f"digcomp-2.2:4.{n}" for n in range(1, 5)}
    assert frameworks.search_skills("safety privacy")[0].id == "digcomp-2.2:4.2"
    assert frameworks.search_skills("no such competence anywhere") == []


def test_validation_names_every_unknown_id_and_keeps_order_without_duplicates() -> None:
    ids = ["lifecomp:P1", "greencomp:2.1", "lifecomp:P1"]
    assert frameworks.validate_skill_ids(ids) == ("lifecomp:P1", "greencomp:2.1")
    with pytest.raises(InvalidInput) as raised:
        frameworks.validate_skill_ids(["lifecomp:P1", "lifecomp:P9", "digcomp:1.1"])
    assert "lifecomp:P9" in raised.value.message and "digcomp:1.1" in raised.value.message
    with pytest.raises(InvalidInput, match="list"):
        frameworks.validate_skill_ids("lifecomp:P1")
    # ESCO URIs only where they are allowed.
    with pytest.raises(InvalidInput, match="esco"):
        frameworks.validate_skill_ids([ESCO])
    assert frameworks.validate_skill_ids([ESCO], allow_esco=True) == (ESCO,)


@pytest.mark.parametrize(
    "uri",
    [
        ESCO.replace("http://", "https://"),
        frameworks.ESCO_SKILL_PREFIX + "0A1B2C3D-0000-4000-8000-000000000001",
        "http://data.europa.eu/esco/occupation/0a1b2c3d-0000-4000-8000-000000000001",
        ESCO + "/",
        "digital skills",
    ],
)
def test_malformed_esco_uris_are_refused_by_name(uri: str) -> None:
    assert frameworks.validate_esco_skill_uris([ESCO]) == (ESCO,)
    with pytest.raises(InvalidInput) as raised:
        frameworks.validate_esco_skill_uris([ESCO, uri])
    assert repr(uri) in raised.value.message


def test_alignments_are_valid_ob3_alignments_with_extension_target_types() -> None:
    made = [
        frameworks.skill_alignment("entrecomp:2.3"),
        frameworks.esco_alignment(ESCO),
        frameworks.eqf_level_alignment(5),
        frameworks.nlqf_level_alignment("entry"),
    ]
    for alignment in made:
        parsed = parse_node(Alignment, alignment, what="alignment")
        assert parsed.target_type is not None and parsed.target_type.startswith("ext:")
    competence = made[0]
    assert competence["targetCode"] == "entrecomp:2.3"
    assert competence["targetFramework"] == "EntreComp 2016"
    assert made[1]["targetUrl"] == ESCO
    assert made[3]["targetName"] == "NLQF entry level"


def test_alignments_are_fresh_copies_and_need_no_file_reads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frameworks.skill_alignment("digcomp-2.2:1.1")  # loaded once per process

    def no_reading(filename: str) -> None:
        raise AssertionError(f"read {filename} again")

    monkeypatch.setattr(frameworks, "_read", no_reading)
    first = frameworks.skill_alignment("digcomp-2.2:1.1")
    first["targetName"] = "changed"
    first["type"].append("Other")
    again = frameworks.skill_alignment("digcomp-2.2:1.1")
    assert again["targetName"] != "changed"
    assert again["type"] == ["Alignment"]


def test_the_eu_microcredential_elements_are_listed() -> None:
    elements = frameworks.microcredential_elements()
    assert len(elements) == 16
    assert sum(e.mandatory for e in elements) == 11
    assert "eu-mc:notional-workload" in {e.id for e in elements}
