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
from re import _compiler as _re_compiler  # type: ignore[attr-defined]
from re import _constants as _C  # type: ignore[attr-defined]
from re import _parser as _re_parser  # type: ignore[attr-defined]
from typing import Any

import yaml

from normalize.abuse import AbuseFilter
from normalize.routing import Route, Router, routes_from

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
    routing: tuple[Route, ...] = ()  # normalize.routing
    abuse: tuple[str, ...] = ()  # normalize.abuse: cues, and what is taken out first
    abuse_exceptions: tuple[str, ...] = ()

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
            routing=routes_from(d.get("routing")),
            abuse=tuple(str(x) for x in (d.get("abuse") or ())),
            abuse_exceptions=tuple(str(x) for x in (d.get("abuse_exceptions") or ())),
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


def _scans_fast(pattern: str, flags: int) -> bool:
    """`re` itself finds where a match may start at C speed (a literal or character-set
    prefix in its info block): every alternative begins with a caseless literal."""
    try:
        code = _re_compiler._code(_re_parser.parse(pattern, flags), flags)
        return code[0] == _C.INFO and bool(code[2] & (_C.SRE_INFO_PREFIX | _C.SRE_INFO_CHARSET))
    except Exception:  # noqa: BLE001 - private API: then assume it does not
        return False


def _led(patterns: list[str], alternation: str, flags: int) -> str:
    """The alternation of the patterns, led by the characters a match can begin with, unless
    `re` skips other positions by itself (a lookahead would stop it from doing so). The
    alternation is grouped: a lookahead before a bare `a|b` would guard `a` only."""
    if _scans_fast(alternation, flags):
        return alternation
    prefix = _first_chars_prefix(patterns)
    return f"{prefix}(?:{alternation})" if prefix else alternation


def _compile_any(cues: list[str], flags: int) -> re.Pattern[str] | None:
    """One regex matching any of the cues."""
    if not cues:
        return None
    return re.compile(_led(cues, "|".join(f"(?:{c})" for c in cues), flags), flags)


class _Priority:
    """Rules (lists of cues, highest priority first) with the same flags: the first rule one
    of whose cues occurs in a text, in one or two searches instead of one per rule.

    A search of the cues of rules 0..k-1 in rule order finds the leftmost position where any
    matches; there, the first alternative that matches is of the best rule that matches
    there, and only better rules can still match further on (searched from the next
    position). Cues with groups are searched rule by rule: combined, their backreference
    numbers would change."""

    def __init__(self, rules: list[list[str]], flags: int) -> None:
        self.rules = rules
        self.flags = flags
        self.each = [_compile_any(cues, flags) for cues in rules]
        self.combined = all(_groups(c, flags) == 0 for cues in rules for c in cues)
        self._upto: dict[int, re.Pattern[str] | None] = {}

    def first(self, text: str, limit: int) -> int:
        """The index of the first rule below `limit` that occurs in the text, else `limit`."""
        if not self.combined:
            return self._loop(text, limit)
        each = self.each
        pos = 0
        while limit:
            found = self._upto[limit] if limit in self._upto else self._searcher(limit)
            m = found.search(text, pos) if found is not None else None
            if m is None:
                return limit
            at = m.start()
            for best in range(limit):
                rule = each[best]
                if rule is not None and rule.match(text, at):
                    break
            else:  # cannot happen (see the class doc); the plain loop then
                return self._loop(text, limit)
            limit, pos = best, at + 1
        return 0

    def _loop(self, text: str, limit: int) -> int:
        for i in range(limit):
            pattern = self.each[i]
            if pattern is not None and pattern.search(text):
                return i
        return limit

    def _searcher(self, limit: int) -> re.Pattern[str] | None:
        """The cues of rules 0..limit-1 as one regex, in rule order (compiled when needed)."""
        if limit not in self._upto:
            self._upto[limit] = _compile_any(
                [c for cues in self.rules[:limit] for c in cues], self.flags)
        return self._upto[limit]


def _groups(cue: str, flags: int) -> int:
    """Capturing groups of a cue (-1 when it does not compile on its own)."""
    try:
        return re.compile(cue, flags).groups
    except re.error:
        return -1


class _FirstRule:
    """The first (highest-priority) name one of whose cues occurs in a text, as a loop of
    `search` per rule finds it. Hangul/Han cues are searched without IGNORECASE (they have
    no case: same matches, faster), cues with cased characters only in texts that have some."""

    def __init__(self, groups: dict[str, tuple[str, ...]]) -> None:
        self.names = list(groups)
        self.plain = _Priority([[c for c in cues if _caseless(c)] for cues in groups.values()], 0)
        self.cased = _Priority([[c for c in cues if not _caseless(c)]
                                for cues in groups.values()], re.IGNORECASE)

    def __call__(self, text: str, has_case: bool | None = None) -> str | None:
        """has_case: `_has_case(text)`, when the caller knows it already."""
        if has_case is None:
            has_case = _has_case(text)
        found = self.plain.first(text, len(self.names))
        if has_case and found:
            found = self.cased.first(text, found)
        return self.names[found] if found < len(self.names) else None


def _has_case(text: str) -> bool:
    """Some character has case: only then can a cased cue match (under IGNORECASE)."""
    return text.lower() != text.upper()


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
                _led([re.escape(a) for a in native], "|".join(parts), 0))
            self._latin_re = re.compile(
                _led([re.escape(a) for a in latin_sources], latin_part, re.IGNORECASE),
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
        self._category_first = _FirstRule(rules.categories)
        self._weak_first = _FirstRule(rules.weak_categories)
        self._crisis_first = _FirstRule(rules.crisis)
        self.router = Router(rules.routing)
        self.abusive = AbuseFilter(rules.abuse, rules.abuse_exceptions)

    def route(self, text: str, category: str | None, district: str | None,
              account_department: str | None) -> tuple[str | None, str | None]:
        """(suggested department, reason) of an opinion (normalize.routing)."""
        return self.router.route(text, category, district, account_department)

    def tags(self, text: str) -> tuple[str | None, str | None, str | None]:
        """(district, category, crisis) of a text, as the three methods give them."""
        has_case = _has_case(text)  # once for the three
        return (self.district(text, has_case), self.category(text, has_case),
                self._crisis_first(text, has_case))

    def district(self, text: str, has_case: bool | None = None) -> str | None:
        """Return the first Seoul district (canonical 'XX구') mentioned, or None."""
        if not self.rules.districts:  # (the empty alternation would match everywhere)
            return None
        if has_case is None:
            has_case = _has_case(text)
        latin_re = self._latin_re if has_case else None
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
            kind = m.lastgroup or ""
            value = m.group(kind)
            if kind == "full":
                return self._full[value]
            if kind == "short":
                return self._short[value]
            if kind == "latin":
                return self._latin.get(_latin_key(value))
            return self._han[value]

    def category(self, text: str, has_case: bool | None = None) -> str | None:
        """Return the highest-priority category whose cues occur, falling back to weak cues."""
        if has_case is None:
            has_case = _has_case(text)
        return self._category_first(text, has_case) or self._weak_first(text, has_case)

    def crisis(self, text: str) -> str | None:
        """Return the highest-priority crisis kind mentioned, or None."""
        return self._crisis_first(text)
