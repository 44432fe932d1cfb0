"""Reading the organiser pages' forms: each reader returns the value or records a message for
the field in :class:`FormErrors`, which the page shows in an error summary linked to the
fields (``templates/admin/_forms.html``).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import request

from lti_tool.i18n import DEFAULT_TIMEZONE
from lti_tool.i18n import gettext as _

LOCAL_TIME = ZoneInfo(DEFAULT_TIMEZONE)


class FormErrors(dict[str, str]):
    """Messages by field name (the field's ``id``), in the order they were found; the first
    message for a field wins."""

    def add(self, field: str, message: str) -> None:
        """Record ``message`` for ``field`` unless it already has one."""
        self.setdefault(field, message)


def text(
    name: str, errors: FormErrors, *, label: str, required: bool = False, limit: int = 300
) -> str:
    """The field's trimmed text ("" when empty)."""
    value = request.form.get(name, "").strip()
    if required and not value:
        errors.add(name, _("Enter %(field)s.", field=label.lower()))
    elif len(value) > limit:
        errors.add(name, _("%(field)s has at most %(limit)d characters.", field=label, limit=limit))
    return value


def optional(value: str) -> str | None:
    """None for an empty value."""
    return value or None


def checkbox(name: str) -> bool:
    """True when the checkbox was ticked."""
    return request.form.get(name) in ("on", "1", "true", "yes")


def lines(name: str, *, limit: int = 50) -> list[str]:
    """One value per line (or comma), empty lines dropped, at most ``limit``."""
    raw = request.form.get(name, "").replace(",", "\n")
    values = [line.strip() for line in raw.splitlines() if line.strip()]
    return values[:limit]


def date_field(name: str, errors: FormErrors, *, label: str) -> date | None:
    """A date from ``<input type="date">`` (YYYY-MM-DD), or None when empty."""
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.add(name, _("%(field)s must be a date like 2025-03-31.", field=label))
        return None


def local_datetime_field(name: str, errors: FormErrors, *, label: str) -> datetime | None:
    """A moment from ``<input type="datetime-local">`` read as Amsterdam time, in UTC."""
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        errors.add(name, _("%(field)s must be a date and time like 2025-03-31 14:00.", field=label))
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TIME)
    return moment.astimezone(UTC)


def local_datetime_value(moment: datetime | None) -> str:
    """``moment`` as the value of a ``datetime-local`` input (Amsterdam time)."""
    if moment is None:
        return ""
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%dT%H:%M")


def number_field(
    name: str,
    errors: FormErrors,
    *,
    label: str,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    """A number (a decimal comma is accepted), or None when empty."""
    value = request.form.get(name, "").strip().replace(",", ".")
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        errors.add(name, _("%(field)s must be a number.", field=label))
        return None
    if (
        not math.isfinite(number)
        or (minimum is not None and number < minimum)
        or (maximum is not None and number > maximum)
    ):
        errors.add(
            name,
            _(
                "%(field)s must be between %(minimum)s and %(maximum)s.",
                field=label,
                minimum=minimum,
                maximum=maximum,
            ),
        )
        return None
    return number


def whole_number_field(
    name: str, errors: FormErrors, *, label: str, minimum: int = 0, maximum: int = 100_000
) -> int | None:
    """A whole number, or None when empty."""
    value = request.form.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not minimum <= int(value) <= maximum:
        errors.add(
            name,
            _(
                "%(field)s must be a whole number from %(minimum)d to %(maximum)d.",
                field=label,
                minimum=minimum,
                maximum=maximum,
            ),
        )
        return None
    return int(value)


__all__ = [
    "FormErrors",
    "checkbox",
    "date_field",
    "lines",
    "local_datetime_field",
    "local_datetime_value",
    "number_field",
    "optional",
    "text",
    "whole_number_field",
]
