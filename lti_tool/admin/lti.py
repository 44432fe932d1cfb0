"""LTI platforms (administrators only): register an LMS by hand (issuer, client id, its URLs and
keys, deployment ids), edit or remove a registration, and see what to give the LMS (the
dynamic registration URL, the Canvas developer key JSON, the tool's URLs and keys). The tool's
own key pair can be rotated; the old key stays published until it is retired.
"""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for

from core.errors import BadgeBridgeError
from core.lti_registry import LtiRegistry, PlatformView
from lti_tool.admin.forms import FormErrors, checkbox, lines, optional, text
from lti_tool.auth import protect_blueprint, role_required
from lti_tool.i18n import N_
from lti_tool.i18n import gettext as _
from lti_tool.web import badge_service

blueprint = Blueprint("admin_lti", __name__, url_prefix="/admin/lti")
protect_blueprint(blueprint)

FIELDS = (
    "name",
    "issuer",
    "client_id",
    "auth_login_url",
    "auth_token_url",
    "key_set_url",
    "key_set",
    "auth_audience",
    "deployment_ids",
)
REGISTERED_VIA = {"manual": N_("By hand"), "dynamic": N_("Dynamic registration")}


def _registry() -> LtiRegistry:
    return badge_service().lti


def _tool_urls() -> dict[str, str]:
    base = badge_service().settings.base_url
    return {
        "register": f"{base}/lti/register",
        "canvas": f"{base}/lti/config.json",
        "login": f"{base}/lti/login",
        "launch": f"{base}/lti/launch",
        "jwks": f"{base}/lti/jwks.json",
    }


@blueprint.get("/")
@role_required("admin")
def platforms() -> str:
    """The registered platforms, the tool's keys and what to give a platform."""
    registry = _registry()
    return render_template(
        "admin/lti_platforms.html",
        platforms=registry.list_platforms(),
        keys=registry.list_tool_keys(),
        urls=_tool_urls(),
        registered_via=REGISTERED_VIA,
    )


def _read_form(errors: FormErrors, *, new: bool) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": text("name", errors, label=_("Name"), limit=200),
        "auth_login_url": text(
            "auth_login_url",
            errors,
            label=_("Authentication (OIDC login) URL"),
            required=True,
            limit=2000,
        ),
        "auth_token_url": text(
            "auth_token_url", errors, label=_("Access token URL"), required=True, limit=2000
        ),
        "key_set_url": text("key_set_url", errors, label=_("Key set (JWKS) URL"), limit=2000),
        "key_set": text("key_set", errors, label=_("Public key"), limit=20000),
        "auth_audience": text(
            "auth_audience", errors, label=_("Access token audience"), limit=2000
        ),
        "email_trusted": checkbox("email_trusted"),
        "active": checkbox("active") if not new else True,
        "deployment_ids": "\n".join(lines("deployment_ids")),
    }
    if new:
        form["issuer"] = text("issuer", errors, label=_("Issuer"), required=True, limit=300)
        form["client_id"] = text(
            "client_id", errors, label=_("Client id"), required=True, limit=190
        )
    if not form["key_set_url"] and not form["key_set"]:
        errors.add("key_set_url", _("Enter the key set URL or paste the platform's public key."))
    for field in ("auth_login_url", "auth_token_url", "key_set_url", "auth_audience"):
        if form[field] and not form[field].startswith(("https://", "http://")):
            errors.add(field, _("Enter a web address that starts with https://."))
    return form


def _empty_form() -> dict[str, Any]:
    form: dict[str, Any] = {field: "" for field in FIELDS}
    form.update(email_trusted=False, active=True)
    return form


@blueprint.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new_platform() -> Response | tuple[str, int]:
    """Register a platform by hand."""
    errors = FormErrors()
    form = _empty_form()
    if request.method == "POST":
        form = _read_form(errors, new=True)
        if not errors:
            try:
                platform = _registry().register_platform(
                    issuer=form["issuer"],
                    client_id=form["client_id"],
                    auth_login_url=form["auth_login_url"],
                    auth_token_url=form["auth_token_url"],
                    key_set_url=optional(form["key_set_url"]),
                    key_set=optional(form["key_set"]),
                    auth_audience=optional(form["auth_audience"]),
                    deployment_ids=form["deployment_ids"].split("\n")
                    if form["deployment_ids"]
                    else [],
                    name=optional(form["name"]),
                    email_trusted=form["email_trusted"],
                )
            except BadgeBridgeError as problem:
                errors.add("_registration", problem.message)
            else:
                flash(_("The platform %(name)s was registered.", name=platform.name), "success")
                return cast(
                    Response,
                    redirect(url_for(".platform", public_id=platform.public_id), code=303),
                )
    page = render_template("admin/lti_platform_form.html", form=form, errors=errors, platform=None)
    return page, 400 if errors else 200


@blueprint.route("/<public_id>", methods=["GET", "POST"])
@role_required("admin")
def platform(public_id: str) -> Response | tuple[str, int]:
    """One registration: its settings (editable) and deployments."""
    registry = _registry()
    current = registry.get_platform(public_id)
    errors = FormErrors()
    form = _platform_form(current)
    if request.method == "POST":
        form = _read_form(errors, new=False)
        if not errors:
            try:
                registry.update_platform(
                    public_id,
                    name=form["name"] or current.name,
                    auth_login_url=form["auth_login_url"],
                    auth_token_url=form["auth_token_url"],
                    key_set_url=optional(form["key_set_url"]),
                    key_set=optional(form["key_set"]),
                    auth_audience=optional(form["auth_audience"]),
                    email_trusted=form["email_trusted"],
                    active=form["active"],
                )
                wanted = form["deployment_ids"].split("\n") if form["deployment_ids"] else []
                for deployment_id in wanted:
                    if deployment_id not in current.deployment_ids:
                        registry.add_deployment(public_id, deployment_id)
            except BadgeBridgeError as problem:
                errors.add("_registration", problem.message)
            else:
                flash(_("The changes were saved."), "success")
                return cast(Response, redirect(url_for(".platform", public_id=public_id), code=303))
        form["deployment_ids"] = "\n".join(current.deployment_ids)
    page = render_template(
        "admin/lti_platform_form.html", form=form, errors=errors, platform=current
    )
    return page, 400 if errors else 200


def _platform_form(platform: PlatformView) -> dict[str, Any]:
    import json

    return {
        "name": platform.name,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "key_set_url": platform.key_set_url or "",
        "key_set": json.dumps(platform.key_set, indent=2) if platform.key_set else "",
        "auth_audience": platform.auth_audience or "",
        "email_trusted": platform.email_trusted,
        "active": platform.active,
        "deployment_ids": "\n".join(platform.deployment_ids),
    }


@blueprint.route("/<public_id>/deployments/remove", methods=["GET", "POST"])
@role_required("admin")
def remove_deployment(public_id: str) -> Response | str:
    """Remove one deployment (after confirmation): its courses and links are forgotten."""
    registry = _registry()
    current = registry.get_platform(public_id)
    deployment_id = request.values.get("deployment_id", "")
    if request.method == "POST":
        registry.remove_deployment(public_id, deployment_id)
        flash(_("The deployment %(deployment)s was removed.", deployment=deployment_id), "success")
        return cast(Response, redirect(url_for(".platform", public_id=public_id), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Remove the deployment %(deployment)s?", deployment=deployment_id),
        explanation=_(
            "Launches from this deployment will be refused, and the courses and course items "
            "recorded for it are forgotten."
        ),
        details=[(_("Platform"), current.name), (_("Issuer"), current.issuer)],
        action=url_for(".remove_deployment", public_id=public_id),
        fields={"deployment_id": deployment_id},
        confirm_label=_("Remove the deployment"),
        cancel_url=url_for(".platform", public_id=public_id),
        danger=True,
    )


@blueprint.route("/<public_id>/delete", methods=["GET", "POST"])
@role_required("admin")
def delete_platform(public_id: str) -> Response | str:
    """Remove a registration (after confirmation)."""
    registry = _registry()
    current = registry.get_platform(public_id)
    if request.method == "POST":
        registry.delete_platform(public_id)
        flash(_("The platform %(name)s was removed.", name=current.name), "success")
        return cast(Response, redirect(url_for(".platforms"), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Remove the platform %(name)s?", name=current.name),
        explanation=_(
            "Launches from this platform will be refused, and its deployments, courses and "
            "course items are forgotten. Badges its learners earned stay theirs."
        ),
        details=[(_("Issuer"), current.issuer), (_("Client id"), current.client_id)],
        action=url_for(".delete_platform", public_id=public_id),
        fields={},
        confirm_label=_("Remove the platform"),
        cancel_url=url_for(".platform", public_id=public_id),
        danger=True,
    )


@blueprint.route("/keys/rotate", methods=["GET", "POST"])
@role_required("admin")
def rotate_key() -> Response | str:
    """Rotate the tool's key pair (after confirmation)."""
    if request.method == "POST":
        key = _registry().rotate_tool_key()
        flash(_("A new tool key %(key)s signs from now on.", key=key.kid), "success")
        return cast(Response, redirect(url_for(".platforms"), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Rotate the tool's key?"),
        explanation=_(
            "A new key signs the tool's messages to platforms from now on. The current key "
            "stays published, so platforms that cached it keep working, until you retire it."
        ),
        action=url_for(".rotate_key"),
        fields={},
        confirm_label=_("Rotate the key"),
        cancel_url=url_for(".platforms"),
        danger=False,
    )


@blueprint.route("/keys/<kid>/retire", methods=["GET", "POST"])
@role_required("admin")
def retire_key(kid: str) -> Response | str:
    """Stop publishing a rotated-out tool key (after confirmation)."""
    if request.method == "POST":
        _registry().retire_tool_key(kid)
        flash(_("The key %(key)s was retired.", key=kid), "success")
        return cast(Response, redirect(url_for(".platforms"), code=303))
    return render_template(
        "admin/confirm.html",
        title=_("Retire the key %(key)s?", key=kid),
        explanation=_(
            "Platforms will no longer accept messages signed with this key. Retire it once "
            "every platform has fetched the new key."
        ),
        action=url_for(".retire_key", kid=kid),
        fields={},
        confirm_label=_("Retire the key"),
        cancel_url=url_for(".platforms"),
        danger=True,
    )
