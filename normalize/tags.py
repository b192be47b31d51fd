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
from re import _constants as _C  # type: ignore[attr-defined]
from re import _parser as _re_parser  # type: ignore[attr-defined]
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


def _first_chars_prefix(patterns: list[str]) -> str:
    """`(?=[...])`: the characters a match of any of the patterns can begin with (so `re`
    skips other positions fast), or "" when that is not known for one of them."""
    items: set[str] = set()
    for pattern in patterns:
        try:
            got = _first_of(list(_re_parser.parse(pattern, re.IGNORECASE)))
        except re.error:
            got = None
        if not got:
            return ""
        items |= {re.escape(x) if len(x) == 1 else x for x in got}
    return "(?=[" + "".join(sorted(items)) + "])" if items else ""


def _first_of(items: list) -> set[str] | None:
    """The characters every match of a parsed pattern begins with ("a-z" items for class
    ranges); None when unknown or when it may match the empty string."""
    for op, av in items:
        if op is _C.AT:  # \b, ^: zero width, the next item decides
            continue
        if op is _C.LITERAL:
            return {chr(av)}
        if op is _C.IN:
            out = set()
            for iop, iav in av:
                if iop is _C.LITERAL:
                    out.add(chr(iav))
                elif iop is _C.RANGE:
                    out.add(re.escape(chr(iav[0])) + "-" + re.escape(chr(iav[1])))
                else:  # negated classes, \w, \d, ranges when listing strings
                    return None
            return out
        if op is _C.BRANCH:
            out = set()
            for alt in av[1]:
                got = _first_of(list(alt))
                if got is None:
                    return None
                out |= got
            return out
        if op is _C.SUBPATTERN:
            return _first_of(list(av[3]))
        if op in (_C.MAX_REPEAT, _C.MIN_REPEAT) and av[0] >= 1:
            return _first_of(list(av[2]))
        return None
    return None


_ESCAPE = re.compile(r"\\[A-Za-z]")


def _caseless(pattern: str) -> bool:
    """No character of the pattern has a case (escapes like \\b aside): IGNORECASE changes
    nothing, and a text without cased characters cannot match a cased pattern."""
    rest = _ESCAPE.sub("", pattern)
    return rest.lower() == rest == rest.upper()


class _FirstRule:
    """The first (highest-priority) name one of whose cues occurs in a text, as a loop of
    `search` per rule finds it. Each rule's Hangul/Han cues are searched without IGNORECASE
    (they have no case: same matches, faster), its cues with cased characters only in texts
    that have some; each regex is led by the characters its matches can begin with."""

    def __init__(self, groups: dict[str, tuple[str, ...]], precheck: bool = True) -> None:
        self.rules: list[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None]] = []
        all_plain: list[str] = []
        all_cased: list[str] = []
        for name, cues in groups.items():
            plain = [c for c in cues if _caseless(c)]
            cased = [c for c in cues if not _caseless(c)]
            self.rules.append((name, _compile_any(plain, 0), _compile_any(cased, re.IGNORECASE)))
            all_plain += plain
            all_cased += cased
        # any rule at all: most texts match no crisis kind, and are done in one or two
        # searches (not worth it where most texts match a rule: categories)
        self.precheck = precheck
        self.any_plain = _compile_any(all_plain, 0)
        self.any_cased = _compile_any(all_cased, re.IGNORECASE)

    def __call__(self, text: str) -> str | None:
        has_case = text.lower() != text.upper()
        if self.precheck and not ((self.any_plain is not None and self.any_plain.search(text))
                or (has_case and self.any_cased is not None and self.any_cased.search(text))):
            return None
        for name, plain, cased in self.rules:
            if plain is not None and plain.search(text):
                return name
            if has_case and cased is not None and cased.search(text):
                return name
        return None


def _compile_any(cues: list[str], flags: int) -> re.Pattern[str] | None:
    """One regex matching any of the cues, led by their possible first characters."""
    if not cues:
        return None
    return re.compile(_first_chars_prefix(cues) + "|".join(f"(?:{c})" for c in cues), flags)


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
        latin_sources = sorted(
            {a for aliases in rules.districts.values() for a in aliases
             if _LATIN_CHAR.search(a) and not a.endswith(_SHORT_MARK)},
            key=len,
            reverse=True,
        )
        latin_alts = "|".join(
            r"[\s-]*".join(re.escape(part) for part in re.split(r"[\s-]+", a))
            for a in latin_sources
        )
        # Two regexes, each led by the characters its matches can begin with (so `re` skips
        # other positions at C speed): Hangul/Han aliases without IGNORECASE (they have no
        # case: same matches, ~7x faster), Latin ones with it, searched only in texts with
        # cased characters. Their matches never start at the same position (no Hangul/Han
        # alias begins as a Latin one does), so the earlier one is the one the single regex
        # `full|short|latin|han` would find. Otherwise (other rules), that single regex.
        parts = [rf"{_HANGUL_BEFORE}(?P<full>{_alternation(list(full))}){_FULL_AFTER}"]
        if short:
            short_alts = _alternation(list(short))
            parts.append(rf"{_HANGUL_BEFORE}(?P<short>{short_alts}){_PARTICLE_AFTER}")
        if han:
            parts.append(rf"(?P<han>{_alternation(list(han))})")
        native = [*full, *short, *han]
        latin_part = rf"(?<![A-Za-z])(?P<latin>{latin_alts})(?![A-Za-z])" if latin_alts else ""
        if all(_caseless(a) for a in native) and {a[0] for a in native}.isdisjoint(
                a[0] for a in latin_sources):
            self._district_re = re.compile(
                _first_chars_prefix([re.escape(a) for a in native]) + "|".join(parts))
            self._latin_re = re.compile(
                _first_chars_prefix([re.escape(a) for a in latin_sources]) + latin_part,
                re.IGNORECASE) if latin_part else None
        else:  # one regex, as it always was
            if latin_part:
                parts.insert(2 if short else 1, latin_part)
            self._district_re = re.compile("|".join(parts), re.IGNORECASE)
            self._latin_re = None
        self._other_city_re = (
            re.compile(rf"(?:{_alternation(list(rules.other_cities))})(?:광역시|시|\s*city)?\s*$",
                       re.IGNORECASE)
            if rules.other_cities else None
        )
        self._categories = _compile_cues(rules.categories)
        self._weak = _compile_cues(rules.weak_categories)
        self._crisis = _compile_cues(rules.crisis)
        self._category_first = _FirstRule(rules.categories, precheck=False)
        self._weak_first = _FirstRule(rules.weak_categories)
        self._crisis_first = _FirstRule(rules.crisis)

    def district(self, text: str) -> str | None:
        """Return the first Seoul district (canonical 'XX구') mentioned, or None."""
        latin_re = self._latin_re if text.lower() != text.upper() else None
        pos = 0
        while True:
            m = self._district_re.search(text, pos)
            if latin_re is not None:
                ml = latin_re.search(text, pos)
                if ml is None:
                    latin_re = None  # none further on either
                elif m is None or ml.start() < m.start():
                    m = ml
            if m is None:
                return None
            pos = m.end()  # as finditer goes on
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

    def category(self, text: str) -> str | None:
        """Return the highest-priority category whose cues occur, falling back to weak cues."""
        return self._category_first(text) or self._weak_first(text)

    def crisis(self, text: str) -> str | None:
        """Return the highest-priority crisis kind mentioned, or None."""
        return self._crisis_first(text)
