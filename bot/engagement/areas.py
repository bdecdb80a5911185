"""Canonical areas: loaded from a CSV (a name per language, ZIP codes, aliases), matched to what residents type (exact,
alias, ZIP, a spelling staff mapped, then small typos), and what nobody could match listed for staff to map once."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.conversation.text import fold
from bot.i18n.negotiation import SUPPORTED_LOCALES
from bot.staff import audit
from bot.staff.spreadsheet import csv_rows
from bot.store.engagement import Answer, InputItem
from bot.store.models import Resident
from bot.store.places import Area, AreaSpelling
from bot.store.prepared import Prepared

NAME_COLUMNS = tuple(f"name_{locale}" for locale in SUPPORTED_LOCALES)
COLUMNS = ("code", "zips", "aliases", *NAME_COLUMNS)
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_ZIP = re.compile(r"\b\d{5}\b")
_LIST = re.compile(r"[|;]")


class AreaError(ValueError):
    """An areas file, or a mapping, that cannot be taken; the message says which line or field."""


@dataclass(frozen=True, slots=True, eq=False)  # one object per area in a book: compared and hashed as itself
class Place:
    """An area as matching reads it (not an ORM object: the book is read on a resident's turn)."""

    id: int
    code: str
    names: dict[str, Any]
    zips: dict[str, Any]
    aliases: dict[str, Any]


_AREAS = Prepared(select(Area.id, Area.code, Area.names, Area.zips, Area.aliases).order_by(Area.id))
_SPELLINGS = Prepared(select(AreaSpelling.spelling, AreaSpelling.area_id))


def display_name(area: Area | Place, locale: str) -> str:
    """The area as the program names it: in the language asked, else the first name given, else its code."""
    names = {str(k): str(v) for k, v in (area.names or {}).items() if v}
    return names.get(locale) or next(iter(names.values()), area.code)


def _distance(a: str, b: str, most: int) -> int:
    """Edit distance between a and b, stopping early above most (then most + 1)."""
    if abs(len(a) - len(b)) > most:
        return most + 1
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
        if min(row) > most:
            return most + 1
    return row[-1]


@dataclass(frozen=True)
class AreaBook:
    """Every area with the words that name it, folded (case and accents aside), read once for a batch of matches."""

    words: dict[str, Place]  # folded code, name in any language or alias -> area
    zips: dict[str, Place]
    spellings: dict[str, Place]

    @classmethod
    def read(cls, session: Session) -> AreaBook:
        """The book of the areas stored now (with the session's own changes to them)."""
        session.flush()  # the statements below run on the driver, past the unit of work
        areas = [Place(i, c, n or {}, z or {}, a or {}) for i, c, n, z, a in _AREAS.run(session, {})]
        by_id = {area.id: area for area in areas}
        words: dict[str, Place] = {}
        zips: dict[str, Place] = {}
        for area in areas:
            for word in [area.code, *(area.names or {}).values(), *(area.aliases or {}).get("names", [])]:
                if fold(str(word)):
                    words.setdefault(fold(str(word)), area)
            for code in (area.zips or {}).get("codes", []):
                zips[str(code)] = area
        spellings = {spelling: by_id[area_id] for spelling, area_id in _SPELLINGS.run(session, {})}
        return cls(words, zips, spellings)

    def match(self, typed: str) -> Place | None:
        """The area a resident means: its name, code or alias (any case, accents or not), a ZIP code in the text, a
        spelling staff mapped, or one small typo away from a single area's name; None when unsure."""
        folded = fold(typed)
        if not folded:
            return None
        found = self.words.get(folded) or self.spellings.get(folded)
        if found is not None:
            return found
        zips = {self.zips[code] for code in _ZIP.findall(unicodedata.normalize("NFKC", typed)) if code in self.zips}
        if len(zips) == 1:
            return zips.pop()
        most = 1 if len(folded) < 9 else 2
        if len(folded) < 4:
            return None
        close = {area.id: area for word, area in self.words.items() if _distance(folded, word, most) <= most}
        return next(iter(close.values())) if len(close) == 1 else None


def area_names(session: Session) -> dict[str, dict[str, str]]:
    """Each name an area goes by -> its name per language: how a name residents are filed under reads elsewhere."""
    names: dict[str, dict[str, str]] = {}
    for area in session.scalars(select(Area)):
        spelled = {str(locale): str(name) for locale, name in (area.names or {}).items()}
        names.update(dict.fromkeys(spelled.values(), spelled))
    return names


def typed_area(session: Session, typed: str | None, locale: str) -> tuple[str | None, str | None]:
    """What a resident typed for their area (as kept), and their area: the program's name for it when it matches
    one, else as typed."""
    text = (typed or "").strip()[:120] or None
    area = AreaBook.read(session).match(text) if text else None
    return text, display_name(area, locale) if area is not None else text


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in _LIST.split(raw or "") if part.strip()]


@dataclass(frozen=True)
class AreaRow:
    """One line of an areas file."""

    code: str
    names: dict[str, str]
    zips: list[str]
    aliases: list[str]


def parse_areas(text: str) -> list[AreaRow]:
    """The rows of an areas CSV (code, zips, aliases, name_<locale>…); AreaError listing every bad line at once."""
    header, lines = csv_rows(text)
    if "code" not in header or not any(column in header for column in NAME_COLUMNS):
        raise AreaError(f"the first line names the columns: {', '.join(COLUMNS)} (code and at least one name_…)")
    rows: list[AreaRow] = []
    problems: list[str] = []
    seen: set[str] = set()
    for line, row in enumerate(lines, 2):
        code = (row.get("code") or "").strip()
        given = {column.removeprefix("name_"): (row.get(column) or "").strip() for column in NAME_COLUMNS}
        names = {locale: name for locale, name in given.items() if name}
        zips = [z for z in re.split(r"[\s|;,]+", row.get("zips") or "") if z]
        if not _CODE.fullmatch(code):
            problems.append(f"line {line}: code {code!r} must be 1 to 64 letters, digits, - or _")
        elif code in seen:
            problems.append(f"line {line}: the code {code!r} is given twice")
        if not names:
            problems.append(f"line {line}: give a name in at least one language ({', '.join(NAME_COLUMNS)})")
        if bad := [z for z in zips if not (z.isascii() and z.isdigit() and len(z) == 5)]:
            problems.append(f"line {line}: ZIP codes are five digits, not {', '.join(map(repr, bad[:3]))}")
        seen.add(code)
        rows.append(AreaRow(code, names, zips, _split(row.get("aliases"))))
    if problems or not rows:
        raise AreaError("; ".join(problems) or "the file has no areas")
    return rows


def load_areas(session: Session, text: str, locale: str, actor: str, now: datetime) -> tuple[int, int]:
    """Store the areas of a CSV (new codes added, known ones replaced), then match every resident's typed area
    again; (areas stored, residents now in an area)."""
    rows = parse_areas(text)
    known = {area.code: area for area in session.scalars(select(Area))}
    for row in rows:
        area = known.get(row.code) or Area(code=row.code, created_at=now)
        area.names, area.zips, area.aliases = dict(row.names), {"codes": row.zips}, {"names": row.aliases}
        area.updated_at = now
        session.add(area)
    session.flush()
    placed = rematch(session, locale)
    audit.record(session, actor, "areas.load", "areas", now, areas=len(rows), residents_placed=placed)
    return len(rows), placed


def rematch(session: Session, locale: str) -> int:
    """Every resident's area matched again from what they typed (answers and items keep the area they were given
    under, renamed to match); the number of residents now in a canonical area."""
    book = AreaBook.read(session)
    placed, renamed = 0, Counter[tuple[str, str]]()
    for resident in session.scalars(select(Resident).where(Resident.area_typed.is_not(None))):
        area = book.match(resident.area_typed or "")
        if area is None:
            continue
        placed += 1
        name = display_name(area, locale)
        if resident.area != name:
            renamed[(resident.area or "", name)] += 1
            resident.area = name
    for (before, after), _count in renamed.items():
        for table in (Answer, InputItem):
            session.execute(update(table).where(table.area == before).values(area=after))
    return placed


def map_spelling(session: Session, typed: str, code: str, locale: str, actor: str, now: datetime) -> int:
    """Staff say what a spelling residents used means (once for everyone); the residents it moves."""
    area = session.scalars(select(Area).where(Area.code == code)).first()
    spelling = fold(typed)[:120]
    if area is None or not spelling:
        raise AreaError("Choose an area from the list for that spelling.")
    existing = session.scalars(select(AreaSpelling).where(AreaSpelling.spelling == spelling)).first()
    if existing is None:
        session.add(AreaSpelling(spelling=spelling, area_id=area.id, created_at=now))
    else:
        existing.area_id = area.id
    session.flush()
    moved = sum(1 for r in session.scalars(select(Resident.area_typed)) if r and fold(r) == spelling)
    rematch(session, locale)
    audit.record(session, actor, "areas.map", f"area:{code}", now, spelling=typed[:120], residents=moved)
    return moved


def unmatched(session: Session) -> list[tuple[str, int]]:
    """What residents typed that is no area yet, most common first: for staff to map."""
    book = AreaBook.read(session)
    typed = session.scalars(select(Resident.area_typed).where(Resident.area_typed.is_not(None)))
    counts = Counter(text for text in typed if text)
    return sorted(((t, n) for t, n in counts.items() if book.match(t) is None), key=lambda item: (-item[1], item[0]))
