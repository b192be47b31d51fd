"""Routing: the department an opinion should go to, with the reason shown to staff.

Pure. The rules are data (config/rules.yaml `routing:`). Of the rules whose conditions all
hold, the one whose keyword comes first in the text wins (the subject is usually named
first: "심야버스 ... 택시비가 부담돼요" is the bus desk's), then the earlier rule. A
condition left out holds for every opinion. With no rule, the account's own department is
the suggestion (the team behind the account reads it).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

ARROW = " -> "
ACCOUNT_REASON = "계정 부서"  # the fallback's reason: "계정 부서 -> 택시물류과"


@dataclass(frozen=True)
class Route:
    """One routing rule: its conditions and the department it names."""

    department: str
    keywords: tuple[str, ...] = ()  # regular expressions, any may match (case-insensitive)
    categories: tuple[str, ...] = ()  # the opinion's category is one of these
    districts: tuple[str, ...] = ()  # ... its district one of these
    account_departments: tuple[str, ...] = ()  # ... its account's department one of these

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Route:
        def words(name: str) -> tuple[str, ...]:
            value = d.get(name) or ()
            return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)

        if not d.get("department"):
            raise ValueError(f"routing rule without a department: {d!r}")
        return cls(str(d["department"]), words("keywords"), words("categories"),
                   words("districts"), words("account_departments"))


def routes_from(raw: Sequence[dict[str, Any]] | None) -> tuple[Route, ...]:
    """The routing section of rules.yaml as Routes, in order."""
    return tuple(Route.from_dict(d) for d in (raw or ()))


class Router:
    """Applies Routes to an opinion's text and tags."""

    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = tuple(routes)
        self._cues = [re.compile("|".join(f"(?:{k})" for k in r.keywords), re.IGNORECASE)
                      if r.keywords else None for r in self.routes]

    def route(self, text: str, category: str | None, district: str | None,
              account_department: str | None) -> tuple[str | None, str | None]:
        """(suggested department, reason) of one opinion; (None, None) when nothing says."""
        best: tuple[int, int, Route, re.Match[str] | None] | None = None
        for order, (rule, cue) in enumerate(zip(self.routes, self._cues)):
            found = cue.search(text) if cue is not None else None
            if cue is not None and found is None:
                continue
            if rule.categories and category not in rule.categories:
                continue
            if rule.districts and district not in rule.districts:
                continue
            if rule.account_departments and account_department not in rule.account_departments:
                continue
            at = found.start() if found else len(text)
            if best is None or (at, order) < best[:2]:
                best = (at, order, rule, found)
        if best is not None:
            _, _, rule, found = best
            # the district is shown whenever known: staff read where, not only why
            parts = [found.group(0)] if found else []
            parts += [p for p, used in ((category, rule.categories), (district, True),
                                        (account_department, rule.account_departments))
                      if used and p]
            return rule.department, " + ".join(parts) + ARROW + rule.department
        if account_department:
            return account_department, ACCOUNT_REASON + ARROW + account_department
        return None, None
