"""The pages of organisers, reviewers and administrators (all under ``/admin``).

Every view needs a logged-in account and every form the CSRF token
(:func:`lti_tool.auth.protect_blueprint`); views about one issuer's data check that the account
acts for that issuer (:func:`lti_tool.auth.require_issuer_access`).
"""

from __future__ import annotations

from flask import Blueprint

from lti_tool.admin.bulk import blueprint as bulk_award_pages
from lti_tool.admin.catalogue import blueprint as catalogue_pages
from lti_tool.admin.credentials import blueprint as credential_pages
from lti_tool.admin.dashboard import blueprint as dashboard_pages
from lti_tool.admin.issuers import blueprint as issuer_pages
from lti_tool.admin.lti import blueprint as lti_platform_pages
from lti_tool.admin.review import blueprint as review_pages

#: Registered by :func:`lti_tool.app.create_app`.
ADMIN_BLUEPRINTS: tuple[Blueprint, ...] = (
    dashboard_pages,
    issuer_pages,
    catalogue_pages,
    review_pages,
    credential_pages,
    bulk_award_pages,
    lti_platform_pages,
)

__all__ = ["ADMIN_BLUEPRINTS"]
