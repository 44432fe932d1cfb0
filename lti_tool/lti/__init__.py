"""The LTI 1.3 tool: hardened launches over pylti1p3 (:mod:`lti_tool.lti.hardened`), dynamic
registration, and the ``/lti/...`` endpoints (:mod:`lti_tool.lti.views`)."""

from __future__ import annotations

from lti_tool.lti.views import blueprint as lti_blueprint

__all__ = ["lti_blueprint"]
