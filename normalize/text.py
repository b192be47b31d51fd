"""Pure text helpers: Unicode cleanup, PII masking, language guess, hashing, truncation, HTML.

PII policy (decisions):
- Masked: mobile numbers (010/011/016-019, with -, ., space or nothing, +82 forms),
  landlines with separators (02-123-4567, 031-1234-5678, 070-...), RRNs incl. foreigner
  numbers and half-masked ones (900101-1******), e-mail, card numbers (4-4-4-4, Amex 4-6-5,
  bare 15/16 digits), bank accounts (hyphenated 3+ groups with 11-14 digits, or any
  10-14 digit run right after 계좌/입금/송금/이체/account/a bank name).
- Kept: 8-digit representative numbers 15xx/16xx/18xx-xxxx (businesses, not persons),
  short public numbers (120 다산콜센터, 112, 119), dates, times, prices, bus numbers,
  postal codes, years, percentages, versions.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import unicodedata

# --------------------------------------------------------------------------- nfc

# C0/C1 controls except \t and \n (\r is folded into \n before this runs), plus BOM.
_CTRL_TABLE = {
    cp: None
    for cp in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0xFEFF]
    if cp not in (0x09, 0x0A)
}
_SURROGATE = re.compile("[\ud800-\udfff]")
# Any character the table deletes or a lone surrogate: most texts have none (translate
# with a dict costs ~0.1 us a character, a regex scan a fraction of it).
_CTRL_OR_SURROGATE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\ud800-\udfff]")


def nfc(text: str) -> str:
    """Return NFC text without control characters (keeps \\n and \\t), lone surrogates or BOMs."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    dirty = _CTRL_OR_SURROGATE.search(text) is not None
    if dirty:
        text = text.translate(_CTRL_TABLE)
    if not text.isascii():
        if dirty:  # lone surrogates (from broken JSON) cannot be stored as UTF-8 later
            text = _SURROGATE.sub("", text)
        text = unicodedata.normalize("NFC", text)
    return text


# --------------------------------------------------------------------------- PII

# Separator between phone digit groups: -, en dash, dot, space, or a spaced hyphen.
_SEP = r"(?: ?[-\u2013] ?|[. ])"
_NB = r"(?<![\d])"  # not preceded by a digit
_NA = r"(?![\d])"  # not followed by a digit

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z])"
)

# RRN / foreigner registration: YYMMDD + gender/century digit 1-8 + 6 digits; also "-1******".
_RRN = re.compile(
    _NB + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"(?:[- ]?[1-8]\d{6}|-[1-8][*xX●○]{6})" + _NA
)

# Cards: 4-4-4-4 with a consistent separator (or none), Amex 4-6-5.
_CARD = re.compile(
    _NB + r"(?:\d{4}([- ]?)\d{4}\1\d{4}\1\d{4}|3[47]\d{2}([- ]?)\d{6}\2\d{5})" + _NA
)

# Mobile: 010/011/016-019, optionally in +82 form (+82 10-..., +82-10-..., +82 (0)10...).
_MOBILE = re.compile(
    _NB + r"(?:(?:\+|00)?82[- ]?(?:\(0\))?[- ]?0?|0)1[016-9]"
    + _SEP + r"?\d{3,4}" + _SEP + r"?\d{4}" + _NA
)

# Landlines need separators: bare 9-11 digit runs starting with 0 are too ambiguous.
_AREA = r"0(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50\d)"
_LANDLINE = re.compile(
    _NB + r"(?:\(" + _AREA + r"\)\s?|" + _AREA + r"(?:\)\s?|[-. ]))\d{3,4}[-. ]\d{4}" + _NA
)
_LANDLINE_INTL = re.compile(
    _NB + r"(?:\+|00)82[- ]?(?:\(0\))?(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)"
    r"[-. ]\d{3,4}[-. ]\d{4}" + _NA
)

# Hyphenated account: 3+ groups, first group 3-6 digits not starting with 0 (phones do).
_ACCOUNT_HYPHEN = re.compile(_NB + r"[1-9]\d{2,5}(?:-\d{1,7}){2,3}" + _NA)
_DATE_PREFIX = re.compile(r"(?:19|20)\d\d-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?:-|$)")

# Keyword-led account: the keyword is kept, the following number is masked.
_BANKS = (
    r"(?:KB|NH|IBK|SC|국민|신한|농협|우체국|카카오뱅크|카카오|케이뱅크|토스뱅크|토스|새마을금고|신협|수협|"
    r"(?:우리|하나|기업|부산|대구|광주|경남|전북|제주|SC제일|씨티|산업|농협|국민|신한)은행)"
)
_ACCOUNT_KEYWORD = re.compile(
    r"((?:계좌(?:번호)?|입금|송금|이체|무통장|account(?:\s*(?:number|no\.?|#))?|acct\.?|bank|"
    + _BANKS
    + r")(?:(?!주민|등록|카드)[^\d\n]){0,12}?)"
    r"(?<!\d)(\d(?:[- ]?\d){9,13})(?![- ]?\d)",
    re.IGNORECASE,
)

_DATE_SPACED = re.compile(
    r"(?:19|20)\d\d[-. ](?:0?[1-9]|1[0-2])[-. ](?:0?[1-9]|[12]\d|3[01])(?!\d)"
)
_RRN_SHAPE = re.compile(r"\d{6}-\d{7}")  # left for _RRN even after an account keyword
_DIGIT = re.compile(r"\d")
# Every number the patterns below mask has at least this many digits (a half-masked RRN:
# 6 + 1; the others 9 and more; _ACCOUNT_HYPHEN keeps spans under 11), so a text with
# fewer is left as it is.
_MIN_DIGITS = 7
# What every e-mail match contains: a local-part character, @, a domain character. Most
# texts with @ are mentions (@seoulmania): _EMAIL itself tries every position.
_EMAIL_AT = re.compile(r"@(?<=[A-Za-z0-9._%+-]@)[A-Za-z0-9-]")


def _luhn_ok(digits: str) -> bool:
    """Return True when the digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_repl(m: re.Match[str]) -> str:
    """Mask card-shaped numbers; bare digit runs also need a card-like IIN or a valid Luhn."""
    span = m.group(0)
    if span.isdigit() and span[0] not in "345689" and not _luhn_ok(span):
        return span  # a bare 16-digit id that looks nothing like a card
    return "[카드번호]"


def _account_hyphen_repl(m: re.Match[str]) -> str:
    """Mask hyphenated accounts with 11-14 digits that are not date-led."""
    span = m.group(0)
    n = len(span) - span.count("-")
    if n < 11 or n > 14 or _DATE_PREFIX.match(span):
        return span
    return "[계좌번호]"


def _account_keyword_repl(m: re.Match[str]) -> str:
    """Keep the keyword, mask the number after it unless it reads as a date."""
    if _DATE_SPACED.match(m.group(2)) or _RRN_SHAPE.fullmatch(m.group(2)):
        return m.group(0)
    return m.group(1) + "[계좌번호]"


def mask_pii(text: str) -> str:
    """Replace phone, RRN, e-mail, card and bank numbers with fixed Korean tokens."""
    if "@" in text and _EMAIL_AT.search(text):
        text = _EMAIL.sub("[이메일]", text)
    if len(_DIGIT.findall(text)) < _MIN_DIGITS:
        return text
    # Order matters: longer/more specific shapes first; a keyword-led account wins over
    # a bare 13-digit run that happens to parse as an RRN ("계좌 1002123456789").
    text = _CARD.sub(_card_repl, text)
    text = _MOBILE.sub("[전화번호]", text)
    text = _LANDLINE_INTL.sub("[전화번호]", text)
    text = _LANDLINE.sub("[전화번호]", text)
    text = _ACCOUNT_KEYWORD.sub(_account_keyword_repl, text)
    text = _RRN.sub("[주민번호]", text)
    text = _ACCOUNT_HYPHEN.sub(_account_hyphen_repl, text)
    return text


# --------------------------------------------------------------------------- language

_IGNORE = re.compile(r"https?://\S+|www\.\S+|[@#][\w.]+")
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]")
_KANA_CHARS = r"\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HAN_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_LATIN_CHARS = r"A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_KANA = re.compile(f"[{_KANA_CHARS}]")
_HAN = re.compile(f"[{_HAN_CHARS}]")
_LATIN = re.compile(f"[{_LATIN_CHARS}]")
# Kana, Han or Latin: one scan tells whether their counts are needed at all.
_OTHER_SCRIPT = re.compile(f"[{_KANA_CHARS}{_HAN_CHARS}{_LATIN_CHARS}]")


def detect_lang(text: str) -> str:
    """Guess 'ko', 'en', 'zh', 'ja' or 'und' from script counts (URLs, mentions, tags ignored)."""
    if "@" in text or "#" in text or "://" in text or "www." in text:  # else nothing to ignore
        text = _IGNORE.sub(" ", text)
    if not _OTHER_SCRIPT.search(text):  # most texts: only whether there is Hangul matters
        return "ko" if _HANGUL.search(text) else "und"
    kana = len(_KANA.findall(text))
    han = len(_HAN.findall(text))
    latin = len(_LATIN.findall(text))
    ko = len(_HANGUL.findall(text))
    cj = kana + han
    # Ties prefer ko, then CJ, then en: the accounts are primarily Korean.
    if ko >= cj and ko >= latin:
        return "ko"
    if cj >= latin:
        return "ja" if kana else "zh"
    return "en"


# --------------------------------------------------------------------------- author key


_KEYED: dict[bytes, hmac.HMAC] = {}  # secret -> HMAC with the key set up (copied per use)


def author_key(secret: bytes, platform: str, native_author_id: str) -> str:
    """Return a stable pseudonymous author id: HMAC-SHA256(platform:id), 32 hex chars."""
    keyed = _KEYED.get(secret)
    if keyed is None:
        if len(_KEYED) >= 64:  # a process uses one or two secrets; tests many
            _KEYED.clear()
        keyed = _KEYED[secret] = hmac.new(secret, digestmod=hashlib.sha256)
    mac = keyed.copy()  # the key's setup done once: ~1.5 us of ~5 per call
    mac.update(f"{platform}:{native_author_id}".encode("utf-8"))
    return mac.hexdigest()[:32]


# --------------------------------------------------------------------------- graphemes

_ZWJ = 0x200D


def _is_extend(cp: int, ch: str) -> bool:
    """Return True for code points that never start a cluster (marks, VS, modifiers, tags)."""
    if cp == _ZWJ or 0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
        return True
    if 0xE0100 <= cp <= 0xE01EF:  # variation selectors supplement
        return True
    if cp < 0x300:
        return False
    return unicodedata.category(ch)[0] == "M"


def _hangul_type(cp: int) -> str:
    """Return the Hangul syllable type: L, V, T, LV, LVT or '' for non-Hangul."""
    if 0x1100 <= cp <= 0x115F or 0xA960 <= cp <= 0xA97C:
        return "L"
    if 0x1160 <= cp <= 0x11A7 or 0xD7B0 <= cp <= 0xD7C6:
        return "V"
    if 0x11A8 <= cp <= 0x11FF or 0xD7CB <= cp <= 0xD7FB:
        return "T"
    if 0xAC00 <= cp <= 0xD7A3:
        return "LV" if (cp - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _is_ri(cp: int) -> bool:
    """Return True for regional indicator symbols (flag halves)."""
    return 0x1F1E6 <= cp <= 0x1F1FF


def iter_graphemes(text: str):
    """Yield user-perceived characters (simplified UAX #29 extended grapheme clusters)."""
    start = 0
    prev_cp = -1
    prev_h = ""
    ri_run = 0  # regional indicators in the current cluster
    for i, ch in enumerate(text):
        cp = ord(ch)
        h = _hangul_type(cp)
        if i == 0:
            join = False
        elif prev_cp == 0x0D and cp == 0x0A:
            join = True
        elif prev_cp in (0x0A, 0x0D) or cp in (0x0A, 0x0D):
            join = False
        elif _is_extend(cp, ch):
            join = True
        elif prev_cp == _ZWJ:
            join = True  # ZWJ glues the next pictograph (family, profession emoji)
        elif prev_h == "L" and h in ("L", "V", "LV", "LVT"):
            join = True
        elif prev_h in ("LV", "V") and h in ("V", "T"):
            join = True
        elif prev_h in ("LVT", "T") and h == "T":
            join = True
        elif _is_ri(cp) and _is_ri(prev_cp) and ri_run % 2 == 1:
            join = True
        else:
            join = False
        if not join and i:
            yield text[start:i]
            start = i
            ri_run = 0
        if _is_ri(cp):
            ri_run += 1
        prev_cp, prev_h = cp, h
    if text:
        yield text[start:]


def truncate_graphemes(text: str, limit: int) -> str:
    """Shorten to at most `limit` grapheme clusters, ending with '…' when cut."""
    if len(text) <= limit:
        return text  # clusters never outnumber code points
    if limit <= 0:
        return ""
    out: list[str] = []
    for n, cluster in enumerate(iter_graphemes(text)):
        if n == limit:
            # One cluster too many: drop the last kept one to make room for the ellipsis.
            return "".join(out[: limit - 1]) + "…"
        out.append(cluster)
    return text


# --------------------------------------------------------------------------- HTML

_BR = re.compile(r"<br\s*/?>|</p\s*>", re.IGNORECASE)
# Only real tags (letter right after '<'), so a literal "a < b" is left alone.
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")


def strip_html(text: str) -> str:
    """Turn YouTube textDisplay HTML into plain text (<br> -> newline, tags dropped, unescaped)."""
    if "<" in text:
        text = _BR.sub("\n", text)
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return text
