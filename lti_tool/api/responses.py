"""Error bodies of the APIs: the Open Badges API's ``Imsx_StatusInfo`` and RFC 9457 problems."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response

from lti_tool.negotiation import json_response, problem_response

#: The ``imsx_codeMinorFieldValue`` vocabulary of the Open Badges 3.0 API.
CodeMinor = Literal[
    "forbidden",
    "fullsuccess",
    "internal_server_error",
    "invalid_data",
    "invalid_query_parameter",
    "misdirected_request",
    "not_acceptable",
    "not_allowed",
    "not_found",
    "not_modified",
    "server_busy",
    "unauthorizedrequest",
    "unknown",
]
#: Names the system that produced a code minor report.
CODE_MINOR_SOURCE = "badgebridge"


def status_info(
    code_minor: CodeMinor, description: str, *, code_major: str = "failure"
) -> dict[str, Any]:
    """An ``Imsx_StatusInfo`` object."""
    return {
        "imsx_codeMajor": code_major,
        "imsx_severity": "error" if code_major == "failure" else "status",
        "imsx_description": description,
        "imsx_codeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": CODE_MINOR_SOURCE,
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }


#: The code minor value for each HTTP error status.
CODE_MINOR_BY_STATUS: dict[int, CodeMinor] = {
    400: "invalid_data",
    401: "unauthorizedrequest",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    406: "not_acceptable",
    413: "invalid_data",
    415: "invalid_data",
    500: "internal_server_error",
}


def status_info_response(
    status: int,
    description: str,
    *,
    code_minor: CodeMinor | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """An Open Badges API error: ``Imsx_StatusInfo`` as ``application/json``."""
    minor = code_minor or CODE_MINOR_BY_STATUS.get(status, "unknown")
    response = json_response(status_info(minor, description), status=status, vary=False)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem(status: int, detail: str, *, headers: dict[str, str] | None = None) -> Response:
    """An RFC 9457 problem document, with extra headers (e.g. ``WWW-Authenticate``)."""
    response = problem_response(status, detail)
    # The body is problem+json whatever the client accepts: no Vary needed.
    del response.headers["Vary"]
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


__all__ = ["CodeMinor", "problem", "status_info", "status_info_response"]
