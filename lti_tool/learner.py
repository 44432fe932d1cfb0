"""The pages of people who earn badges (under ``/me``): their badges with a share setting per
badge, an export of everything as a zip, and the erasure of their data.

A learner logs in with an account linked to their learner record (``users.learner_id``;
learner accounts have the role ``learner``). Every view needs that log-in and every form the
CSRF token (:func:`lti_tool.auth.protect_blueprint`).
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from core.accounts import LEARNER_ROLE
from core.errors import InvalidInput, NotFound
from core.learner_badges import VISIBILITIES, LearnerCredential
from core.service import BadgeService
from lti_tool.auth import end_session, logged_in_user, protect_blueprint
from lti_tool.badge_images import baked_badge_png
from lti_tool.credential_display import achievement_of, credential_json, image_url_of
from lti_tool.i18n import format_datetime, ngettext
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

learner_pages = Blueprint("learner", __name__, url_prefix="/me")
protect_blueprint(learner_pages)

#: The export stops adding files beyond this many bytes (before compression), and says so.
MAX_EXPORT_BYTES: Final = 200_000_000
#: Backpack credentials read per query while exporting.
_BACKPACK_PAGE: Final = 200
_UNSAFE_NAME: Final = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class LearnerAccount:
    """The logged-in person and the learner they earn badges as."""

    user_id: int
    role: str
    name: str
    learner_public_id: str


def learner_account(*, for_form: bool = False) -> LearnerAccount:
    """The logged-in account's learner; a page that says this account earns no badges
    otherwise (403 for a form sent from it)."""
    user = logged_in_user()
    learner = badge_service().learner_badges.learner_of_account(user.id)
    if learner is None:
        page = render_template("learner/no_badges.html")
        abort(Response(page, status=403 if for_form else 200))
    return LearnerAccount(user.id, user.role, user.name, learner)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- my badges ----------------------------------------------------------------------------------


@learner_pages.get("/")
def home() -> WerkzeugResponse:
    """``/me`` is the badge list."""
    return redirect(url_for("learner.badges"))


def credential_token(credential_id: str) -> str:
    """The last part of a credential's address (``/credentials/<token>``)."""
    return credential_id.rsplit("/", 1)[-1]


@learner_pages.get("/badges")
def badges() -> Response:
    """The learner's badges, newest first, each with its share setting."""
    account = learner_account()
    service = badge_service()
    held = service.learner_badges.credentials_of(account.learner_public_id)
    page = render_template(
        "learner/badges.html",
        account=account,
        badges=held,
        token_of=credential_token,
    )
    return _no_store(Response(page))


@learner_pages.post("/badges/share")
def share() -> WerkzeugResponse:
    """Make one badge public or private."""
    account = learner_account(for_form=True)
    credential_id = request.form.get("credential", "")
    visibility = request.form.get("visibility", "")
    if visibility not in VISIBILITIES:
        abort(400)
    try:
        badge_service().learner_badges.set_visibility(
            account.learner_public_id, credential_id, visibility
        )
    except NotFound:
        abort(404)
    if visibility == "public":
        flash(_("The badge is public now: anyone with its link can see it."), "success")
    else:
        flash(_("The badge is private now: only you and its issuer can see it."), "success")
    target = url_for("learner.badges") + f"#badge-{credential_token(credential_id)}"
    return redirect(target, code=303)


# -- export -------------------------------------------------------------------------------------


class _Chunks:
    """A write-only file for :class:`zipfile.ZipFile` that hands out what was written so far
    (no ``tell``/``seek``, so zipfile writes a streamable archive with data descriptors)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing to flush: the parts are taken by :meth:`take`."""

    def close(self) -> None:
        """Nothing to close: the response ends when the last part was taken."""

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def file_stem(name: str, number: int) -> str:
    """A file name stem for a badge: its number and a plain-ASCII slug of its name."""
    folded = unicodedata.normalize("NFKD", name)
    ascii_name = folded.encode("ascii", "ignore").decode().lower()
    slug = _UNSAFE_NAME.sub("-", ascii_name).strip("-")[:50].rstrip("-")
    return f"{number:03d}-{slug or 'badge'}"


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    moment = max(moment, datetime(1980, 1, 1, tzinfo=moment.tzinfo))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


@dataclass
class _Export:
    """Writes the export's entries into a zip, each only while the total stays under the cap."""

    archive: zipfile.ZipFile
    limit: int
    written: int = 0
    files: int = 0
    left_out: list[str] = field(default_factory=list)

    def add(self, name: str, data: bytes, moment: datetime, *, compress: bool = True) -> bool:
        if self.written + len(data) > self.limit:
            self.left_out.append(name)
            return False
        info = zipfile.ZipInfo(name, date_time=_zip_time(moment))
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        self.archive.writestr(info, data)
        self.written += len(data)
        self.files += 1
        return True


def _badge_png(service: BadgeService, badge: LearnerCredential) -> bytes:
    document = credential_json(badge.text, badge.proof_format)
    image_url = None
    if badge.achievement_public_id is not None:
        try:
            image_url = service.catalogue.get_achievement(badge.achievement_public_id).image
        except NotFound:
            image_url = None
    image_url = image_url or image_url_of(achievement_of(document))
    return baked_badge_png(service, badge.achievement_name, image_url, badge.text)


def _about_you(service: BadgeService, account: LearnerAccount) -> dict[str, Any]:
    learner = service.learners.get(account.learner_public_id)
    return {
        "learner": learner.public_id,
        "name": learner.display_name,
        "since": learner.created_at.isoformat(),
        "identifiers": [
            {
                "kind": identifier.kind,
                "value": identifier.value,
                "platform": identifier.platform or None,
                "verified": identifier.verified,
            }
            for identifier in learner.identifiers
        ],
    }


def export_chunks(service: BadgeService, account: LearnerAccount, limit: int) -> Iterator[bytes]:
    """The zip, in pieces as it is written: every credential (JSON or JWT) with its baked PNG,
    the evidence handed in, the credentials kept in the backpack, what is known about the
    learner, and a README.txt saying what is where (and what was left out over ``limit``)."""
    sink = _Chunks()
    now = datetime.now().astimezone()
    with zipfile.ZipFile(sink, mode="w") as archive:
        export = _Export(archive, limit)
        badges = service.learner_badges.credentials_of(account.learner_public_id)
        listed: list[str] = []
        for number, badge in enumerate(badges, start=1):
            stem = f"badges/{file_stem(badge.achievement_name, number)}"
            suffix = "jwt" if badge.proof_format == "jwt" else "json"
            export.add(f"{stem}/credential.{suffix}", badge.text.encode("utf-8"), badge.issued_at)
            export.add(
                f"{stem}/badge.png", _badge_png(service, badge), badge.issued_at, compress=False
            )
            listed.append(_readme_badge_line(stem, badge))
            yield sink.take()
        evidence = service.evidence.of_learner(account.learner_public_id)
        evidence_index = []
        for item in evidence:
            entry: dict[str, Any] = {
                "activity": item.activity_title,
                "kind": item.kind,
                "status": item.status,
                "submitted": item.submitted_at.isoformat(),
                "text": item.text,
                "link": item.url,
                "review_comment": item.review_comment,
            }
            if item.kind == "file":
                stored = service.evidence.file(item.public_id)
                file_name = f"evidence/files/{item.public_id[:8]}-{stored.name}"
                if export.add(file_name, stored.data, item.submitted_at):
                    entry["file"] = file_name
                yield sink.take()
            evidence_index.append(entry)
        if evidence_index:
            export.add("evidence/evidence.json", _json_bytes(evidence_index), now)
        offset = 0
        kept = 0
        while True:
            backpack = service.held_credentials.page(
                account.user_id, limit=_BACKPACK_PAGE, offset=offset
            )
            for held in backpack.credentials:
                kept += 1
                suffix = "jwt" if held.format == "jwt" else "json"
                export.add(
                    f"backpack/{kept:03d}.{suffix}", held.text.encode("utf-8"), held.created_at
                )
            yield sink.take()
            offset += _BACKPACK_PAGE
            if offset >= backpack.total:
                break
        export.add("about-you.json", _json_bytes(_about_you(service, account)), now)
        readme = _readme(account, listed, len(evidence), kept, export.left_out, now)
        # The README always goes in, whatever the cap: it says what was left out.
        export.limit += len(readme)
        export.add("README.txt", readme, now)
    yield sink.take()


def _json_bytes(document: Any) -> bytes:
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _readme_badge_line(stem: str, badge: LearnerCredential) -> str:
    if badge.revoked:
        state = _("revoked")
    elif badge.suspended:
        state = _("suspended")
    else:
        state = _("valid when exported")
    return f"- {stem}/: {badge.achievement_name} ({badge.issuer_name}, {format_datetime(badge.issued_at)}; {state})"


def _readme(
    account: LearnerAccount,
    badges: list[str],
    evidence_count: int,
    backpack_count: int,
    left_out: list[str],
    now: datetime,
) -> bytes:
    lines = [
        _("Your badges from badgebridge"),
        "",
        _("Exported for %(name)s on %(date)s.", name=account.name, date=format_datetime(now)),
        "",
        _(
            "Each folder under badges/ holds one badge: credential.json (or credential.jwt) is "
            "the signed Open Badges 3.0 credential, and badge.png is the badge image with that "
            "credential baked in. Upload either to any Open Badges verifier or backpack to show "
            "and check it."
        ),
        "",
        ngettext("%(num)d badge:", "%(num)d badges:", len(badges)),
        *badges,
        "",
        ngettext(
            "%(num)d piece of evidence you handed in is in evidence/ (texts and links in "
            "evidence.json, files in files/).",
            "%(num)d pieces of evidence you handed in are in evidence/ (texts and links in "
            "evidence.json, files in files/).",
            evidence_count,
        ),
        ngettext(
            "%(num)d credential you keep in your backpack here is in backpack/.",
            "%(num)d credentials you keep in your backpack here are in backpack/.",
            backpack_count,
        ),
        _("about-you.json holds your name and the identifiers your badges are linked to."),
        "",
        _(
            "A badge revoked by its issuer stays in this export, but no longer verifies. If you "
            "ask for your data to be deleted, every badge issued to you is revoked."
        ),
    ]
    if left_out:
        lines += [
            "",
            _(
                "This export is incomplete: it reached its size limit of %(mb)d MB. Left out:",
                mb=MAX_EXPORT_BYTES // 1_000_000,
            ),
            *(f"- {name}" for name in left_out),
        ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


@learner_pages.get("/export")
def export() -> Response:
    """Everything as one zip, written while it downloads (see :func:`export_chunks`)."""
    account = learner_account()
    service = badge_service()
    chunks = export_chunks(service, account, MAX_EXPORT_BYTES)
    response = Response(stream_with_context(chunks), mimetype="application/zip")
    day = datetime.now().astimezone().date().isoformat()
    response.headers.set("Content-Disposition", "attachment", filename=f"my-badges-{day}.zip")
    return _no_store(response)


# -- erasure ------------------------------------------------------------------------------------


def _erasure_facts(account: LearnerAccount) -> dict[str, Any]:
    service = badge_service()
    learner = service.learners.get(account.learner_public_id)
    held = service.learner_badges.credentials_of(account.learner_public_id)
    return {
        "account": account,
        "learner": learner,
        "badge_count": sum(1 for b in held if not b.revoked),
        "evidence_count": len(service.evidence.of_learner(account.learner_public_id)),
        "backpack_count": service.held_credentials.page(account.user_id, limit=1).total,
        "account_goes": account.role == LEARNER_ROLE,
    }


@learner_pages.get("/delete")
def delete_confirmation() -> Response:
    """What deleting one's data does, exactly, and the form that does it."""
    account = learner_account()
    page = render_template("learner/delete.html", error=None, **_erasure_facts(account))
    return _no_store(Response(page))


@learner_pages.post("/delete")
def delete() -> WerkzeugResponse:
    """Erase the learner's data (and a learner account), then log out."""
    account = learner_account(for_form=True)
    if request.form.get("confirm") != "yes":
        error = _("Tick the box to confirm that you understand this cannot be undone.")
        page = render_template("learner/delete.html", error=error, **_erasure_facts(account))
        return _no_store(Response(page, status=400))
    try:
        erasure = badge_service().learner_badges.erase_account_learner(account.user_id)
    except (NotFound, InvalidInput):
        abort(409)
    end_session()
    revoked = len(erasure.learner.credentials_revoked)
    flash(
        ngettext(
            "Your data has been deleted and %(num)d badge was revoked. You are logged out.",
            "Your data has been deleted and %(num)d badges were revoked. You are logged out.",
            revoked,
        ),
        "success",
    )
    return redirect(url_for("pages.home"), code=303)


__all__ = [
    "MAX_EXPORT_BYTES",
    "LearnerAccount",
    "credential_token",
    "export_chunks",
    "file_stem",
    "learner_account",
    "learner_pages",
]
