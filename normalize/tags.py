"""Rule-based tags for comments: Seoul district, comment category, crisis kind.

The rules are data (config/rules.yaml); this module only compiles and applies them.
Decisions (see rules.yaml for details): short names without 구 match only when unambiguous
and followed by a particle (마포에서); 강남/강북/동대문/동작 never match without 구; station
names (강남역) never map to a district; a gu right after another metro city (부산 중구) is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_SHORT_MARK = "~"  # alias suffix in rules.yaml: short form that needs a following particle

# A Hangul alias must not continue a previous Hangul word (집중구역 is not 중구),
# except when glued to the city name (서울중구, 서울시중구, 서울특별시중구).
_HANGUL_BEFORE = r"(?:(?<![가-힣])|(?<=서울)|(?<=서울시)|(?<=특별시))"
# Words after the full form that turn it into a different word (중구난방).
_FULL_AFTER = r"(?!난방)"
# What may follow a short form (마포에서, 노원은, 은평 주민).
_PARTICLE_AFTER = (
    r"(?=(?:에서|에선|에는|에도|에|은|는|이|가|을|를|의|도|만|까지|부터|쪽|지역|일대|주민|구민"
    r"|사람|근처|동네)|\s+(?:주민|지역|일대|쪽|근처|동네|사는|살아|살고|주변))"
)
_HANGUL_CHAR = re.compile(r"[가-힣]")
_LATIN_CHAR = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class Rules:
    """Tagging rules as plain data (see config/rules.yaml)."""

    districts: dict[str, tuple[str, ...]]
    categories: dict[str, tuple[str, ...]]
    crisis: dict[str, tuple[str, ...]]
    stop_nouns: frozenset[str]
    other_cities: tuple[str, ...] = ()
    weak_categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Rules":
        """Build Rules from a parsed YAML mapping; missing sections become empty."""

        def section(name: str) -> dict[str, tuple[str, ...]]:
            raw = d.get(name) or {}
            return {str(k): tuple(str(x) for x in (v or ())) for k, v in raw.items()}

        return cls(
            districts=section("districts"),
            categories=section("categories"),
            crisis=section("crisis"),
            stop_nouns=frozenset(str(x).lower() for x in (d.get("stop_nouns") or ())),
            other_cities=tuple(str(x) for x in (d.get("other_cities") or ())),
            weak_categories=section("weak_categories"),
        )


def load_rules(path: str | Path) -> Rules:
    """Read a rules YAML file."""
    with open(path, encoding="utf-8") as fh:
        return Rules.from_dict(yaml.safe_load(fh) or {})


def _alternation(words: list[str]) -> str:
    """Escaped alternation of literal words, longest first so prefixes never shadow."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _latin_key(s: str) -> str:
    """Normalise a Latin district alias for lookup (case, hyphen and spaces ignored)."""
    return re.sub(r"[\s-]+", "", s).lower()


def _compile_cues(groups: dict[str, tuple[str, ...]]) -> list[tuple[str, re.Pattern[str]]]:
    """Compile each name's cue patterns into one case-insensitive regex, keeping order."""
    out = []
    for name, cues in groups.items():
        if cues:
            out.append((name, re.compile("|".join(f"(?:{c})" for c in cues), re.IGNORECASE)))
    return out


class Tagger:
    """Applies compiled Rules to text; all methods are pure."""

    def __init__(self, rules: Rules) -> None:
        """Precompile every regex from the rules."""
        self.rules = rules
        full: dict[str, str] = {}
        short: dict[str, str] = {}
        latin: dict[str, str] = {}
        han: dict[str, str] = {}
        for gu, aliases in rules.districts.items():
            full[gu] = gu
            for alias in aliases:
                if alias.endswith(_SHORT_MARK):
                    short[alias[: -len(_SHORT_MARK)]] = gu
                elif _LATIN_CHAR.search(alias):
                    latin[_latin_key(alias)] = gu
                elif _HANGUL_CHAR.search(alias):
                    full[alias] = gu
                else:
                    han[alias] = gu
        self._full, self._short, self._latin, self._han = full, short, latin, han
        latin_alts = "|".join(
            r"[\s-]*".join(re.escape(part) for part in re.split(r"[\s-]+", a))
            for a in sorted(
                {a for aliases in rules.districts.values() for a in aliases
                 if _LATIN_CHAR.search(a) and not a.endswith(_SHORT_MARK)},
                key=len,
                reverse=True,
            )
        )
        parts = [rf"{_HANGUL_BEFORE}(?P<full>{_alternation(list(full))}){_FULL_AFTER}"]
        if short:
            short_alts = _alternation(list(short))
            parts.append(rf"{_HANGUL_BEFORE}(?P<short>{short_alts}){_PARTICLE_AFTER}")
        if latin_alts:
            parts.append(rf"(?<![A-Za-z])(?P<latin>{latin_alts})(?![A-Za-z])")
        if han:
            parts.append(rf"(?P<han>{_alternation(list(han))})")
        self._district_re = re.compile("|".join(parts), re.IGNORECASE)
        self._other_city_re = (
            re.compile(rf"(?:{_alternation(list(rules.other_cities))})(?:광역시|시|\s*city)?\s*$",
                       re.IGNORECASE)
            if rules.other_cities else None
        )
        self._categories = _compile_cues(rules.categories)
        self._weak = _compile_cues(rules.weak_categories)
        self._crisis = _compile_cues(rules.crisis)

    def district(self, text: str) -> str | None:
        """Return the first Seoul district (canonical 'XX구') mentioned, or None."""
        for m in self._district_re.finditer(text):
            before = text[max(0, m.start() - 12): m.start()]
            if self._other_city_re and self._other_city_re.search(before):
                continue  # 부산 중구, 대구 중구: same name, other city
            kind = m.lastgroup
            value = m.group(kind)
            if kind == "full":
                return self._full[value]
            if kind == "short":
                return self._short[value]
            if kind == "latin":
                return self._latin.get(_latin_key(value))
            return self._han[value]
        return None

    def category(self, text: str) -> str | None:
        """Return the highest-priority category whose cues occur, falling back to weak cues."""
        for name, rx in self._categories:
            if rx.search(text):
                return name
        for name, rx in self._weak:
            if rx.search(text):
                return name
        return None

    def crisis(self, text: str) -> str | None:
        """Return the highest-priority crisis kind mentioned, or None."""
        for name, rx in self._crisis:
            if rx.search(text):
                return name
        return None
