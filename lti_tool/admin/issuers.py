"""Issuers and their signing keys.

Administrators create issuers and grant the Cities of Learning Quality Label; an organiser
edits their own issuer's profile and manages its keys. Rotating or retiring a key asks for
confirmation first: retiring one makes every badge it signed stop verifying.
"""

from __future__ import annotations

from datetime import date
from typing import cast

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from core.catalogue import check_quality_label_date
from core.errors import BadgeBridgeError, InvalidInput
from core.service import KEY_ALGORITHMS, PROOF_FORMATS
from lti_tool.admin.forms import FormErrors, checkbox, date_field, optional, text
from lti_tool.admin.issuer_scope import issuer_administration, issuers_visible_to, organisation
from lti_tool.auth import logged_in_user, protect_blueprint, require_issuer_access, role_required
from lti_tool.i18n import N_
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_issuers", __name__, url_prefix="/admin/issuers")
protect_blueprint(blueprint)

PROOF_FORMAT_LABELS = {
    "rdfc": N_("Data Integrity proof, eddsa-rdfc-2022 (recommended)"),
    "jcs": N_("Data Integrity proof, eddsa-jcs-2022"),
    "jwt": N_("VC-JWT (a signed token)"),
}


def _proof_format_options() -> list[tuple[str, str]]:
    return [(value, _(PROOF_FORMAT_LABELS[value])) for value in PROOF_FORMATS]


@blueprint.get("/")
def issuers() -> Response | str:
    """All issuers (administrators); others go straight to their own issuer."""
    user = logged_in_user()
    visible = issuers_visible_to(user)
    if not user.is_admin and len(visible) == 1:
        return cast(Response, redirect(url_for(".issuer", slug=visible[0].slug)))
    return render_template("admin/issuers.html", issuers=visible, user=user)


def _profile_form() -> dict[str, str]:
    return {
        key: request.form.get(key, "").strip()
        for key in ("slug", "name", "url", "email", "description", "image", "proof_format")
    }


def _check_profile(form: dict[str, str], errors: FormErrors) -> None:
    text("name", errors, label=_("Name"), required=True, limit=200)
    text("url", errors, label=_("Website"), limit=2000)
    text("email", errors, label=_("Email address"), limit=320)
    text("description", errors, label=_("Description"), limit=5000)
    text("image", errors, label=_("Image address"), limit=2000)
    for field in ("url", "image"):
        if form[field] and not form[field].startswith(("https://", "http://")):
            errors.add(field, _("Enter a web address that starts with https://."))
    if form["email"] and ("@" not in form["email"] or " " in form["email"]):
        errors.add("email", _("Enter an email address like name@example.org."))


def _check_label_date(form: dict[str, str], since: date | None, errors: FormErrors) -> None:
    if not form["quality_label"]:
        return
    if since is None:
        errors.add("quality_label_since", _("Enter the date the label was granted."))
    elif since > date.today():
        errors.add(
            "quality_label_since", _("The date the label was granted cannot be in the future.")
        )
    else:
        try:  # core's rule, checked before anything is written
            check_quality_label_date(since)
        except InvalidInput:
            errors.add(
                "quality_label_since",
                _("The date the label was granted must be in the year 2000 or later."),
            )


@blueprint.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new_issuer() -> Response | str | tuple[str, int]:
    """Create an issuer (with its first signing key)."""
    form = {key: "" for key in ("slug", "name", "url", "email", "description", "image")}
    form.update(proof_format="rdfc", quality_label="", quality_label_since="")
    errors = FormErrors()
    if request.method == "POST":
        form = _profile_form()
        form["quality_label"] = "on" if checkbox("quality_label") else ""
        form["quality_label_since"] = request.form.get("quality_label_since", "")
        text("slug", errors, label=_("Short name in web addresses"), required=True, limit=80)
        _check_profile(form, errors)
        since = date_field("quality_label_since", errors, label=_("Holds the label since"))
        _check_label_date(form, since, errors)
        if form["proof_format"] not in PROOF_FORMATS:
            errors.add("proof_format", _("Choose how badges are signed."))
        if not errors:
            try:
                badge_service().create_issuer(
                    form["slug"],
                    form["name"],
                    url=optional(form["url"]),
                    email=optional(form["email"]),
                    description=optional(form["description"]),
                    proof_format=form["proof_format"],
                )
            except BadgeBridgeError as problem:
                errors.add("slug", problem.message)
        if not errors:
            administration = issuer_administration()
            administration.update_profile(
                form["slug"],
                name=form["name"],
                url=optional(form["url"]),
                email=optional(form["email"]),
                description=optional(form["description"]),
                image=optional(form["image"]),
            )
            if form["quality_label"]:
                badge_service().catalogue.set_quality_label(form["slug"], since)
            flash(_("The issuer %(name)s was created.", name=form["name"]), "success")
            return cast(Response, redirect(url_for(".issuer", slug=form["slug"]), code=303))
    page = render_template(
        "admin/issuer_form.html",
        form=form,
        errors=errors,
        issuer=None,
        proof_formats=_proof_format_options(),
        can_grant_label=True,
    )
    return page, 400 if errors else 200


@blueprint.get("/<slug>")
def issuer(slug: str) -> str:
    """One issuer: its profile, figures and the way to its tasks."""
    user = require_issuer_access(slug)
    administration = issuer_administration()
    return render_template(
        "admin/issuer.html",
        issuer=organisation(slug),
        counts=administration.counts(slug),
        user=user,
        proof_format_labels=PROOF_FORMAT_LABELS,
    )


@blueprint.route("/<slug>/edit", methods=["GET", "POST"])
def edit_issuer(slug: str) -> Response | str | tuple[str, int]:
    """Change the issuer's profile; administrators also grant or withdraw the Quality Label."""
    user = require_issuer_access(slug, "organiser")
    administration = issuer_administration()
    details = organisation(slug)
    form = {
        "name": details.name,
        "url": details.url or "",
        "email": details.email or "",
        "description": details.description or "",
        "image": details.image or "",
        "quality_label": "on" if details.quality_label_since else "",
        "quality_label_since": details.quality_label_since.isoformat()
        if details.quality_label_since
        else "",
    }
    errors = FormErrors()
    if request.method == "POST":
        form.update({key: value for key, value in _profile_form().items() if key in form})
        _check_profile(form, errors)
        since = None
        if user.is_admin:
            form["quality_label"] = "on" if checkbox("quality_label") else ""
            form["quality_label_since"] = request.form.get("quality_label_since", "")
            since = date_field("quality_label_since", errors, label=_("Holds the label since"))
            _check_label_date(form, since, errors)
        if not errors:
            try:
                administration.update_profile(
                    slug,
                    name=form["name"],
                    url=optional(form["url"]),
                    email=optional(form["email"]),
                    description=optional(form["description"]),
                    image=optional(form["image"]),
                )
                if user.is_admin:
                    badge_service().catalogue.set_quality_label(
                        slug, since if form["quality_label"] else None
                    )
            except InvalidInput as problem:
                errors.add("_form", problem.message)
        if not errors:
            flash(_("The issuer's profile was saved."), "success")
            return cast(Response, redirect(url_for(".issuer", slug=slug), code=303))
    page = render_template(
        "admin/issuer_form.html",
        form=form,
        errors=errors,
        issuer=details,
        proof_formats=_proof_format_options(),
        can_grant_label=user.is_admin,
    )
    return page, 400 if errors else 200


# -- keys -----------------------------------------------------------------------------------------


@blueprint.get("/<slug>/keys")
def keys(slug: str) -> str:
    """The issuer's signing keys, with rotate, add and retire."""
    require_issuer_access(slug, "organiser")
    service = badge_service()
    listed = service.list_keys(slug)
    active_algorithms = {key.algorithm for key in listed if key.state == "active"}
    return render_template(
        "admin/keys.html",
        issuer=organisation(slug),
        keys=listed,
        algorithms=KEY_ALGORITHMS,
        active_algorithms=active_algorithms,
    )


def _algorithm_argument() -> str:
    algorithm = request.values.get("algorithm", "Ed25519")
    if algorithm not in KEY_ALGORITHMS:
        abort(400)
    return algorithm


@blueprint.route("/<slug>/keys/rotate", methods=["GET", "POST"])
def rotate_key(slug: str) -> Response | str:
    """Confirm, then rotate: a new key signs from now on; the old one keeps verifying."""
    require_issuer_access(slug, "organiser")
    algorithm = _algorithm_argument()
    if request.method == "POST":
        key = badge_service().rotate_key(slug, algorithm)
        flash(
            _(
                "A new %(algorithm)s key (%(key)s) now signs new badges.",
                algorithm=algorithm,
                key=key.key_id,
            ),
            "success",
        )
        return cast(Response, redirect(url_for(".keys", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Rotate the %(algorithm)s key?", algorithm=algorithm),
        explanation=_(
            "A new %(algorithm)s key signs every badge from now on. The current key keeps "
            "verifying the badges it signed until you retire it.",
            algorithm=algorithm,
        ),
        action=url_for(".rotate_key", slug=slug),
        fields={"algorithm": algorithm},
        confirm_label=_("Rotate the key"),
        cancel_url=url_for(".keys", slug=slug),
        danger=False,
    )


@blueprint.route("/<slug>/keys/new", methods=["GET", "POST"])
def new_key(slug: str) -> Response | str:
    """Confirm, then add a key for an algorithm the issuer has no active key for."""
    require_issuer_access(slug, "organiser")
    algorithm = _algorithm_argument()
    if request.method == "POST":
        key = badge_service().new_key(slug, algorithm)
        flash(
            _("The %(algorithm)s key %(key)s was added.", algorithm=algorithm, key=key.key_id),
            "success",
        )
        return cast(Response, redirect(url_for(".keys", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Add a %(algorithm)s key?", algorithm=algorithm),
        explanation=_(
            "The issuer gets a %(algorithm)s signing key and publishes it in its profile.",
            algorithm=algorithm,
        ),
        action=url_for(".new_key", slug=slug),
        fields={"algorithm": algorithm},
        confirm_label=_("Add the key"),
        cancel_url=url_for(".keys", slug=slug),
        danger=False,
    )


@blueprint.route("/<slug>/keys/<key_id>/retire", methods=["GET", "POST"])
def retire_key(slug: str, key_id: str) -> Response | str:
    """Confirm, then retire a key: badges it signed stop verifying."""
    require_issuer_access(slug, "organiser")
    service = badge_service()
    key = next((k for k in service.list_keys(slug) if k.key_id == key_id), None)
    if key is None:
        abort(404)
    if key.state == "active":
        flash(_("%(key)s signs new badges: rotate it first, then retire it.", key=key_id), "error")
        return cast(Response, redirect(url_for(".keys", slug=slug), code=303))
    if request.method == "POST":
        service.retire_key(slug, key_id)
        flash(_("The key %(key)s was retired.", key=key_id), "success")
        return cast(Response, redirect(url_for(".keys", slug=slug), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Retire the key %(key)s?", key=key_id),
        explanation=_(
            "Every badge signed with this key will stop verifying, for good. Retire a key only "
            "when it may have been stolen or lost."
        ),
        action=url_for(".retire_key", slug=slug, key_id=key_id),
        fields={},
        confirm_label=_("Retire the key"),
        cancel_url=url_for(".keys", slug=slug),
        danger=True,
    )


__all__ = ["blueprint"]
