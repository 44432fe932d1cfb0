"""The LTI 1.3 tool: hardened launches over pylti1p3 (:mod:`lti_tool.lti.hardened`), dynamic
registration, and the ``/lti/...`` endpoints (:mod:`lti_tool.lti.views`); the launched pages
for teachers picking content (:mod:`~lti_tool.lti.deep_linking`), teachers
(:mod:`~lti_tool.lti.teacher`) and students (:mod:`~lti_tool.lti.student`)."""

from __future__ import annotations

from lti_tool.lti import deep_linking, student, teacher
from lti_tool.lti.views import blueprint as lti_blueprint

LTI_BLUEPRINTS = (lti_blueprint, deep_linking.blueprint, student.blueprint, teacher.blueprint)

__all__ = ["LTI_BLUEPRINTS", "lti_blueprint"]
