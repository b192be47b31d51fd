"""An offline abuse and profanity flag for Korean (and a few English words): pure rules.

Why rules and not a package: korcen 1.0.3 (the maintained Korean list on PyPI) was tried
(issue #19): it missed 씨발 and 존나, flagged 강아지 새끼, reads custom lists from the
working directory at import and calls colorama.init (which wraps stdout). The cues are data
(config/rules.yaml `abuse:`); `abuse_exceptions` are removed first (시발점, 강아지 새끼).
Spelling tricks between letters (씨.발, 시1발, ㅅ_ㅂ) are squeezed out before matching;
spaces are not (서울시 발전 is not 시발).
"""
from __future__ import annotations

import re
from typing import Sequence

# punctuation, digits and symbols put between two letters to dodge a filter
_FILLER = re.compile(r"(?<=[\w])[\d\W_]{1,3}(?=[\w])", re.UNICODE)
_SPACE = re.compile(r"\s")


def _squeeze(text: str) -> str:
    """The text with fillers between letters removed (spaces kept)."""
    return _FILLER.sub(lambda m: m.group(0) if _SPACE.search(m.group(0)) else "", text)


class AbuseFilter:
    """Flags abusive text by cue regexes (case-insensitive), after removing exceptions."""

    def __init__(self, cues: Sequence[str], exceptions: Sequence[str] = ()) -> None:
        self._cues = re.compile("|".join(f"(?:{c})" for c in cues), re.IGNORECASE) if cues \
            else None
        self._exceptions = (re.compile("|".join(f"(?:{e})" for e in exceptions), re.IGNORECASE)
                            if exceptions else None)

    def __call__(self, text: str) -> bool:
        """Whether the text holds an abusive or profane word."""
        if self._cues is None or not text:
            return False
        for form in dict.fromkeys((text, _squeeze(text))):
            if self._exceptions is not None:
                form = self._exceptions.sub(" ", form)
            if self._cues.search(form):
                return True
        return False
