"""Pure text helpers: Unicode cleanup, PII masking, language guess, hashing, truncation, HTML.

PII policy (decisions; tokens in PII_TOKENS, corpora in tests/corpora/README.md):
- Digits are those of any script in the BMP (full-width ０-９, Arabic-Indic, ...); dash-,
  space- and dot-like characters (U+2011, U+00A0, －, ．, ㅡ typed as a dash, ·) count as
  -, space and dot (see _CANON).
- Masked: mobile numbers (010/011/016-019, with -, ., /, _, ~, spaces or nothing, +82
  forms, (010) 1234-5678, 010)1234-5678, 0 1 0 - 1 2 3 4 ...), landlines with separators
  or with the area code in parentheses ((02)1234567), phone numbers in Korean numerals
  (공일공 일이삼사 오육칠팔, 공일공에 ..., mixed with digits), RRNs incl. foreigner numbers,
  half-masked ones (900101-1******) and ones given in halves (앞자리 .. 뒷자리 ..), e-mail
  incl. ＠, [at], (at), 골뱅이, "at ... dot" and well-known hosts without a domain
  (hong@naver), card numbers (4-4-4-4 with one separator, Amex 4-6-5, bare 15/16 digits with
  a card-like IIN or Luhn), bank accounts (hyphenated 3+ groups with 11-14 digits, or any
  10-14 digit run right after 계좌/입금/송금/이체/예금주/account or a bank's name, or right
  before a bank's name).
- Addresses: only what names a household becomes [주소]: the unit (101동 1203호, A동 302호,
  4층 401호, 래미안 101-1203) when it follows a building number (N동), a housing name
  (아파트, 빌라, 오피스텔, 래미안, ...), a street or lot number (테헤란로 123, 4층 401호), or a
  home cue (저희 집, 자택, 배송지, ...); and a home's street/lot number right after such a
  cue (저희 집 주소는 마포구 망원로12길 34 -> ...망원로12길 [주소]). Kept: city, district and
  street names (강남구, 역삼동, 테헤란로), a street or lot number alone (세종대로 110 is the city
  hall: addresses in comments are mostly of public places), building numbers alone (101동 앞),
  rooms without an address (3층 301호 민원실), 2호선, 3호차, 제1호.
- Kept: 8-digit representative numbers 15xx/16xx/18xx-xxxx (businesses, not persons),
  short public numbers (120 다산콜센터, 112, 119), dates, times, prices, bus numbers and
  lists of routes, postal codes, years and lists of years, percentages, versions, ISBNs,
  notice numbers (제2024-123호), and numbers right after their name: tracking (운송장, 송장,
  택배, 등기), receipt, order, case, business registration numbers, barcodes.
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
#
# How it works: every pattern runs on a "canonical" copy of the text of the same length
# (full-width forms, other scripts' digits, dash-, space- and dot-like characters mapped
# one to one to ASCII), so one pattern covers ０１０－… and 010\u2011… alike. A match
# *claims* a span: later patterns see the claimed span as filler and cannot match into it.
# Guards (ISBN, notice and tracking numbers) claim spans that are kept. At the end the
# claimed spans of the ORIGINAL text are replaced by their tokens; nothing else changes.

PII_TOKENS = {
    "phone": "[전화번호]", "rrn": "[주민번호]", "email": "[이메일]", "card": "[카드번호]",
    "account": "[계좌번호]", "address": "[주소]",
}
_PHONE, _RRN_T, _EMAIL_T = PII_TOKENS["phone"], PII_TOKENS["rrn"], PII_TOKENS["email"]
_CARD_T, _ACCOUNT_T, _ADDRESS_T = PII_TOKENS["card"], PII_TOKENS["account"], PII_TOKENS["address"]
_KIND_OF = {token: kind for kind, token in PII_TOKENS.items()}
_FILL = "\x00"  # what a claimed span looks like to later patterns: no digit, no word


def _re(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """PII patterns run on the canonical text: there a digit is [0-9] (re.ASCII)."""
    return re.compile(pattern, flags | re.ASCII)


def _char_class(cps) -> str:
    """A regex character class of the code points, as ranges (BMP only: a fast scan)."""
    cps = sorted(cps)
    out, start, prev = [], cps[0], cps[0]
    for cp in [*cps[1:], -1]:
        if cp == prev + 1:
            prev = cp
            continue
        out.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
        start = prev = cp
    return "[" + "".join(out) + "]"



# Decimal digits of the Basic Multilingual Plane (ASCII, full-width, Arabic-Indic, ...): what
# the masker reads as digits. Astral ones (mathematical bold digits, ...) are not.
_BMP_DIGITS = [cp for cp in range(0x10000) if unicodedata.category(chr(cp)) == "Nd"]


def _canon_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in _BMP_DIGITS:
        if cp >= 0x80:
            table[cp] = str(unicodedata.decimal(chr(cp)))
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[cp] = chr(cp - 0xFEE0)
    for cp in (0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000):
        table[cp] = " "
    for cp in (*range(0x2010, 0x2016), 0x2212, 0xFE58, 0xFE63, 0x3161):  # ㅡ typed as a dash
        table[cp] = "-"
    for cp in (0x00B7, 0x318D, 0x30FB, 0xFF65):  # middle dots
        table[cp] = "."
    return table


_CANON = _canon_table()
# A character _CANON maps: most texts have none and skip the (per-character) translate.
_ODD = re.compile(_char_class(_CANON))

_NB = r"(?<!\d)"  # not preceded by a digit
_NA = r"(?!\d)"  # not followed by a digit
# Between phone digit groups: a hyphen, slash, underscore or tilde (spaces around allowed),
# a dot, or spaces.
_SEP = r"(?: {0,2}[-/_~] {0,2}|\.| {1,2})"

# --- e-mail
_LOCAL = r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
_EMAIL = _re(
    _LOCAL + r"(?:@ ?| @ )[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z])"
)
_TLD = r"(?:com|net|org|kr|edu|gov|io|me|info|biz|co|jp|cn|us|uk|de|ca|au|ac|go|or|ne|ai)"
_AT_WRITTEN = (r"(?: ?(?:\[(?:at|@|골뱅이|앳)\]|\((?:at|@|골뱅이|앳)\)|\{(?:at|@)\}|<(?:at|@)>) ?"
               r"| ?골뱅이 ?| 앳 )")
_DOT_WRITTEN = r"(?: ?(?:\[(?:dot|\.)\]|\((?:dot|\.)\)|\{dot\}|<dot>) ?| dot | ?쩜 ?| ?닷 ?| 점 )"
_LABEL = r"[A-Za-z0-9-]+"
_EMAIL_WRITTEN = _re(  # hong[at]naver.com, hong (at) gmail (dot) com, hong＠daum 쩜 net
    _LOCAL + r"(?:" + _AT_WRITTEN + r"|@ ?| @ )(?:" + _LABEL + r"(?:\.|" + _DOT_WRITTEN + r"))+"
    + _TLD + r"(?![A-Za-z])",
    re.IGNORECASE,
)
# "hong at gmail dot com": a bare "at" only with written-out dots ("look at naver.com" stays).
_EMAIL_AT_WORD = _re(
    _LOCAL + r" at (?:" + _LABEL + _DOT_WRITTEN + r")+" + _TLD + r"(?![A-Za-z])", re.IGNORECASE
)
_MAILHOSTS = r"(?:naver|gmail|daum|hanmail|kakao|nate|hotmail|outlook|yahoo|icloud|네이버|지메일|한메일|다음|카카오|네이트)"
_EMAIL_HOST_ONLY = _re(  # hong@naver, hong 골뱅이 네이버 닷컴: a well-known mail host
    _LOCAL + r"(?:@|" + _AT_WRITTEN + r")" + _MAILHOSTS
    + r"(?: ?(?:닷|쩜|점) ?(?:컴|넷|com|net))?(?![A-Za-z0-9.@-])", re.IGNORECASE
)
# What every e-mail match contains: a local-part character, then (a space and) an at-sign
# or a written-out one. Most texts with @ are mentions (@seoulmania).

# --- phone numbers written with Korean numerals: 공일공 일이삼사 오육칠팔, 공일공에 ...
_KD = "0-9공영일이삼사오육칠팔구"
_KO_DIGIT = str.maketrans("공영일이삼사오육칠팔구", "00123456789")
_KSEP = r"(?: {0,2}[-/.] {0,2}| {1,2}| ?에 ?)"
_KO_PHONE = _re(  # [0공영] first (then the look-behind): the search skips to those at once
    rf"[0공영](?<![{_KD}].)[{_KD}]{{1,2}}{_KSEP}?[{_KD}]{{3,4}}{_KSEP}?[{_KD}]{{4}}"
    rf"(?![0-9공영일삼사오육칠팔구])(?!이[{_KD}])"  # a trailing 이 is a particle (…칠팔이에요)
)
_KO_SHAPE = _re(
    r"0(?:1[016-9]|2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)-?\d{3,4}-?\d{4}"
)
# --- RRN / foreigner registration: YYMMDD + gender/century digit 1-8 + 6 digits, or -1******.
_RRN = _re(
    _NB + r"\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
    r"(?:(?: ?- ?| )?[1-8]\d{6}| ?- ?[1-8][*xX●○•]{6})" + _NA
)

# Written in two halves: 주민번호 앞자리 900101 뒷자리 1234567 (the front only with a back).
_RRN_BACK = _re(r"뒷 ?자리[^\d\n]{0,4}?(?<!\d)([1-8](?:\d{6}|[*xX●○•]{6}))(?!\d)")
_RRN_FRONT = _re(
    r"앞 ?자리[^\d\n]{0,4}?(?<!\d)(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(?!\d)"
    r"(?=[^\d\n]{0,12}뒷 ?자리[^\d\n]{0,4}[1-8](?:\d{6}|[*xX●○•]{6})(?!\d))"
)

# --- cards: 4-4-4-4 with one separator throughout (or none), Amex 4-6-5.
_CARD = _re(
    _NB + r"(?:\d{4}((?: - |[- ./])?)\d{4}\1\d{4}\1\d{4}|3[47]\d{2}((?: - |[- ./])?)\d{6}\2\d{5})"
    + _NA
)

# --- mobiles: 010/011/016-019, also +82 forms, (010) 1234-5678, 010)1234-5678, 0 1 0 …
_MOBILE = _re(
    _NB + r"(?:\( ?01[016-9] ?\) ?[-/]? ?|01[016-9] ?\) ?[-/]? ?"
    r"|(?:(?:\((?:\+|00)82\) ?|(?:\+|00)?82)[- ]?(?:\(0\))?[- ]?0?|0)1[016-9]" + _SEP + r"?)"
    r"\d{3,4}" + _SEP + r"?\d{4}" + _NA
)
_MOBILE_SPACED = _re(_NB + r"0 1 [016-9](?:(?: ?- ?| )\d){7,8}(?! ?\d)")

# --- landlines need separators: bare 9-11 digit runs starting with 0 are too ambiguous.
_AREA = r"0(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70|50\d)"
_LANDLINE = _re(  # (02)12345678: with the area code in parentheses no separator needed
    _NB + r"(?:\( ?" + _AREA + r" ?\) ?[-/]? ?\d{3,4}" + _SEP + r"?|" + _AREA
    + r"(?: ?\) ?[-/]? ?|" + _SEP + r")\d{3,4}" + _SEP + r")\d{4}" + _NA
)
_LANDLINE_INTL = _re(
    _NB + r"(?:\+|00)82[- ]?(?:\(0\))?(?:2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70)"
    + _SEP + r"\d{3,4}" + _SEP + r"\d{4}" + _NA
)

# --- bank accounts
# Hyphenated: 3+ groups, first group 3-6 digits not starting with 0 (phones do).
_ACCOUNT_HYPHEN = _re(r"(?<!\d)(?<!\d-)[1-9]\d{2,5}(?:-\d{1,7}){2,3}(?!\d|-\d)")
_DATE_PREFIX = _re(r"(?:19|20)\d\d-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?:-|$)")
_BANKS = (
    r"(?:KB국민|KB|NH농협|NH|IBK기업|IBK|SC제일|국민|신한|농협|우체국|카카오뱅크|카카오|카뱅|케이뱅크|"
    r"케뱅|토스뱅크|토스|새마을금고|새마을|신협|수협|산림조합|저축은행|iM뱅크|"
    r"(?:우리|하나|기업|부산|대구|광주|경남|전북|제주|SC제일|씨티|산업|농협|국민|신한|수출입)은행)"
)
# Short bank names that are also ordinary words (우리 "we", 하나 "one") count only when the
# number follows at once.
_BANKS_SHORT = r"(?:우리|하나|기업|씨티|부산|대구|광주|경남|전북|제주|산업)(?= ?[:(]? ?\d)"
_ANUM = r"(?<!\d)(?P<n>\d(?:[-. ]?\d){9,13})(?![-. ]?\d)"
# Keyword-led: the keyword is kept, the following number is masked.
_ACCOUNT_KEYWORD = _re(
    r"((?:계좌(?:번호)?|입금|송금|이체|무통장|예금주|account(?:\s*(?:number|no\.?|#))?|acct\.?|"
    r"bank|" + _BANKS + "|" + _BANKS_SHORT + r")(?:(?!주민|등록|카드)[^\d\n]){0,12}?)" + _ANUM,
    re.IGNORECASE,
)
# Number first, bank after: 3333011234567 카카오뱅크, 123456-01-234567 (국민).
_ACCOUNT_BEFORE_BANK = _re(_ANUM + r" ?[(\[]?" + _BANKS)
_DATE_SPACED = _re(
    r"(?:19|20)\d\d[-. ](?:0?[1-9]|1[0-2])[-. ](?:0?[1-9]|[12]\d|3[01])(?!\d)"
)
_RRN_SHAPE = _re(r"\d{6}-\d{7}")  # left for _RRN even after an account keyword

# --- guards: numbers that look like the above and are not personal (kept as they are).
_GUARDS = (
    _re(r"ISBN(?:-?1[03])?:? ?((?:\d[- ]?){9,12}[\dX])(?![\d-])", re.IGNORECASE),
    # notice/ordinance numbers: 제2024-123호, 공고 제 2024-1234 호, 조례 제1234호
    _re(r"(제 ?\d{1,5}(?: ?- ?\d{1,6}){0,2} ?호)"),
    # tracking, receipt, order, case ... numbers right after their name
    _re(
        r"(?:(?:운송장|송장|등기|접수|예약|주문|신청|민원|관리|사건|승인|고유|제품|상품|가맹점|"
        r"사업자(?:등록)?)\s?번호|운송장|송장|등기|택배|바코드|EAN|tracking(?: ?(?:no\.?|number|#))?"
        r"|waybill)[ :#.]{0,3}([1-9](?:[-. ]?\d){7,19})(?![-. ]?\d)",
        re.IGNORECASE,
    ),
)

# --- addresses: the unit (동/호) that names a household, not the district or the street.
_HO = r"(?:B|지하 ?)?\d{1,5} ?호(?!선|기|차|점|관|텔|봉|각|출|칭|환|흡|박|외|위)"
_FLOOR = r"(?:(?:지하|B) ?)?\d{1,3} ?층 ?"
_UNIT = r"(?:(?:\d{1,4}|[A-Za-z]|[가나다라마바사]) ?동 ?)?(?:" + _FLOOR + r")?" + _HO
_UNIT_SHORT = r"\d{1,4}-\d{3,4}(?: ?호)?(?![\d-])"  # 래미안 101-1203(호)
_HOUSING = (
    r"(?:아파트|빌라|맨션|오피스텔|주공|시영|빌라트|하이츠|연립|다세대(?:주택)?|원룸|투룸|고시원|고시텔|"
    r"기숙사|셰어하우스|쉐어하우스|하우스|타운|캐슬|자이|래미안|푸르지오|힐스테이트|아이파크|더샵|"
    r"e편한세상|센트레빌|시티|팰리스|빌|신시가지|파크리오|리센츠|엘스)"
)
_STREET = r"(?:[가-힣][가-힣0-9]*(?:로|길)|[가-힣]+(?:동|리|가))"  # 테헤란로, 망원로12길, 역삼동
_STREET_NO = r"\d{1,5}(?:-\d{1,5})?(?: ?번지)?"
_BETWEEN = r"(?: ?, ?| )(?:[^\s\d,.!?]{1,12} )?"  # ", " or " " and maybe a building name
_HOME = (
    r"(?:(?:우리|저희|제|내) ?집|집 ?주소|자택|거주지|사는 ?곳|배송지|주소지|제 ?주소|실거주지|본가)"
)
# Between the cue and the address only "주소", a particle or a colon, and city/district names:
# "우리 집 앞 세종대로 110" is about a place near home, not the home's number.
_HOME_GAP = (r"(?: ?주소(?:지)?)?(?: ?(?:는|은|이|가|도|:|-|는요))? ?"
             r"(?:(?:서울(?:특별)?시|서울|[가-힣]{1,5}[시도군구]) ?)*")
_ADDRESS = (
    # 101동 1203호, A동 302호 (an administrative 역삼1동 is not a building: no Hangul before)
    _re(r"((?:(?<![\d가-힣])\d{1,4}|(?<![A-Za-z가-힣])(?:[A-Za-z]|[가나다라마바사])) ?동 ?"
               r"(?:" + _FLOOR + r")?" + _HO + ")"),
    # 래미안 1203호, 주공 3단지 305동 1102호, 푸르지오 116-601, 오피스텔 1502호
    _re(_HOUSING + r"(?: ?\d{1,2} ?(?:단지|차))? ?(" + _UNIT + "|" + _UNIT_SHORT + ")"),
    # 테헤란로 123, 4층 401호 / 역삼동 123-45 201호: the unit; the street number stays
    _re(_STREET + r" ?" + _STREET_NO + _BETWEEN + "(" + _UNIT + ")"),
    # after 저희 집/자택/배송지 …: a home's street number (and unit) as well
    _re(_HOME + _HOME_GAP + _STREET + r" ?(" + _STREET_NO + r"(?:" + _BETWEEN
               + _UNIT + r")?)(?!\d|-\d|길|로| ?(?:단지|차|층|호선|번|분|시|개|명|원|km|m|%|도|년|월|일))"),
    _re(_HOME + _HOME_GAP + r"(" + _UNIT + ")"),
)
_DIGIT = re.compile(_char_class(_BMP_DIGITS))
# --- pre-checks, on the text as it comes (not canonical): each is something every match of
# some patterns contains, so that a text without it skips them. Characters that _CANON
# maps to a space, a dash or a zero are listed with them.
_SPACE_LIKE = _char_class([32, *(cp for cp, ch in _CANON.items() if ch == " ")])
_DASH_LIKE = _char_class([45, *(cp for cp, ch in _CANON.items() if ch == "-")])
_DIGITS_CLASS = _char_class(_BMP_DIGITS)
_ZERO_SYL = "(?:일|이|삼[일이삼]|사[일이삼사]|오[일이삼사오]|육[일이삼사]|칠[공영])"
# Any pattern at all: a digit, an @-like character (뱅 of 골뱅이), the a of "at", or a zero
# syllable starting a phone number (공일…, 공이…). Starts with one character class: a fast scan.
_ANY_HINT = re.compile(
    _char_class([*_BMP_DIGITS, *map(ord, "@＠뱅앳aAａＡ공영")])
    + "(?:(?<=[공영])" + _ZERO_SYL + "|(?<![공영]))"
)
# Korean-numeral phones start with a zero: 0 in any script, 공 or 영.
_ZERO_HINT = re.compile(
    _char_class([cp for cp in _BMP_DIGITS if unicodedata.decimal(chr(cp)) == 0]
                + [ord("공"), ord("영")])
)
# Written-out at-signs: hong[at]…, hong(at)…, hong at … (the last only with a written dot).
_AT_CLOSE = "[\\])}>］）｝＞]"
_AT_HINT = re.compile(f"[aAａＡ][tTｔＴ](?:({_AT_CLOSE})|(?<={_SPACE_LIKE}..){_SPACE_LIKE})")
_AT_CLOSE_HINT = re.compile(f"[aAａＡ][tTｔＴ]{_AT_CLOSE}")
_DOT_WORD_HINT = re.compile("[dDｄＤ][oOｏＯ][tTｔＴ]")  # or 쩜, 닷, 점 (`in`), or _DOT_BRACKET
_DOT_BRACKET_HINT = re.compile("[.．·ㆍ・･](?<=[\\[［(（].)[\\]］)）]")  # [.] (.)
# Address units (1203호 but not 2호선), 101-1203 shorthands; home cues are checked with `in`
# (every word of _HOME holds one of 집 주소 자택 거주지 사는 배송지 본가).
_UNIT_HINT = re.compile(_DIGITS_CLASS + _SPACE_LIKE + "?호" + _HO[_HO.index("(?!"):])
_SHORT_HINT = re.compile(_DIGITS_CLASS + _DASH_LIKE + _DIGITS_CLASS + "{3}")
# A street or lot name's last syllable, then its number (what a home's address holds).
_STREET_HINT = re.compile("[로길동리가]" + _SPACE_LIKE + "?" + _DIGITS_CLASS)

# Every number the numeric patterns mask has at least this many digits (a half-masked RRN:
# 6 + 1; the others 9 and more), so a text with fewer skips them.
_MIN_DIGITS = 7


def _luhn_ok(digits: str) -> bool:
    """Return True when the ASCII digit string passes the Luhn checksum."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _all_years(span: str) -> bool:
    groups = re.findall(r"\d+", span)
    return len(groups) > 1 and all(len(g) == 4 and g[:2] in ("19", "20") for g in groups)


_ROUTE_BEFORE = _re(r"(?:버스|간선|지선|광역|순환|심야|마을|노선|bus|route)\D{0,4}$",
                           re.IGNORECASE)


def _card(m: re.Match[str]) -> str | None:
    """Cards; a bare digit run also needs a card-like IIN or a valid Luhn checksum."""
    span = m.group(0)
    if _all_years(span) or m.string.startswith("번", m.end()) or m.string.startswith(" 번", m.end()):
        return None  # 2019 2020 2021 2022; 7016 7022 7212 1711번 (routes)
    digits = re.sub(r"\D", "", span)
    if not _luhn_ok(digits) and _ROUTE_BEFORE.search(m.string, max(0, m.start() - 12), m.start()):
        return None  # 지선 7016 7018 7021 7022: routes, and no card's checksum
    if span.isdigit() and (span[:2] in ("19", "20") or (
            span[0] not in "345689" and not _luhn_ok(span))):
        return None  # a bare 16-digit id (date-led, or nothing like a card)
    return _CARD_T


def _account_hyphen(m: re.Match[str]) -> str | None:
    """Hyphenated accounts with 11-14 digits that are not date-led or a run of years."""
    span = m.group(0)
    n = len(span) - span.count("-")
    if n < 11 or n > 14 or _DATE_PREFIX.match(span) or _all_years(span):
        return None
    return _ACCOUNT_T


def _account_number(m: re.Match[str]) -> str | None:
    """The number after (or before) a bank keyword unless it reads as a date or an RRN."""
    number = m.group("n")
    if _DATE_SPACED.match(number) or _RRN_SHAPE.fullmatch(number):
        return None
    return _ACCOUNT_T


def _ko_phone(m: re.Match[str]) -> str | None:
    """A phone number in Korean numerals (at least one), once read as digits."""
    span = m.group(0)
    digits = span.translate(_KO_DIGIT)
    if digits == span:
        return None  # only ASCII digits: the digit patterns decide those
    return _PHONE if _KO_SHAPE.fullmatch(re.sub(r"[ /.에-]+", "-", digits)) else None


def _const(token: str):
    return lambda m: token


# (pattern, group, decide) in order: the group's span is claimed when decide returns a
# token ("" for a guard: claimed and kept as written); None leaves it to later patterns.
_NUMERIC = (
    (_CARD, 0, _card),
    (_MOBILE, 0, _const(_PHONE)),
    (_MOBILE_SPACED, 0, _const(_PHONE)),
    (_LANDLINE_INTL, 0, _const(_PHONE)),
    (_LANDLINE, 0, _const(_PHONE)),
    (_ACCOUNT_KEYWORD, "n", _account_number),
    (_ACCOUNT_BEFORE_BANK, "n", _account_number),
    (_RRN, 0, _const(_RRN_T)),
    (_RRN_FRONT, 1, _const(_RRN_T)),
    (_RRN_BACK, 1, _const(_RRN_T)),
    (_ACCOUNT_HYPHEN, 0, _account_hyphen),
)
_EMAILS = tuple((p, 0, _const(_EMAIL_T))
                for p in (_EMAIL, _EMAIL_WRITTEN, _EMAIL_AT_WORD, _EMAIL_HOST_ONLY))
_KO = ((_KO_PHONE, 0, _ko_phone),)
_ADDRESSES = tuple((p, 1, _const(_ADDRESS_T)) for p in _ADDRESS)
_GUARDED = tuple((p, 1, _const("")) for p in _GUARDS)


def _claim(canon: str, claims: list, passes) -> str:
    """Run `passes` over `canon`, append (start, end, token) claims; return the new canon."""
    for pattern, g, decide in passes:
        found = []
        for m in pattern.finditer(canon):
            token = decide(m)
            if token is not None:
                found.append((m.start(g), m.end(g), token))
        if found:
            parts, last = [], 0
            for start, end, token in found:
                parts.append(canon[last:start])
                parts.append(_FILL * (end - start))
                last = end
                if token:
                    claims.append((start, end, token))
            parts.append(canon[last:])
            canon = "".join(parts)
    return canon


def _find_pii(text: str, every: bool = False) -> list[tuple[int, int, str]]:
    """The (start, end, token) spans of PII in `text`. Pre-checks skip the patterns that
    cannot match; `every` runs them all (tests/test_text_fastpaths.py: they change nothing)."""
    if not every and _ANY_HINT.search(text) is None:
        return []  # most texts: no digit, no @-like character, no 공일/공이/... syllables
    digits = len(_DIGIT.findall(text))
    emails: list = []
    if every or "@" in text or "＠" in text or "골뱅이" in text or "앳" in text:
        emails += _EMAILS
    else:
        at = _AT_HINT.search(text)  # the first "at]" or " at "
        if at is not None:
            if at.group(1) or _AT_CLOSE_HINT.search(text, at.end()):
                emails += _EMAILS
            elif ("쩜" in text or "닷" in text or "점" in text or _DOT_WORD_HINT.search(text)
                  or _DOT_BRACKET_HINT.search(text)):
                emails.append(_EMAILS[2])
    ko = every or "공" in text or "영" in text or digits > 0 and _ZERO_HINT.search(text) is not None
    numeric = every or digits >= _MIN_DIGITS
    addresses: tuple = ()
    if every or digits:
        unit = every or "호" in text and _UNIT_HINT.search(text) is not None
        short = every or _SHORT_HINT.search(text) is not None
        home = every or ("집" in text or "주소" in text or "자택" in text or "거주지" in text
                         or "사는" in text or "배송지" in text or "본가" in text) \
            and _STREET_HINT.search(text) is not None
        if unit or short or home:
            addresses = tuple(p for p, wanted in zip(
                _ADDRESSES, (unit, unit or short, unit, home, unit)) if wanted)
    if not (emails or ko or numeric or addresses):
        return []
    canon = text.translate(_CANON) if _ODD.search(text) else text
    claims: list[tuple[int, int, str]] = []
    if numeric or addresses:
        canon = _claim(canon, claims, _GUARDED)
    if emails:
        canon = _claim(canon, claims, emails)
    if numeric:
        canon = _claim(canon, claims, _NUMERIC)
    if ko:  # after the digits: a masked number next to it reads as the token it becomes
        canon = _claim(canon, claims, _KO)
    if addresses:
        _claim(canon, claims, addresses)
    return claims


def _apply(text: str, claims: list[tuple[int, int, str]]) -> str:
    parts, last = [], 0
    for start, end, token in sorted(claims):
        parts.append(text[last:start])
        parts.append(token)
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _mask(text: str, every: bool = False, claims: list | None = None
          ) -> tuple[str, dict[str, int]]:
    """Mask until nothing more is found: a number masked first can free its neighbour
    (hong@naver4327...: the card's digits kept the e-mail from ending), and masking masked
    text must change nothing. Each round removes digits or letters, so it ends."""
    counts: dict[str, int] = {}
    for _ in range(8):
        if claims is None:
            claims = _find_pii(text, every)
        if not claims:
            break
        for _, _, token in claims:
            kind = _KIND_OF[token]
            counts[kind] = counts.get(kind, 0) + 1
        text = _apply(text, claims)
        claims = None
    return text, counts


def mask_pii(text: str) -> str:
    """Replace phone, RRN, e-mail, card and bank numbers and household address units with
    fixed Korean tokens (PII_TOKENS). Returns `text` itself when nothing was masked."""
    claims = _find_pii(text)
    return _mask(text, claims=claims)[0] if claims else text


def mask_pii_counts(text: str) -> tuple[str, dict[str, int]]:
    """mask_pii, and how many items of each kind (PII_TOKENS' keys) it masked."""
    return _mask(text)


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
