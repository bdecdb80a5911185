"""Themes as staff see them: computed from the input items (feedback, event comments, open poll answers, proposals)
and kept until the next computation, which keeps the names staff gave and what they confirmed where a new theme is
mostly an old one; staff rename, confirm and merge themes; each theme's residents, languages and areas."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from bot.engagement.residents.privacy import ERASED_TEXT
from bot.engagement.themes.clustering import find_themes
from bot.store.engagement import InputItem
from bot.store.themes import Theme, ThemeItem

KEPT_WHEN = 0.5  # a new theme takes an old one's name when at least half of its items were in it
MAX_LABEL = 120


class ThemeError(ValueError):
    """What cannot be done to a theme (its message says why)."""


@dataclass(frozen=True, slots=True)
class Shown:
    """A theme as a page lists it."""

    id: int
    label: str
    keywords: list[str]
    confirmed: bool
    items: int
    residents: int
    languages: list[tuple[str, int]]
    areas: list[tuple[str, int]]


def compute(session: Session, now: datetime, seed: int = 0) -> int:
    """Find the themes again over every input item (erased ones aside); names and confirmations carried over; how
    many themes there are now."""
    rows = session.execute(
        select(InputItem.id, InputItem.text, InputItem.locale)
        .where(InputItem.text != ERASED_TEXT)
        .order_by(InputItem.id)
    ).all()
    found = find_themes([(text, locale) for _id, text, locale in rows], seed=seed)
    before: dict[int, set[int]] = {}
    for theme_id, item_id in session.execute(select(ThemeItem.theme_id, ThemeItem.item_id)):
        before.setdefault(int(theme_id), set()).add(int(item_id))
    old = {t.id: t for t in session.scalars(select(Theme))}
    session.execute(delete(ThemeItem))
    kept: set[int] = set()
    for new in found:
        members = {int(rows[i][0]) for i in new.members}
        carried = next(
            (
                t
                for tid, t in old.items()
                if tid not in kept and len(members & before.get(tid, set())) >= KEPT_WHEN * len(members)
            ),
            None,
        )
        theme = carried or Theme(label="", confirmed=False)
        theme.keywords, theme.computed_at, theme.updated_at = new.keywords, now, now
        if carried is None:
            session.add(theme)
        session.flush()
        kept.add(theme.id)
        session.add_all(ThemeItem(theme_id=theme.id, item_id=item_id) for item_id in sorted(members))
    for theme_id in set(old) - kept:
        session.delete(old[theme_id])
    return len(found)


def listing(session: Session, visible: ColumnElement[bool]) -> list[Shown]:
    """Every theme with how many items and residents it holds, in which languages and areas (of the items the viewer
    may see), the largest first."""
    themes = {t.id: t for t in session.scalars(select(Theme))}
    rows = session.execute(
        select(ThemeItem.theme_id, InputItem.resident_id, InputItem.locale, InputItem.area)
        .join(InputItem, InputItem.id == ThemeItem.item_id)
        .where(visible)
    ).all()
    counted: dict[int, tuple[Counter[str], Counter[str], set[int], list[int]]] = {}
    for theme_id, resident_id, locale, area in rows:
        languages, areas, residents, items = counted.setdefault(int(theme_id), (Counter(), Counter(), set(), [0]))
        languages[locale] += 1
        areas[area or "not given"] += 1
        items[0] += 1
        if resident_id is not None:
            residents.add(int(resident_id))
    shown = [
        Shown(
            t.id,
            t.label or ", ".join(t.keywords[:3]),
            list(t.keywords),
            t.confirmed,
            counted[t.id][3][0],
            len(counted[t.id][2]),
            counted[t.id][0].most_common(),
            counted[t.id][1].most_common(5),
        )
        for t in themes.values()
        if t.id in counted
    ]
    return sorted(shown, key=lambda s: -s.items)


def rename(session: Session, theme_id: int, label: str, now: datetime) -> Theme:
    """Name a theme (kept across computations), which also confirms it."""
    theme = _theme(session, theme_id)
    name = " ".join(label.split())[:MAX_LABEL]
    if not name:
        raise ThemeError("Give the theme a name.")
    theme.label, theme.confirmed, theme.updated_at = name, True, now
    return theme


def confirm(session: Session, theme_id: int, now: datetime) -> Theme:
    """Staff agree the theme is one."""
    theme = _theme(session, theme_id)
    theme.confirmed, theme.updated_at = True, now
    return theme


def merge(session: Session, theme_id: int, into_id: int, now: datetime) -> Theme:
    """Move every item of one theme into another, and drop the first."""
    if theme_id == into_id:
        raise ThemeError("Choose another theme to merge it into.")
    theme, into = _theme(session, theme_id), _theme(session, into_id)
    session.execute(update(ThemeItem).where(ThemeItem.theme_id == theme.id).values(theme_id=into.id))
    into.keywords = list(dict.fromkeys([*into.keywords, *theme.keywords]))[:8]
    into.updated_at = now
    session.delete(theme)
    return into


def split(session: Session, theme_id: int, now: datetime, seed: int = 0) -> Theme:
    """Split a theme in two by what its items say (its smaller part becomes a new theme, unnamed); the new theme."""
    theme = _theme(session, theme_id)
    rows = session.execute(
        select(InputItem.id, InputItem.text, InputItem.locale)
        .join(ThemeItem, ThemeItem.item_id == InputItem.id)
        .where(ThemeItem.theme_id == theme.id)
        .order_by(InputItem.id)
    ).all()
    parts = find_themes([(text, locale) for _id, text, locale in rows], seed=seed, most=2)
    if len(parts) < 2:
        raise ThemeError("Its items are too few or too alike to split.")
    smaller = parts[-1]
    new = Theme(label="", keywords=smaller.keywords, confirmed=False, computed_at=now, updated_at=now)
    session.add(new)
    session.flush()
    moving = [int(rows[i][0]) for i in smaller.members]
    session.execute(update(ThemeItem).where(ThemeItem.item_id.in_(moving)).values(theme_id=new.id))
    theme.keywords, theme.updated_at = parts[0].keywords, now
    return new


def items_of(session: Session, theme_id: int, visible: ColumnElement[bool], limit: int = 200) -> list[InputItem]:
    """A theme's items the viewer may see, the newest first."""
    query = (
        select(InputItem)
        .join(ThemeItem, ThemeItem.item_id == InputItem.id)
        .where(ThemeItem.theme_id == theme_id, visible)
        .order_by(InputItem.created_at.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def count(session: Session) -> int:
    """How many themes there are."""
    return int(session.scalar(select(func.count()).select_from(Theme)) or 0)


def _theme(session: Session, theme_id: int) -> Theme:
    theme = session.get(Theme, theme_id)
    if theme is None:
        raise ThemeError("There is no such theme (the themes may have been computed again).")
    return theme


def item_refs(session: Session, theme_id: int) -> list[int]:
    """The references of every item in a theme."""
    query = (
        select(InputItem.ref).join(ThemeItem, ThemeItem.item_id == InputItem.id).where(ThemeItem.theme_id == theme_id)
    )
    return [int(ref) for ref in session.scalars(query.order_by(InputItem.ref))]
