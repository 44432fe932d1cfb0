"""Editing a playlist: in core on SQLite and PostgreSQL (the same checks as a new playlist; new
steps replace the old ones in one transaction), and through the organiser's edit page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.catalogue import PlaylistStepSpec, PlaylistView
from core.errors import InvalidInput, NotFound
from core.service import BadgeService
from tests.organiser_site import (
    ADMIN,
    ROTTERDAM_ORGANISER,
    UTRECHT_ORGANISER,
    OrganiserSite,
    build_site,
    csrf_token,
    post_form,
)

EXTERNAL = "moodle:course-12:module-3"


def _achievement(service: BadgeService, name: str, issuer: str = "rotterdam") -> str:
    return service.catalogue.create_achievement(
        issuer,
        name=name,
        description=f"{name}: a badge of the playlist tests.",
        criteria_narrative="Take part.",
    ).public_id


@pytest.fixture
def pathway(service: BadgeService) -> dict[str, str]:
    """A Rotterdam playlist of three steps (an activity, a badge, an external module), two of
    them needed; and a spare badge to add."""
    service.create_issuer("rotterdam", "Rotterdam City of Learning")
    catalogue = service.catalogue
    photo = _achievement(service, "Stadsfotograaf")
    walk = _achievement(service, "Wijkwandelaar")
    spare = _achievement(service, "Havenkenner")
    badge = _achievement(service, "Ontdek Rotterdam")
    activity = catalogue.create_activity(
        "rotterdam",
        title="Fotografeer je wijk",
        description="",
        achievement_public_id=photo,
        city="Rotterdam",
    ).public_id
    playlist = catalogue.create_playlist(
        "rotterdam",
        title="Ontdek Rotterdam",
        description="Three ways to explore.",
        achievement_public_id=badge,
        steps=[
            PlaylistStepSpec.of_activity(activity),
            PlaylistStepSpec.of_achievement(walk),
            PlaylistStepSpec.of_external(EXTERNAL, title="Moodle: beeldrecht"),
        ],
        rule="n_of_m",
        required_count=2,
    )
    return {
        "playlist": playlist.public_id,
        "photo": photo,
        "walk": walk,
        "spare": spare,
        "badge": badge,
        "activity": activity,
    }


def _steps(view: PlaylistView) -> list[tuple[int, str, str]]:
    return [(step.position, step.kind, step.title) for step in view.steps]


def test_title_description_and_rule_change_and_the_steps_stay(
    service: BadgeService, pathway: dict[str, str]
) -> None:
    catalogue = service.catalogue
    before = catalogue.get_playlist(pathway["playlist"])
    renamed = catalogue.update_playlist(
        pathway["playlist"], title="Rotterdam ontdekt", description="  "
    )
    assert (renamed.title, renamed.description) == ("Rotterdam ontdekt", "")
    assert (renamed.rule, renamed.required_count) == ("n_of_m", 2)  # kept
    assert renamed.steps == before.steps
    assert renamed.achievement_public_id == pathway["badge"]

    # The same number, now needed from three steps: only the number changes.
    assert catalogue.update_playlist(pathway["playlist"], required_count=3).required_count == 3
    # "all" drops the number; back to "n_of_m" needs one again.
    every = catalogue.update_playlist(pathway["playlist"], rule="all")
    assert (every.rule, every.required_count) == ("all", 3)
    with pytest.raises(InvalidInput, match="from 1 to 3"):
        catalogue.update_playlist(pathway["playlist"], rule="n_of_m")
    one = catalogue.update_playlist(pathway["playlist"], rule="n_of_m", required_count=1)
    assert (one.rule, one.required_count) == ("n_of_m", 1)
    assert catalogue.get_playlist(pathway["playlist"]) == one
    assert catalogue.playlist_progress(pathway["playlist"], {pathway["walk"]}).met


def test_new_steps_replace_the_old_ones_in_their_order(
    service: BadgeService, pathway: dict[str, str]
) -> None:
    catalogue = service.catalogue
    saved = catalogue.update_playlist(
        pathway["playlist"],
        steps=[
            PlaylistStepSpec.of_achievement(pathway["spare"], title="Eerst de haven"),
            PlaylistStepSpec.of_activity(pathway["activity"]),
        ],
        required_count=2,
    )
    assert _steps(saved) == [
        (1, "achievement", "Eerst de haven"),
        (2, "activity", "Fotografeer je wijk"),
    ]
    assert catalogue.get_playlist(pathway["playlist"]) == saved
    # The removed steps no longer count, the new one does.
    assert [p.public_id for p in catalogue.playlists_containing_achievement(EXTERNAL)] == []
    assert catalogue.playlists_containing_achievement(pathway["walk"]) == []
    assert [p.public_id for p in catalogue.playlists_containing_achievement(pathway["spare"])] == [
        pathway["playlist"]
    ]
    progress = catalogue.playlist_progress(pathway["playlist"], {pathway["spare"], pathway["walk"]})
    assert [s.done for s in progress.steps] == [True, False] and not progress.met
    assert catalogue.playlist_progress(
        pathway["playlist"], {pathway["spare"], pathway["photo"]}
    ).met


#: Edits refused, and what the refusal says. Step names are resolved in the test.
BAD_EDITS: list[tuple[dict[str, Any], str]] = [
    ({"required_count": 4}, "from 1 to 3"),
    ({"required_count": 0}, "from 1 to 3"),
    ({"required_count": True}, "from 1 to 3"),
    ({"rule": "all", "required_count": 2}, "only applies"),
    ({"rule": "most"}, "playlist rule"),
    ({"title": " "}, "title is required"),
    ({"title": "Two\nlines"}, "control characters"),
    ({"description": 7}, "must be text"),
    ({"steps": []}, "at least one step"),
    ({"steps": "SPARE"}, "as a list"),
    ({"steps": [{"achievement_public_id": "x"}]}, "PlaylistStepSpec"),
    ({"steps": ["SPARE"]}, "from 1 to 1"),  # two steps still needed
    ({"steps": ["SPARE", "BADGE"], "required_count": 1}, "own badge"),
    ({"steps": ["SPARE", "SPARE"]}, "same achievement"),
    ({"steps": ["ACTIVITY", "PHOTO"]}, "same achievement"),
    ({"steps": ["SPARE", PlaylistStepSpec.of_activity("missing")]}, "missing"),
    ({"steps": [PlaylistStepSpec.of_external("has spaces"), "SPARE"]}, "spaces"),
]


def test_bad_edits_are_refused_and_change_nothing(
    service: BadgeService, pathway: dict[str, str]
) -> None:
    catalogue = service.catalogue
    named = {
        "SPARE": PlaylistStepSpec.of_achievement(pathway["spare"]),
        "BADGE": PlaylistStepSpec.of_achievement(pathway["badge"]),
        "PHOTO": PlaylistStepSpec.of_achievement(pathway["photo"]),
        "ACTIVITY": PlaylistStepSpec.of_activity(pathway["activity"]),
    }
    before = catalogue.get_playlist(pathway["playlist"])
    for changes, message in BAD_EDITS:
        values = dict(changes)
        if isinstance(values.get("steps"), list):
            values["steps"] = [
                named.get(s, s) if isinstance(s, str) else s for s in values["steps"]
            ]
        with pytest.raises((InvalidInput, NotFound), match=message):
            catalogue.update_playlist(pathway["playlist"], **values)
        assert catalogue.get_playlist(pathway["playlist"]) == before, changes
    with pytest.raises(NotFound):
        catalogue.update_playlist("no-such-playlist", title="Nieuw")
    catalogue.archive_playlist(pathway["playlist"])
    with pytest.raises(InvalidInput, match="archived"):
        catalogue.update_playlist(pathway["playlist"], title="Nieuw")


# -- the edit page ---------------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path: Path) -> Iterator[OrganiserSite]:
    built = build_site(tmp_path)
    yield built
    built.service.engine.dispose()


def _utrecht_playlist(site: OrganiserSite) -> dict[str, str]:
    service = site.service
    first = _achievement(service, "Stap een", "utrecht")
    second = _achievement(service, "Stap twee", "utrecht")
    finale = _achievement(service, "Fotografie-route", "utrecht")
    playlist = service.catalogue.create_playlist(
        "utrecht",
        title="Fotografie in Utrecht",
        description="Twee stappen.",
        achievement_public_id=finale,
        steps=[
            PlaylistStepSpec.of_achievement(first),
            PlaylistStepSpec.of_external(EXTERNAL, title="Beeldrecht"),
        ],
    )
    return {"playlist": playlist.public_id, "first": first, "second": second}


def test_the_edit_page_shows_the_playlist_and_saves_changes(site: OrganiserSite) -> None:
    made = _utrecht_playlist(site)
    organiser = site.logged_in(UTRECHT_ORGANISER)
    path = f"/admin/issuers/utrecht/playlists/{made['playlist']}/edit"
    overview = organiser.get(f"/admin/issuers/utrecht/playlists/{made['playlist']}")
    assert f'href="{path}"' in overview.get_data(as_text=True)
    page = organiser.get(path).get_data(as_text=True)
    assert "<h1>Edit Fotografie in Utrecht</h1>" in page
    assert f'<option value="achievement:{made["first"]}" selected>' in page
    assert f'value="{EXTERNAL}"' in page and 'value="Beeldrecht"' in page
    assert 'name="achievement"' not in page  # the badge cannot change
    assert 'name="step_3_choice"' in page and 'name="step_4_choice"' not in page  # 2 + 2 rows

    response = post_form(
        organiser,
        path,
        {
            "step_rows": "4",
            "title": "Fotografie-route Utrecht",
            "description": "",
            "rule": "n_of_m",
            "required_count": "2",
            "step_0_order": "2",
            "step_0_choice": f"achievement:{made['first']}",
            "step_1_order": "3",
            "step_1_external": EXTERNAL,
            "step_1_title": "Beeldrecht",
            "step_2_order": "1",
            "step_2_choice": f"achievement:{made['second']}",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(f"/playlists/{made['playlist']}")
    saved = site.service.catalogue.get_playlist(made["playlist"])
    assert (saved.title, saved.description, saved.rule, saved.required_count) == (
        "Fotografie-route Utrecht",
        "",
        "n_of_m",
        2,
    )
    assert _steps(saved) == [
        (1, "achievement", "Stap twee"),
        (2, "achievement", "Stap een"),
        (3, "external", "Beeldrecht"),
    ]
    shown = organiser.get(response.headers["Location"]).get_data(as_text=True)
    assert "The playlist Fotografie-route Utrecht was saved." in shown


def test_a_step_no_longer_offered_is_kept_by_the_edit_form(site: OrganiserSite) -> None:
    made = _utrecht_playlist(site)
    site.service.catalogue.archive_achievement(made["first"])
    organiser = site.logged_in(UTRECHT_ORGANISER)
    path = f"/admin/issuers/utrecht/playlists/{made['playlist']}/edit"
    page = organiser.get(path).get_data(as_text=True)
    # Still selected (under its step title), so saving the form as it is keeps the step.
    assert f'<option value="achievement:{made["first"]}" selected>Stap een</option>' in page


def test_the_edit_form_refuses_bad_input_in_dutch_and_changes_nothing(
    site: OrganiserSite,
) -> None:
    made = _utrecht_playlist(site)
    before = site.service.catalogue.get_playlist(made["playlist"])
    organiser = site.logged_in(UTRECHT_ORGANISER, language="nl")
    path = f"/admin/issuers/utrecht/playlists/{made['playlist']}/edit"
    response = post_form(
        organiser,
        path,
        {
            "step_rows": "abc",
            "title": "",
            "rule": "n_of_m",
            "required_count": "5",
            "step_0_choice": f"achievement:{made['first']}",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Fotografie in Utrecht bewerken" in page
    assert (
        '<a href="#required_count">Er zijn meer stappen nodig dan de leerroute heeft.</a>' in page
    )
    assert site.service.catalogue.get_playlist(made["playlist"]) == before


def test_only_the_issuers_organisers_edit_its_live_playlists(site: OrganiserSite) -> None:
    made = _utrecht_playlist(site)
    path = f"/admin/issuers/utrecht/playlists/{made['playlist']}/edit"
    other = site.logged_in(ROTTERDAM_ORGANISER)
    assert other.get(path).status_code == 403
    token = csrf_token(other, "/admin/account/password")
    assert other.post(path, data={"csrf_token": token, "title": "Overgenomen"}).status_code == 403
    # Under Rotterdam's address, Utrecht's playlist is not found, even by an administrator.
    assert site.logged_in(ADMIN).get(path.replace("/utrecht/", "/rotterdam/")).status_code == 404
    organiser = site.logged_in(UTRECHT_ORGANISER)
    site.service.catalogue.archive_playlist(made["playlist"])
    assert organiser.get(path).status_code == 404
    assert site.service.catalogue.get_playlist(made["playlist"]).title == "Fotografie in Utrecht"
