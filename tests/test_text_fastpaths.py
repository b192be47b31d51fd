"""normalize.text's shortcuts (pre-checks that skip work) give what the full work gives."""
from __future__ import annotations

import hashlib
import hmac
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from core.times import utc_iso
from normalize import text as T


def test_ctrl_scan_covers_exactly_the_deleted_characters() -> None:
    scanned = {cp for cp in range(0x110000) if T._CTRL_OR_SURROGATE.match(chr(cp))}
    assert scanned == set(T._CTRL_TABLE) | set(range(0xD800, 0xE000))


def _nfc_full(text: str) -> str:
    """nfc without the scan: always translate, always drop surrogates."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(T._CTRL_TABLE)
    if not text.isascii():
        text = unicodedata.normalize("NFC", T._SURROGATE.sub("", text))
    return text


def _mask_full(text: str) -> str:
    """mask_pii with no pre-check at all: every pattern runs over every text."""
    return T._mask(text, every=True)[0]


def _lang_full(text: str) -> str:
    """detect_lang counting every script of every text."""
    text = T._IGNORE.sub(" ", text)
    ko, kana = len(T._HANGUL.findall(text)), len(T._KANA.findall(text))
    han, latin = len(T._HAN.findall(text)), len(T._LATIN.findall(text))
    cj = kana + han
    if ko == 0 and cj == 0 and latin == 0:
        return "und"
    if ko >= cj and ko >= latin:
        return "ko"
    if cj >= latin:
        return "ja" if kana else "zh"
    return "en"


_PIECES = st.sampled_from([
    "010-1234-5678", "02-123-4567", "+82 10 1234 5678", "900101-1234567", "900101-1******",
    "4111 1111 1111 1111", "3782-822463-10005", "계좌 1002123456789", "국민은행 123-456789-01-234",
    "2024-05-01", "1588-1234", "a@b.co", "x.y+z@mail.example.com", "@seoulmania", "#태그",
    "http://a.b/c?d=1", "www.seoul.go.kr", "0", "1", "7", "٣", "１２", "-", " ", ".", "@", "\r\n",
    "\x00", "\x85", "\ufeff", "\ud800", "가", "e\u0301", "ᄀ\u1161", "日本", "ひらがな", "中文",
    "abc", "ABC", "😀", "👨‍👩‍👧", "\t", "\n",
    # what the later patterns and their pre-checks look for
    "０１０－１２３４－５６７８", "010\u20111234\u20115678", "010/1234/5678", "(02) 123-4567",
    "010)1234-5678", "공일공 일이삼사 오육칠팔", "공일공-1234-5678", "010 일이삼사", "공이", "영",
    "hong[at]naver.com", "hong (at) gmail (dot) com", "x at y dot com", "＠", "골뱅이", "앳",
    "[at]", "(.)", " dot ", "쩜", "hong@naver", "101동 1203호", "래미안 ", "101-1203", "호",
    "2호선", "테헤란로 123, ", "4층 401호", "저희 집 주소는 ", "망원로12길 34", "역삼동 ",
    "ISBN 978-89-1234-567-8", "제2024-123호", "운송장 번호 ", "1234-5678-9012",
    "2019 2020 2021 2022", "국민 ", "123456-01-234567", "카카오뱅크 3333-01-1234567",
    "주민번호 앞자리 900101 뒷자리 1234567", "버스 ", "7016 7022 7212 1711", "번", "\u00a0",
    "ㅡ", "·", "٠١٠-١٢٣٤-٥٦٧٨", "𝟎𝟏𝟎",
])


@settings(max_examples=1500, deadline=None)
@given(st.lists(_PIECES, max_size=8).map("".join) | st.text(max_size=40))
def test_shortcuts_change_nothing(text: str) -> None:
    assert T.nfc(text) == _nfc_full(text)
    assert T.mask_pii(text) == _mask_full(text)
    assert T.detect_lang(text) == _lang_full(text)


def test_mask_pii_digit_threshold() -> None:
    """The numeric patterns need 7 digits; fewer still reach the address and e-mail ones."""
    assert T.mask_pii("900101-1******") == "[주민번호]"  # 7 digits: the fewest masked
    assert T.mask_pii("90010-1****** 123456") == "90010-1****** 123456"
    assert T.mask_pii("@seoulmania 2호선 30분째") == "@seoulmania 2호선 30분째"
    assert T.mask_pii("메일 a.b@c.kr 로") == "메일 [이메일] 로"
    assert T.mask_pii("빌라 B동 302호") == "빌라 [주소]"  # 3 digits
    assert T.mask_pii("공일공 일이삼사 오육칠팔") == "[전화번호]"  # no digit at all


def test_pre_checks_cover_the_canonical_forms() -> None:
    """Pre-checks look at the text as given: full-width and other-script forms pass them."""
    for text in ["ｈｏｎｇ［ａｔ］ｎａｖｅｒ．ｃｏｍ", "hong\u00a0at\u00a0naver\u00a0dot\u00a0com",
                 "９００１０１－１２３４５６７", "래미안 １０１－１２０３", "A동\u3000302호",
                 "저희 집 주소는 망원로\u00a034", "٠١٠-١٢٣٤-٥٦٧٨"]:
        assert T.mask_pii(text) == _mask_full(text) != text, text


@given(st.binary(max_size=80), st.sampled_from(["x", "facebook", "youtube"]),
       st.text(st.characters(blacklist_categories=["Cs"]), max_size=20))
def test_author_key_is_hmac_sha256(secret: bytes, platform: str, native: str) -> None:
    msg = f"{platform}:{native}".encode()
    assert T.author_key(secret, platform, native) == hmac.new(
        secret, msg, hashlib.sha256).hexdigest()[:32]


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.integers(-1439, 1439))
def test_utc_iso_as_strftime(at: datetime, minutes: int) -> None:
    aware = at.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    u = aware.astimezone(UTC)
    assert utc_iso(aware) == f"{u.year:04d}-{u:%m-%dT%H:%M:%S}Z"
