"""`make i18n`: extract the bot's messages and bring every catalog up to date, deterministically (no date churn)."""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from bot.i18n.catalogs import DOMAIN, LOCALES_DIR
from bot.i18n.negotiation import SUPPORTED_LOCALES

SOURCE_ROOT = LOCALES_DIR.parent


def extract_template(source_root: Path = SOURCE_ROOT) -> bytes:
    """messages.pot as `pybabel extract` writes it from the code, flow files and public templates."""
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / f"{DOMAIN}.pot"
        arguments = ["pybabel", "-q", "extract", "-F", str(source_root / "locales" / "babel.cfg")]
        arguments += ["-o", str(output), "--no-location", "--omit-header", str(source_root)]
        CommandLineInterface().run(arguments)  # type: ignore[no-untyped-call]
        return output.read_bytes()


def _read(data: bytes, locale: str | None = None) -> Catalog:
    return read_po(io.BytesIO(data), locale=locale)


def _written(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, ignore_obsolete=True)
    return buffer.getvalue()


def updated_catalog(existing: bytes, template: Catalog, locale: str) -> bytes:
    """A catalog with exactly the template's messages (no fuzzy guesses, no obsolete ones) and the plural rule
    Babel gives the locale; a plural message whose number of forms changes keeps what it had and gets empty
    forms to translate (the catalog tests name them)."""
    catalog = _read(existing, locale)
    catalog.update(template, no_fuzzy_matching=True, update_header_comment=False, update_creation_date=False)
    rule = get_plural(locale)
    if (catalog.num_plurals, catalog.plural_expr) != (rule.num_plurals, rule.plural_expr):
        catalog.mime_headers = [("Plural-Forms", rule.plural_forms)]
    for message in catalog:
        if message.id and message.pluralizable:
            forms = [message.string] if isinstance(message.string, str) else list(message.string or ())
            message.string = tuple((forms + [""] * rule.num_plurals)[: rule.num_plurals])
    return _written(catalog)


def refresh(locales_dir: Path = LOCALES_DIR, source_root: Path = SOURCE_ROOT, *, write: bool = True) -> list[Path]:
    """Extract and update; the files whose content changed (or would change, with write=False)."""
    template_bytes = extract_template(source_root)
    template = _read(template_bytes)
    wanted: dict[Path, bytes] = {locales_dir / f"{DOMAIN}.pot": template_bytes}
    for locale in SUPPORTED_LOCALES:
        path = locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        existing = path.read_bytes() if path.exists() else _written(Catalog(locale=locale))
        wanted[path] = updated_catalog(existing, template, locale)
    changed = [path for path, data in wanted.items() if not path.exists() or path.read_bytes() != data]
    if write:
        for path in changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(wanted[path])
    return changed


def main() -> int:
    """Refresh the catalogs in place and say which files changed."""
    changed = refresh()
    for path in changed:
        print(f"updated {path.relative_to(SOURCE_ROOT)}")
    if not changed:
        print("catalogs are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
