"""Languages: every page in Dutch and English, through Flask-Babel.

The language is the visitor's choice (the switch in the page header, remembered in a cookie for
a year), else on the pages of an LTI launch the language the learning environment asked for
(``launch_presentation.locale``), else the best match for the browser's ``Accept-Language``, else Dutch: the Cities of
Learning are Dutch first. ``<html lang>`` follows the choice; dates and numbers are formatted
for the language (Europe/Amsterdam time).

Translations live in ``translations/<lang>/LC_MESSAGES/messages.po`` and, for parts of the site
that keep their own, other ``.po`` files in the same folder (merged in; ``messages.po`` wins). They are compiled once
per process into a private temporary folder (a few milliseconds), so there are no compiled
``.mo`` files to keep in step with the sources. To refresh after changing strings::

    pybabel extract -F lti_tool/translations/babel.cfg -k lazy_gettext -k N_ \\
        -o lti_tool/translations/messages.pot .
    pybabel update -i lti_tool/translations/messages.pot -d lti_tool/translations
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Blueprint, Flask, Response, g, redirect, request
from flask_babel import Babel  # type: ignore[import-untyped]
from flask_babel import format_date as _format_date
from flask_babel import format_datetime as _format_datetime
from flask_babel import format_decimal as _format_decimal
from flask_babel import get_locale as _get_locale
from flask_babel import gettext as _gettext
from flask_babel import lazy_gettext as _lazy_gettext
from flask_babel import ngettext as _ngettext
from flask_babel import refresh as _refresh_babel
from werkzeug.wrappers import Response as WerkzeugResponse

SUPPORTED_LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}
LOCALE_COOKIE = "badgebridge_lang"
LOCALE_COOKIE_MAX_AGE = 365 * 24 * 3600
TRANSLATIONS_SOURCE_DIR = Path(__file__).with_name("translations")
DOMAIN = "messages"

language = Blueprint("language", __name__)


# -- typed wrappers (Flask-Babel has no type information) ----------------------------------------


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the request's language, with ``%(name)s`` placeholders filled in."""
    return cast(str, _gettext(message, **variables))


def ngettext(singular: str, plural: str, count: int, **variables: Any) -> str:
    """The singular or plural form for ``count`` (available as ``%(num)d``)."""
    return cast(str, _ngettext(singular, plural, count, **variables))


def lazy_gettext(message: str, **variables: Any) -> Any:
    """A message translated when it is shown (for module-level constants)."""
    return _lazy_gettext(message, **variables)


def N_(message: str) -> str:
    """Marks ``message`` for translation where it is defined; it is translated where it is
    shown, with ``_(...)`` in a template or :func:`gettext`."""
    return message


def current_locale() -> str:
    """The language of this request: ``nl`` or ``en``."""
    locale = _get_locale()
    return str(locale.language) if locale is not None else DEFAULT_LOCALE


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    """A date and time in the request's language and the Amsterdam time zone."""
    return "" if value is None else cast(str, _format_datetime(value, format))


def format_date(value: date | datetime | None, format: str = "medium") -> str:
    """A date in the request's language."""
    return "" if value is None else cast(str, _format_date(value, format))


def format_number(value: float | int) -> str:
    """A number in the request's language (``1.234,5`` in Dutch)."""
    return cast(str, _format_decimal(value))


def translated(text: str) -> str:
    """``text`` in the request's language when the catalogue has it, else as is (a template
    filter for messages defined elsewhere; never treats ``%`` in ``text`` as a placeholder)."""
    return cast(str, _gettext(text)) if text else text


#: Labels defined in modules that do not translate (display values of core states and of
#: :mod:`lti_tool.presentation`), marked here so the catalogue has them; templates show
#: them through the ``translated`` filter.
KEY_STATE_LABELS = {
    "active": N_("Signs new badges"),
    "verifying": N_("Verifies only"),
    "retired": N_("Retired"),
}
MESSAGES_FROM_OTHER_MODULES = (
    N_("Pass"),
    N_("Fail"),
    N_("Skipped"),
    N_("Warning"),
    N_("Open Badges 3.0 (JSON with embedded proof)"),
    N_("Open Badges 3.0 (VC-JWT)"),
    N_("Open Badges 2.0 (hosted assertion)"),
    N_("Open Badges 2.0 (signed assertion)"),
    N_("Open Badges 2.0"),
    N_("Not recognised"),
    N_("Choose one: paste a badge or upload a file, not both."),
    N_("Paste a badge (JSON, JWT or a URL) or choose a file to verify."),
)


# -- choosing the language --------------------------------------------------------------------


def select_locale() -> str:
    """The visitor's choice, else the language of the LTI launch this page belongs to, else
    their browser's preference, else Dutch."""
    chosen = request.cookies.get(LOCALE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    launched = g.get("lti_launch_locale")
    if launched in SUPPORTED_LOCALES:
        return cast(str, launched)
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or DEFAULT_LOCALE


def launch_locale(value: Any) -> str | None:
    """The supported language of an LTI launch's ``launch_presentation.locale`` (``nl-NL``,
    ``en_US``, ``en`` …), else None."""
    if not isinstance(value, str):
        return None
    language = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return language if language in SUPPORTED_LOCALES else None


def use_launch_locale(locale: str | None) -> None:
    """Show this request's page in ``locale``, the language of the LTI launch it belongs to
    (a language the visitor chose still wins)."""
    if locale in SUPPORTED_LOCALES:
        g.lti_launch_locale = locale
        _refresh_babel()  # in case something was translated before the launch was known


def safe_next_path(target: str | None, default: str = "/") -> str:
    """``target`` when it is a path on this site, else ``default`` (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target


@language.get("/language/<code>")
def choose_language(code: str) -> WerkzeugResponse:
    """Remember the chosen language and go back to the page the visitor came from.

    A plain link, so it works without scripts and without a form; changing a display
    preference is harmless, so it needs no CSRF token."""
    target = safe_next_path(request.args.get("next"))
    response = redirect(target, code=303)
    if code in SUPPORTED_LOCALES:
        response.set_cookie(
            LOCALE_COOKIE,
            code,
            max_age=LOCALE_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


def language_links() -> list[dict[str, Any]]:
    """The header's language switch: one link per language, the current one marked."""
    here = request.full_path if request.query_string else request.path
    current = current_locale()
    return [
        {
            "code": code,
            "name": LANGUAGE_NAMES[code],
            "href": f"/language/{code}?next={_quote_path(here)}",
            "current": code == current,
        }
        for code in SUPPORTED_LOCALES
    ]


def _quote_path(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


# -- compiling the catalogues ---------------------------------------------------------------------

_compiled_dir: Path | None = None
_compile_lock = threading.Lock()


def compiled_translations_dir(source: Path = TRANSLATIONS_SOURCE_DIR) -> Path:
    """A folder holding ``<lang>/LC_MESSAGES/messages.mo`` compiled from the ``.po`` sources,
    made once per process and removed when it exits. Fuzzy entries are left out."""
    global _compiled_dir
    with _compile_lock:
        if _compiled_dir is not None and source == TRANSLATIONS_SOURCE_DIR:
            return _compiled_dir
        target = Path(tempfile.mkdtemp(prefix="badgebridge-translations-"))
        atexit.register(shutil.rmtree, target, ignore_errors=True)
        for po_path in sorted(source.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            code = po_path.parent.parent.name
            with po_path.open("rb") as handle:
                catalog = read_po(handle, locale=code, domain=DOMAIN)
            # Other .po files beside messages.po (one per part of the site, e.g. lti-picker.po)
            # add their messages; messages.po wins where both translate the same string.
            for extra_path in sorted(po_path.parent.glob("*.po")):
                if extra_path == po_path:
                    continue
                with extra_path.open("rb") as handle:
                    extra = read_po(handle, locale=code, domain=DOMAIN)
                for message in extra:
                    if message.id and message.id not in catalog:
                        catalog[message.id] = message
            out_dir = target / code / "LC_MESSAGES"
            out_dir.mkdir(parents=True, exist_ok=True)
            temporary = out_dir / f".{DOMAIN}.mo.tmp"
            with temporary.open("wb") as handle:
                write_mo(handle, catalog, use_fuzzy=False)
            os.replace(temporary, out_dir / f"{DOMAIN}.mo")
        if source == TRANSLATIONS_SOURCE_DIR:
            _compiled_dir = target
        return target


# -- wiring ---------------------------------------------------------------------------------------


def _vary_on_language(response: Response) -> Response:
    # Pages differ by language: shared caches must key them on what chose it.
    if response.mimetype == "text/html":
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
    return response


def init_i18n(app: Flask) -> None:
    """Set up Flask-Babel on ``app``: Dutch by default, the language switch, the template
    helpers (``_``, ``current_locale()``, ``language_links()``, the ``datetime``, ``date``,
    ``number`` and ``translated`` filters)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", DEFAULT_TIMEZONE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled_translations_dir())
    Babel(app, locale_selector=select_locale)
    app.register_blueprint(language)
    helpers: dict[str, Callable[..., Any]] = {
        "current_locale": current_locale,
        "language_links": language_links,
    }
    app.jinja_env.globals.update(helpers)
    app.jinja_env.globals["key_state_labels"] = KEY_STATE_LABELS
    app.jinja_env.filters.update(
        datetime=format_datetime, date=format_date, number=format_number, translated=translated
    )
    app.after_request(_vary_on_language)


__all__ = [
    "DEFAULT_LOCALE",
    "N_",
    "SUPPORTED_LOCALES",
    "current_locale",
    "format_date",
    "format_datetime",
    "format_number",
    "gettext",
    "init_i18n",
    "launch_locale",
    "lazy_gettext",
    "ngettext",
    "safe_next_path",
    "select_locale",
    "use_launch_locale",
]
