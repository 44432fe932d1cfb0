"""Which issuers an account sees, and the core objects the organiser pages call."""

from __future__ import annotations

from core.accounts import UserView
from core.catalogue import OrganisationView
from core.issuer_admin import IssuerAdministration
from core.service import IssuerView
from lti_tool.i18n import N_
from lti_tool.web import badge_service

ROLE_LABELS = {
    "admin": N_("Administrator"),
    "organiser": N_("Organiser"),
    "reviewer": N_("Reviewer"),
    "learner": N_("Learner"),
}


def issuer_administration() -> IssuerAdministration:
    """Issuer profiles, the Quality Label and issued credentials."""
    return IssuerAdministration(badge_service())


def organisation(slug: str) -> OrganisationView:
    """The issuer with its Quality Label (404 page when there is none)."""
    return badge_service().catalogue.organisation(slug)


def issuers_visible_to(user: UserView) -> list[IssuerView]:
    """Every issuer for an administrator; an organiser's or reviewer's own issuer otherwise."""
    issuers = badge_service().list_issuers()
    if user.is_admin:
        return issuers
    return [issuer for issuer in issuers if issuer.slug == user.issuer_slug]


__all__ = ["ROLE_LABELS", "issuer_administration", "issuers_visible_to", "organisation"]
