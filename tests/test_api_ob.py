"""The Open Badges 3.0 API: discovery, the backpack's credentials (upsert, paging, since),
the profile, and errors as the specification's Imsx_StatusInfo."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from core.service import IssuedCredential
from lti_tool.api.oauth_store import (
    OB_SCOPES,
    SCOPE_CREDENTIAL_READONLY,
    SCOPE_PROFILE_READONLY,
)
from tests.conftest import STANDARDS
from tests.oauth_flow import ACHIEVEMENT, ApiClient, Site, bearer, make_site

CREDENTIALS = "/ims/ob/v3p0/credentials"
PROFILE = "/ims/ob/v3p0/profile"
SCHEMAS = Path(__file__).resolve().parents[1] / "core/schemas/ob3"
SPEC_OPENAPI = STANDARDS / "schemas/ob3/openapi/imsob_v3p0.json"
FOREIGN = STANDARDS / "vectors/1edtech-validator/ob30/simple-did-key-method.json"


def _schema(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / name).read_text()))


def _spec_component(name: str) -> dict[str, Any]:
    """A schema of the specification's OpenAPI file, with its components for references."""
    spec = json.loads(SPEC_OPENAPI.read_text())
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def _assert_status_info(response: Any, status: int, code_minor: str) -> str:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    jsonschema.validate(body, _schema("ob_v3p0_imsx_statusinfo_schema.json"))
    assert (
        body["imsx_codeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == code_minor
    )
    return str(body["imsx_description"])


@dataclass
class Backpack:
    """A site, a logged-in API client and its access token."""

    site: Site
    client: ApiClient
    token: str

    def post(self, body: str, content_type: str = "application/json") -> Any:
        return self.client.browser.post(
            CREDENTIALS, data=body, content_type=content_type, headers=bearer(self.token)
        )

    def get(self, url: str = CREDENTIALS) -> Any:
        return self.client.browser.get(url, headers=bearer(self.token))

    def issue(
        self, name: str = ACHIEVEMENT["name"], proof_format: str = "rdfc"
    ) -> IssuedCredential:
        return self.site.service.issue(
            "rotterdam",
            {**ACHIEVEMENT, "name": name},
            self.site.user.email,
            proof_format=proof_format,
        )


@pytest.fixture
def backpack(tmp_path: Path) -> Backpack:
    site = make_site(tmp_path)
    browser = site.client()
    client = ApiClient.register(browser)
    site.log_in(browser)
    return Backpack(site, client, client.tokens()["access_token"])


def test_discovery_is_the_specifications_document_profiled_for_this_server(
    backpack: Backpack,
) -> None:
    response = backpack.site.client().get("/ims/ob/v3p0/discovery")
    assert response.status_code == 200
    sdd = response.get_json()
    jsonschema.validate(sdd, _spec_component("ServiceDescriptionDocument"))
    assert sdd["servers"] == [
        {"url": "http://badges.test/ims/ob/v3p0", "description": "badgebridge"}
    ]
    scheme = sdd["components"]["securitySchemes"]["OAuth2ACG"]
    assert scheme["x-imssf-registrationUrl"] == "http://badges.test/oauth/register"
    flow = scheme["flows"]["authorizationCode"]
    assert flow["tokenUrl"] == "http://badges.test/oauth/token"
    assert set(flow["scopes"]) == set(OB_SCOPES)
    # The five operations of the specification are all there.
    operations = {op["operationId"] for path in sdd["paths"].values() for op in path.values()}
    assert operations == {
        "getCredentials",
        "upsertCredential",
        "getProfile",
        "putProfile",
        "getServiceDescription",
    }


def test_upsert_creates_then_replaces_and_echoes_the_credential(backpack: Backpack) -> None:
    issued = backpack.issue()
    created = backpack.post(issued.text)
    assert created.status_code == 201
    assert created.get_data(as_text=True) == issued.text
    replaced = backpack.post(issued.text)
    assert replaced.status_code == 200
    listed = backpack.get().get_json()
    jsonschema.validate(listed, _schema("ob_v3p0_getopenbadgecredentialsresponse_schema.json"))
    assert listed == {"credential": [issued.document], "compactJwsString": []}


def test_a_vc_jwt_is_kept_and_listed_as_a_compact_jws(backpack: Backpack) -> None:
    issued = backpack.issue(proof_format="jwt")
    created = backpack.post(issued.text, "text/plain")
    assert created.status_code == 201
    assert created.mimetype == "text/plain"
    assert created.get_data(as_text=True) == issued.text
    assert backpack.post(issued.text, "text/plain").status_code == 200
    listed = backpack.get().get_json()
    assert listed == {"credential": [], "compactJwsString": [issued.text]}


def test_a_credential_of_another_issuer_that_verifies_is_kept(backpack: Backpack) -> None:
    foreign = FOREIGN.read_text()
    assert backpack.post(foreign).status_code == 201
    assert backpack.get().get_json()["credential"] == [json.loads(foreign)]


def test_a_credential_that_does_not_verify_is_refused_and_not_kept(backpack: Backpack) -> None:
    tampered = backpack.issue().document
    assert isinstance(tampered, dict)
    tampered["credentialSubject"]["achievement"]["name"] = "Burgemeester"
    description = _assert_status_info(backpack.post(json.dumps(tampered)), 400, "invalid_data")
    assert "does not verify" in description
    assert backpack.get().headers["X-Total-Count"] == "0"


def test_upsert_refuses_what_is_not_an_open_badges_3_credential(backpack: Backpack) -> None:
    _assert_status_info(backpack.post("not a credential", "text/plain"), 400, "invalid_data")
    _assert_status_info(
        backpack.post("{}", "application/x-www-form-urlencoded"), 400, "invalid_data"
    )
    _assert_status_info(backpack.post("[1, 2]"), 400, "invalid_data")
    ob2 = STANDARDS / "vectors/1edtech-validator/ob20/assertion-with-data-image.json"
    _assert_status_info(backpack.post(ob2.read_text()), 400, "invalid_data")


def test_paging_with_total_count_and_links(backpack: Backpack) -> None:
    for name in ("Eerste badge", "Tweede badge", "Derde badge"):
        assert backpack.post(backpack.issue(name).text).status_code == 201
    first = backpack.get(f"{CREDENTIALS}?limit=2")
    assert first.headers["X-Total-Count"] == "3"
    assert [c["name"] for c in first.get_json()["credential"]] == ["Eerste badge", "Tweede badge"]
    links = first.headers["Link"]
    assert '<http://badges.test/ims/ob/v3p0/credentials?limit=2&offset=2>; rel="next"' in links
    assert '<http://badges.test/ims/ob/v3p0/credentials?limit=2&offset=0>; rel="first"' in links
    assert '<http://badges.test/ims/ob/v3p0/credentials?limit=2&offset=2>; rel="last"' in links
    assert 'rel="prev"' not in links
    last = backpack.get(f"{CREDENTIALS}?limit=2&offset=2")
    assert [c["name"] for c in last.get_json()["credential"]] == ["Derde badge"]
    assert 'rel="next"' not in last.headers["Link"]
    assert (
        '<http://badges.test/ims/ob/v3p0/credentials?limit=2&offset=0>; rel="prev"'
        in last.headers["Link"]
    )


def test_since_keeps_credentials_issued_after_it(backpack: Backpack) -> None:
    backpack.post(FOREIGN.read_text())  # issued in 2022
    backpack.post(backpack.issue().text)  # issued now
    recent = backpack.get(f"{CREDENTIALS}?since=2023-01-01T00:00:00")
    assert recent.headers["X-Total-Count"] == "1"
    assert (
        recent.get_json()["credential"][0]["issuer"]["id"] == "http://badges.test/issuers/rotterdam"
    )
    assert "since=2023-01-01T00%3A00%3A00" in recent.headers["Link"]
    assert backpack.get(f"{CREDENTIALS}?since=2020-01-01T00:00:00Z").headers["X-Total-Count"] == "2"


@pytest.mark.parametrize("query", ["limit=0", "limit=abc", "offset=-1", "since=yesterday"])
def test_malformed_query_parameters_are_refused(backpack: Backpack, query: str) -> None:
    _assert_status_info(backpack.get(f"{CREDENTIALS}?{query}"), 400, "invalid_query_parameter")


def test_each_person_sees_only_their_own_backpack(backpack: Backpack) -> None:
    backpack.post(backpack.issue().text)
    other_user = backpack.site.service.accounts.create_user(
        "noor@example.org", "Noor Bakker", None, "admin"
    )
    browser = backpack.site.client()
    backpack.site.log_in(browser, other_user)
    client = ApiClient.register(browser)
    other = client.tokens()["access_token"]
    response = browser.get(CREDENTIALS, headers=bearer(other))
    assert response.headers["X-Total-Count"] == "0"
    assert browser.get(PROFILE, headers=bearer(other)).get_json()["name"] == "Noor Bakker"


def test_get_and_put_profile(backpack: Backpack) -> None:
    profile = backpack.get(PROFILE)
    assert profile.status_code == 200
    document = profile.get_json()
    jsonschema.validate(document, _schema("ob_v3p0_profile_schema.json"))
    assert document["name"] == "Sam de Vries"
    assert document["email"] == "sam.devries@example.org"
    updated = backpack.client.browser.put(
        PROFILE, json={**document, "name": "Sam van Dijk"}, headers=bearer(backpack.token)
    )
    assert updated.status_code == 200
    assert updated.get_json()["name"] == "Sam van Dijk"
    again = backpack.get(PROFILE).get_json()
    assert again == {**document, "name": "Sam van Dijk"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"phone": "010-1234567"}, "cannot keep: phone"),
        ({"email": "someone.else@example.org"}, "account page"),
        ({"id": "https://elsewhere.example/profiles/1"}, "profile's id"),
        ({"name": 42}, "Profile"),
    ],
)
def test_put_profile_refuses_what_it_cannot_keep(
    backpack: Backpack, change: dict[str, Any], words: str
) -> None:
    document = {**backpack.get(PROFILE).get_json(), **change}
    response = backpack.client.browser.put(PROFILE, json=document, headers=bearer(backpack.token))
    assert words in _assert_status_info(response, 400, "invalid_data")
    assert backpack.get(PROFILE).get_json()["name"] == "Sam de Vries"


def test_each_operation_needs_its_own_scope(backpack: Backpack) -> None:
    browser = backpack.client.browser
    read_only = backpack.client.tokens(
        scope=f"{SCOPE_CREDENTIAL_READONLY} {SCOPE_PROFILE_READONLY}"
    )
    auth = bearer(read_only["access_token"])
    assert browser.get(CREDENTIALS, headers=auth).status_code == 200
    assert browser.get(PROFILE, headers=auth).status_code == 200
    issued = backpack.issue()
    upsert = browser.post(
        CREDENTIALS, data=issued.text, content_type="application/json", headers=auth
    )
    _assert_status_info(upsert, 403, "forbidden")
    put = browser.put(PROFILE, json=backpack.get(PROFILE).get_json(), headers=auth)
    _assert_status_info(put, 403, "forbidden")


def test_other_methods_and_paths_answer_with_status_info(backpack: Backpack) -> None:
    browser = backpack.client.browser
    not_allowed = browser.delete(CREDENTIALS, headers=bearer(backpack.token))
    _assert_status_info(not_allowed, 405, "not_allowed")
    assert "GET" in not_allowed.headers["Allow"]
    _assert_status_info(browser.get("/ims/ob/v3p0/assertions"), 404, "not_found")


def test_forgetting_a_persons_backpack(backpack: Backpack) -> None:
    backpack.post(backpack.issue().text)
    backpack.post(FOREIGN.read_text())
    assert backpack.site.service.held_credentials.forget(backpack.site.user.id) == 2
    assert backpack.get().headers["X-Total-Count"] == "0"
