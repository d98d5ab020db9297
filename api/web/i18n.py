"""Message catalogues of the web UI: Russian by default, English (the msgids) on request.

Templates hold every user-facing text as `_("English msgid")`; `locales/ru/LC_MESSAGES/
messages.po` translates them. The .po files are compiled in memory when first needed, so no
build step can forget them. Refresh the catalogue after editing templates with
`python -m api.web.i18n update` (extract → messages.pot → merge into ru) and check it with
`python -m api.web.i18n check` (the tests do the same).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
SOURCE_LOCALE = "en"  # msgids are English
WEB_DIR = Path(__file__).resolve().parent
LOCALE_DIR = WEB_DIR / "locales"
TEMPLATE_DIR = WEB_DIR / "templates"
DOMAIN = "messages"
_METHODS = [("**.html", "jinja2")]
_OPTIONS = {"**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}


def negotiate(wanted: str | None) -> str:
    """A supported locale: `wanted` if we have it, else the default."""
    return wanted if wanted in LOCALES else DEFAULT_LOCALE


def po_path(locale: str) -> Path:
    """Where the catalogue of `locale` lives."""
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalogue of `locale` (the source locale translates to itself)."""
    path = po_path(locale)
    if locale == SOURCE_LOCALE or not path.exists():
        return Translations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def extract(skip: tuple[str, ...] = ()) -> Catalog:
    """Every message the templates use (except those in the folders named in `skip`)."""
    catalog = Catalog(project="potok", domain=DOMAIN, charset="utf-8")
    for filename, lineno, message, comments, context in extract_from_dir(
        str(TEMPLATE_DIR), method_map=_METHODS, options_map=_OPTIONS
    ):
        if filename.split("/", 1)[0] in skip:
            continue
        where = [(f"templates/{filename}", lineno)]
        catalog.add(message, None, where, auto_comments=comments, context=context)
    return catalog


def missing(locale: str = DEFAULT_LOCALE, skip: tuple[str, ...] = ()) -> list[str]:
    """Msgids the templates use that `locale` does not translate (or only fuzzily)."""
    with po_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    gaps: list[str] = []
    for message in extract(skip):
        if not message.id:
            continue
        known = catalog.get(message.id, message.context)
        strings = known.string if known is not None else None
        values = list(strings) if isinstance(strings, tuple | list) else [strings]
        if known is None or known.fuzzy or not all(values):
            gaps.append(str(message.id))
    return gaps


def update(locale: str = DEFAULT_LOCALE) -> None:
    """Write messages.pot and merge it into `locale`'s catalogue (new entries untranslated)."""
    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as handle:
        write_po(handle, template, omit_header=False, sort_output=True)
    path = po_path(locale)
    if path.exists():
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale, domain=DOMAIN)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = Catalog(locale=locale, domain=DOMAIN, charset="utf-8")
    catalog.update(template, no_fuzzy_matching=True)
    with path.open("wb") as handle:
        write_po(handle, catalog, sort_output=True, ignore_obsolete=True, width=100)


def main(argv: list[str]) -> int:
    """`python -m api.web.i18n update|check`."""
    command = argv[1] if len(argv) > 1 else "check"
    if command == "update":
        update()
        return 0
    gaps = missing()
    for msgid in gaps:
        print(f"untranslated: {msgid!r}")
    return 1 if gaps else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv))
