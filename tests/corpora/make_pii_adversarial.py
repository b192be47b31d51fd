"""Write pii_adversarial.tsv: adversarial PII strings and look-alikes (see README.md here).

    python tests/corpora/make_pii_adversarial.py            # rewrites pii_adversarial.tsv
    python tests/corpora/make_pii_adversarial.py --seed 7 -  # another draw, to stdout

Every row is `kind<TAB>text<TAB>expected`. A PII row's expected text has each PII item
replaced by its token ([전화번호], [이메일], [주민번호], [카드번호], [계좌번호], [주소]); a
look-alike row (kind starts with `keep-`) expects the text unchanged. The numbers are drawn
at random (fixed seed): none is a real person's. The frames around them are comment-like
Korean (and some English) sentences with emoji, written by hand per category, before the
masker was changed for them.
"""
from __future__ import annotations

import random
import sys
import unicodedata
from pathlib import Path

OUT = Path(__file__).with_name("pii_adversarial.tsv")

KO_DIGIT = "공일이삼사오육칠팔구"
FULL = str.maketrans("0123456789-.", "０１２３４５６７８９－．")


class Gen:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def d(self, n: int, first: str = "0123456789") -> str:
        return self.r.choice(first) + "".join(self.r.choice("0123456789") for _ in range(n - 1))

    def pick(self, seq):
        return self.r.choice(seq)

    # ------------------------------------------------------------------ phone shapes
    def mobile_groups(self) -> list[str]:
        return [self.pick(["010", "010", "010", "011", "016", "017", "019"]),
                self.d(4, "23456789"), self.d(4)]

    def landline_groups(self) -> list[str]:
        area = self.pick(["02", "02", "031", "032", "051", "053", "042", "062", "064", "070"])
        mid = self.d(3 if area == "02" and self.r.random() < 0.5 else 4, "23456789")
        return [area, mid, self.d(4)]


def phone_paren(g: Gen) -> str:
    if g.r.random() < 0.5:
        a, b, c = g.landline_groups()
    else:
        a, b, c = g.mobile_groups()
    return g.pick([
        f"({a}) {b}-{c}", f"({a}){b}-{c}", f"{a}){b}-{c}", f"{a}) {b}-{c}",
        f"({a}) {b} {c}", f"({a}){b}{c}", f"( {a} ) {b}-{c}", f"({a})-{b}-{c}",
    ])


_SEPS = ["\u00a0", "\u2011", "\u2010", "\u2212", "\u2014", "\u2013", "\uff0d", "\u3000",
         "\u202f", "\uff0e", "\u3161", "\u2012", "\ufe63", "\u00b7"]


def phone_unicode(g: Gen) -> str:
    groups = g.mobile_groups() if g.r.random() < 0.7 else g.landline_groups()
    style = g.r.randrange(4)
    if style == 0:  # full-width digits and full-width hyphen
        return "\uff0d".join(groups).translate(FULL)
    if style == 1:  # full-width digits, ASCII hyphen or space
        return g.pick(["-", " ", "."]).join(x.translate(FULL) for x in groups)
    sep = g.pick(_SEPS)
    if style == 2:
        return sep.join(groups)
    return groups[0] + sep + groups[1] + g.pick(["-", sep, " "]) + groups[2]


def phone_slash(g: Gen) -> str:
    groups = g.mobile_groups() if g.r.random() < 0.75 else g.landline_groups()
    return g.pick(["/", " / ", "/"]).join(groups)


def _ko(digits: str, zero: str = "공") -> str:
    return "".join(zero if ch == "0" else KO_DIGIT[int(ch)] for ch in digits)


def phone_korean(g: Gen) -> str:
    a, b, c = g.mobile_groups() if g.r.random() < 0.85 else g.landline_groups()
    zero = g.pick(["공", "공", "공", "영"])
    ka, kb, kc = _ko(a, zero), _ko(b, zero), _ko(c, zero)
    return g.pick([
        f"{ka} {kb} {kc}", f"{ka}-{kb}-{kc}", f"{ka}{kb}{kc}", f"{ka}에 {kb}에 {kc}",
        f"{ka} {kb}-{kc}", f"{a} {kb} {kc}", f"{ka}-{b}-{c}", f"{ka} {b} {kc}",
        f"{ka}.{kb}.{kc}",
    ])


def phone_spaced_digits(g: Gen) -> str:
    a, b, c = g.mobile_groups()
    sp = lambda s: " ".join(s)  # noqa: E731
    return g.pick([f"{sp(a)} - {sp(b)} - {sp(c)}", f"{sp(a)} {sp(b)} {sp(c)}",
                   f"{sp(a)}-{sp(b)}-{sp(c)}"])


def phone_plain(g: Gen) -> str:
    a, b, c = g.mobile_groups() if g.r.random() < 0.7 else g.landline_groups()
    return g.pick([f"{a}-{b}-{c}", f"{a} {b} {c}", f"{a}.{b}.{c}", f"{a}{b}{c}"
                   if a.startswith("01") else f"{a}-{b}-{c}", f"+82 {a[1:]}-{b}-{c}",
                   f"{a} - {b} - {c}"])


# ------------------------------------------------------------------ e-mail
LOCALS = ["hong", "kim.minji", "park_87", "lee2024", "seoul.citizen", "jh.choi", "mina-k",
          "choi+seoul", "yoon99", "hgd1234", "sky.blue", "Kim.MJ"]
DOMAINS = [("naver", "com"), ("gmail", "com"), ("daum", "net"), ("hanmail", "net"),
           ("kakao", "com"), ("nate", "com"), ("korea", "kr"), ("snu.ac", "kr"),
           ("yahoo.co", "kr"), ("outlook", "com")]


def email_obfuscated(g: Gen) -> str:
    local = g.pick(LOCALS)
    dom, tld = g.pick(DOMAINS)
    at = g.pick(["＠", "[at]", "(at)", " (at) ", " [at] ", "{at}", " at ", "골뱅이", " 골뱅이 ",
                 " @ ", "@ ", "[@]", "(@)"])
    dot = g.pick([".", ".", " (dot) ", "[dot]", " dot ", "(dot)", " 쩜 ", "．"])
    if at == " at " and dot == ".":
        dot = " dot "  # "x at naver.com" is not told apart from "look at naver.com"
    domain = dom.replace(".", dot) + dot + tld
    return f"{local}{at}{domain}"


def email_fullwidth(g: Gen) -> str:
    local = g.pick(LOCALS).lower()
    dom, tld = g.pick(DOMAINS)
    fw = lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)  # noqa
    return g.pick([fw(f"{local}@{dom}.{tld}"), f"{local}＠{dom}．{tld}",
                   f"{local}@{dom}.{tld}".upper()])


def email_no_tld(g: Gen) -> str:
    local = g.pick(LOCALS)
    dom = g.pick(["naver", "gmail", "daum", "hanmail", "kakao", "nate"])
    return g.pick([f"{local}@{dom}", f"{local}＠{dom}"])


# ------------------------------------------------------------------ addresses
APTS = ["래미안", "푸르지오", "자이", "힐스테이트", "아이파크", "e편한세상", "롯데캐슬", "센트레빌",
        "은마아파트", "헬리오시티", "주공아파트", "○○아파트", "△△빌라", "한신아파트", "목동신시가지",
        "삼성래미안", "더샵", "파크리오", "현대아파트", "선경빌라"]
ROADS = ["테헤란로", "올림픽로", "월드컵로", "망원로12길", "동일로", "도봉로", "강남대로",
         "노원로", "은평로", "화곡로", "마포대로", "송파대로", "봉은사로", "언주로", "한강대로"]
GU = ["강남구", "송파구", "마포구", "노원구", "은평구", "강서구", "관악구", "성북구", "중랑구"]
DONG = ["역삼동", "망원동", "상계동", "잠실동", "목동", "화곡동", "신림동", "대치동", "홍제동"]


def unit(g: Gen, building: bool = True) -> str:
    b = g.pick([f"{g.r.randint(101, 135)}동", f"{g.r.randint(1, 35)}동", "A동", "B동", "가동"])
    floor = g.r.randint(1, 25)
    h = f"{floor}{g.r.randint(1, 8):02d}"
    sp = g.pick([" ", " ", ""])
    if building:
        return g.pick([f"{b}{sp}{h}호", f"{b} {h}호", f"{b}{sp}{h} 호"])
    return g.pick([f"{h}호", f"{floor}층 {h}호", f"{h}호", f"{h} 호"])


def address_unit(g: Gen) -> tuple[str, str]:
    """Return (raw, masked): the unit designator becomes [주소], names and districts stay."""
    style = g.r.randrange(9)
    gu, dong, apt = g.pick(GU), g.pick(DONG), g.pick(APTS)
    road, n = g.pick(ROADS), g.r.randint(1, 400)
    if style == 0:
        u = unit(g)
        return f"{apt} {u}", f"{apt} [주소]"
    if style == 1:
        return unit(g), "[주소]"
    if style == 2:
        pre = g.pick(["서울시 ", "서울특별시 ", ""]) + gu + " "
        sep = g.pick([", ", " ", ","])
        return f"{pre}{road} {n}{sep}{unit(g, building=False)}", f"{pre}{road} {n}{sep}[주소]"
    if style == 3:
        lot = f"{g.r.randint(1, 999)}-{g.r.randint(1, 99)}"
        return f"{gu} {dong} {lot} {unit(g, building=False)}", f"{gu} {dong} {lot} [주소]"
    if style == 4:
        b, h = g.r.randint(101, 130), f"{g.r.randint(1, 25)}{g.r.randint(1, 6):02d}"
        return f"{apt} {b}-{h}{g.pick(['', '호'])}", f"{apt} [주소]"
    if style == 5:
        town, k = g.pick(["주공", "시영", "신시가지"]), g.r.randint(1, 14)
        return f"{town} {k}단지 {unit(g)}", f"{town} {k}단지 [주소]"
    if style == 6:
        kind = g.pick(["오피스텔", "원룸", "빌라", "고시원", "기숙사", "다세대주택"])
        return f"{kind} {unit(g, building=False)}", f"{kind} [주소]"
    if style == 7:
        name = g.pick(["○○빌딩", "한빛오피스텔", "스카이타워", "그린빌"])
        return f"{road} {n} {name} {unit(g, building=False)}", f"{road} {n} {name} [주소]"
    return f"{dong} {apt} {unit(g)}", f"{dong} {apt} [주소]"


def address_home(g: Gen) -> tuple[str, str]:
    """A home's road or lot number right after a residence cue: that number is masked too."""
    cue = g.pick(["저희 집 주소는", "집 주소:", "우리 집은", "자택 주소", "배송지:", "제 주소는",
                  "저희집", "사는 곳은"])
    gu = g.pick(GU)
    if g.r.random() < 0.5:
        road, n = g.pick(ROADS), f"{g.r.randint(1, 300)}{g.pick(['', '', '-' + str(g.r.randint(1, 9))])}"
        return f"{cue} {gu} {road} {n}", f"{cue} {gu} {road} [주소]"
    dong, lot = g.pick(DONG), f"{g.r.randint(1, 999)}-{g.r.randint(1, 99)}{g.pick(['', '번지'])}"
    return f"{cue} {gu} {dong} {lot}", f"{cue} {gu} {dong} [주소]"


# ------------------------------------------------------------------ bank accounts
BANK_SHAPES = {
    "국민": [(6, 2, 6)], "국민은행": [(6, 2, 6)], "KB국민": [(6, 2, 6)], "KB": [(6, 2, 6)],
    "신한": [(3, 3, 6)], "신한은행": [(3, 3, 6)], "우리은행": [(4, 3, 6)],
    "하나은행": [(3, 6, 5)], "농협": [(3, 4, 4, 2)], "NH농협": [(3, 4, 4, 2)],
    "기업은행": [(3, 6, 2, 3)], "IBK기업은행": [(3, 6, 2, 3)], "카카오뱅크": [(4, 2, 7)],
    "카뱅": [(4, 2, 7)], "토스뱅크": [(4, 4, 4)], "케이뱅크": [(3, 3, 6)], "우체국": [(6, 2, 6)],
    "새마을금고": [(4, 2, 6, 1)], "SC제일은행": [(3, 2, 6)], "씨티은행": [(3, 6, 3)],
    "부산은행": [(3, 4, 4, 2)], "수협": [(3, 2, 6)], "신협": [(6, 2, 6)], "대구은행": [(3, 2, 6, 1)],
}


def account_bank(g: Gen) -> tuple[str, str]:
    bank = g.pick(list(BANK_SHAPES))
    shape = g.pick(BANK_SHAPES[bank])
    first = "0123456789" if bank in ("우체국", "기업은행", "IBK기업은행") else "123456789"
    groups = [g.d(shape[0], first)] + [g.d(n) for n in shape[1:]]
    if bank == "카카오뱅크" or bank == "카뱅":
        groups[0] = g.pick(["3333", "3355", "3388", "7979"])
    if bank == "토스뱅크":
        groups[0] = "1000"
    if bank in ("기업은행", "IBK기업은행") and g.r.random() < 0.5:
        groups[0] = "010"  # IBK accounts often start like a mobile number
    sep = g.pick(["-", "-", "", " ", "-"])
    number = sep.join(groups)
    style = g.r.randrange(5)
    if style == 0:
        return f"{bank} {number}", f"{bank} [계좌번호]"
    if style == 1:
        return f"{bank}:{number}", f"{bank}:[계좌번호]"
    if style == 2:
        holder = g.pick(["예금주 홍길동", "홍길동", "예금주: 김민지"])
        return f"{bank}({holder}) {number}", f"{bank}({holder}) [계좌번호]"
    if style == 3:
        return f"{number} {bank}", f"[계좌번호] {bank}"
    return f"{bank} {number}", f"{bank} [계좌번호]"


# ------------------------------------------------------------------ RRN and cards
def rrn_adv(g: Gen) -> str:
    yy, mm, dd = g.r.randint(0, 99), g.r.randint(1, 12), g.r.randint(1, 28)
    front = f"{yy:02d}{mm:02d}{dd:02d}"
    back = g.pick("12345678") + g.d(6)
    return g.pick([
        f"{front}－{back}".translate(FULL), f"{front}\u2011{back}", f"{front} - {back}",
        f"{front}\u2013{back}", f"{front}\u00a0{back}", f"{front}-{back[0]}xxxxxx",
        f"{front}\u2212{back}", f"{front}ㅡ{back}",
    ])


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return str((10 - total % 10) % 10)


def card_adv(g: Gen) -> str:
    body = g.pick(["4", "5", "9", "6"]) + g.d(14)
    num = body + _luhn_digit(body)
    groups = [num[i:i + 4] for i in range(0, 16, 4)]
    return g.pick([
        "－".join(groups).translate(FULL), "\u00a0".join(groups), ".".join(groups),
        "\u2011".join(groups), " - ".join(groups), "/".join(groups), num.translate(FULL),
    ])


# ------------------------------------------------------------------ frames
F_PHONE = [
    "제 번호는 {x} 입니다 연락 주세요 🙏", "{x}로 문자 주시면 감사하겠습니다", "연락처:{x}",
    "분실물 찾았어요!! 연락처 {x} ㅠㅠ", "담당자분 번호 {x} 맞나요?", "📞{x}📞 여기로 전화주세요",
    "번호{x}로 연락 부탁드려요", "Call me at {x} please", "급해요 {x} 전화 좀 주세요…",
    "따릉이 고장 신고했는데 {x} 으로 회신 준다네요", "(연락처 {x}) 로 확인 부탁드립니다",
    "우리 아이 찾아요 😭 {x}", "{x}", "HP {x} / 카톡 안 됩니다", "민원 담당 {x}이라고 하던데요",
]
F_EMAIL = [
    "메일은 {x} 으로 보내주세요", "{x} 로 답장 부탁드려요 😊", "Contact me: {x}",
    "자료 요청합니다 ({x})", "이메일 주소 {x} 입니다!!", "스팸 방지로 이렇게 씁니다 {x}",
    "문의 메일 {x}로 주셔도 돼요", "제 메일 {x} ← 여기로요", "mail me {x} thx",
]
F_ADDR = [
    "저 {x} 사는데 층간소음 너무 심해요", "{x} 앞에 쓰레기 무단투기 좀 단속해주세요",
    "택배가 {x}으로 잘못 왔어요", "주소 {x} 입니다 방문 부탁드려요", "{x} 누수 민원 넣었어요 😡",
    "우편물 {x} 로 보내주세요", "{x}에 사는 주민인데 엘리베이터가 또 고장났어요",
    "📦 {x} 문 앞에 두고 가세요",
]
F_ACCOUNT = [
    "환불은 {x} 로 해주세요", "지원금 {x} 계좌로 안 들어왔어요 ㅠ", "{x} 예금주 홍길동",
    "입금은 {x}으로 부탁드립니다", "보증금 반환 {x} 로 해주세요", "{x} 여기로 보내주세요💸",
    "Refund to {x} please", "후원 계좌 {x} 입니다",
]
F_RRN = ["주민번호 {x} 를 요구하던데 괜찮은가요", "신청서에 {x} 적었는데 유출됐어요 😱",
         "제 주민등록번호는 {x} 입니다", "외국인등록번호 {x} 로 신청 가능한가요?"]
F_CARD = ["카드번호 {x} 결제가 두 번 됐어요", "따릉이 결제 카드 {x} 환불해주세요",
          "My card {x} was charged twice", "{x} 이 카드로 이중 청구됐습니다 💳"]


def positives(g: Gen) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    def add(kind: str, frames: list[str], token: str, make, n: int) -> None:
        for _ in range(n):
            raw = make(g)
            frame = g.pick(frames)
            rows.append((kind, frame.format(x=raw), frame.format(x=token)))

    add("phone-paren", F_PHONE, "[전화번호]", phone_paren, 40)
    add("phone-unicode", F_PHONE, "[전화번호]", phone_unicode, 50)
    add("phone-slash", F_PHONE, "[전화번호]", phone_slash, 20)
    add("phone-korean", F_PHONE, "[전화번호]", phone_korean, 40)
    add("phone-spaced", F_PHONE, "[전화번호]", phone_spaced_digits, 10)
    add("phone-plain", F_PHONE, "[전화번호]", phone_plain, 15)
    add("email-obfuscated", F_EMAIL, "[이메일]", email_obfuscated, 40)
    add("email-fullwidth", F_EMAIL, "[이메일]", email_fullwidth, 10)
    add("email-no-tld", F_EMAIL, "[이메일]", email_no_tld, 8)
    add("rrn", F_RRN, "[주민번호]", rrn_adv, 15)
    add("card", F_CARD, "[카드번호]", card_adv, 15)
    for _ in range(55):
        raw, masked = address_unit(g)
        frame = g.pick(F_ADDR)
        rows.append(("address-unit", frame.format(x=raw), frame.format(x=masked)))
    for _ in range(15):
        raw, masked = address_home(g)
        frame = g.pick(["{x} 입니다", "{x} 이에요 방문 전에 연락주세요", "{x}"])
        rows.append(("address-home", frame.format(x=raw), frame.format(x=masked)))
    for _ in range(45):
        raw, masked = account_bank(g)
        frame = g.pick(F_ACCOUNT)
        rows.append(("account-bank", frame.format(x=raw), frame.format(x=masked)))
    # two items in one comment, in varied order
    for _ in range(12):
        p = phone_unicode(g) if g.r.random() < 0.5 else phone_korean(g)
        e = email_obfuscated(g)
        if g.r.random() < 0.5:
            rows.append(("mixed", f"연락처 {p}, 메일 {e} 남깁니다 🙇", "연락처 [전화번호], 메일 [이메일] 남깁니다 🙇"))
        else:
            raw, masked = address_unit(g)
            rows.append(("mixed", f"{raw} 사는 사람이에요 {p} 로 연락주세요",
                         f"{masked} 사는 사람이에요 [전화번호] 로 연락주세요"))
    return rows


# ------------------------------------------------------------------ look-alikes
def lookalikes(g: Gen) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    y = lambda: g.r.randint(2015, 2026)  # noqa: E731

    def isbn() -> str:
        return g.pick([f"978-89-{g.d(4)}-{g.d(3)}-{g.d(1)}", f"979-11-{g.d(4)}-{g.d(3)}-{g.d(1)}",
                       f"978{g.d(10)}", f"979-11-{g.d(5)}-{g.d(2)}-{g.d(1)}",
                       f"89-{g.d(4)}-{g.d(3)}-{g.d(1)}", f"978 89 {g.d(4)} {g.d(3)} {g.d(1)}"])
    for _ in range(25):
        frame = g.pick(["ISBN {x} 책 도서관에 비치해주세요", "희망도서 신청했어요 (ISBN {x})",
                        "ISBN: {x} 이 책 재고 있나요?", "ISBN-13 {x} 📚 추천합니다",
                        "도서명 서울의 역사, ISBN {x}"])
        rows.append(("keep-isbn", frame.format(x=isbn())))

    def notice() -> str:
        return g.pick([f"제{y()}-{g.r.randint(1, 9999)}호", f"제 {y()}-{g.r.randint(1, 9999)} 호",
                       f"제{y()}-{g.r.randint(100, 9999)}-{g.r.randint(1, 99)}호",
                       f"제{g.r.randint(1, 99999)}호", f"제{y()}－{g.r.randint(1, 9999)}호"])
    for _ in range(30):
        frame = g.pick(["서울특별시 공고 {x} 보셨나요?", "{x} 공고에 따르면 신청 기간이 짧아요",
                        "서울특별시고시 {x} 관련 질문입니다", "행정예고 {x} 의견 제출합니다",
                        "조례 {x} 개정안 반대합니다 ✋", "공고 {x}({d}) 확인했어요",
                        "{gu} 공고 {x} 도로점용 허가"])
        rows.append(("keep-notice", frame.format(x=notice(), d=f"{y()}.{g.r.randint(1, 12)}.{g.r.randint(1, 28)}",
                                                 gu=g.pick(GU))))

    def parcel() -> str:
        return g.pick([f"{g.d(4, '123456789')}-{g.d(4)}-{g.d(4)}", f"{g.d(12, '123456789')}",
                       f"{g.d(4, '123456789')} {g.d(4)} {g.d(4)}", f"{g.d(3, '123456789')}-{g.d(4)}-{g.d(4)}",
                       f"{g.d(13, '123456789')}", f"{g.d(10, '123456789')}"])
    for _ in range(30):
        frame = g.pick(["운송장 번호 {x} 조회가 안 돼요", "CJ대한통운 송장 {x} 배송이 멈췄어요",
                        "송장번호: {x}", "한진택배 {x} 분실된 것 같아요 😢", "택배 운송장 {x}",
                        "우체국택배 등기번호 {x} 확인 부탁", "롯데택배 송장번호 {x} 언제 와요?",
                        "tracking no. {x}", "로젠택배 운송장번호 {x} 반송됐대요",
                        "등기 {x} 번 우편물 어디 있나요"])
        rows.append(("keep-parcel", frame.format(x=parcel())))

    for _ in range(25):
        start = g.r.randint(2010, 2021)
        n = g.r.randint(3, 6)
        years = [str(start + i) for i in range(n)]
        sep = g.pick([", ", " ", "/", "-", "·", ",", " / ", "、"])
        frame = g.pick(["{x}년 예산 추이 공개해주세요", "{x} 연도별 자료 요청합니다",
                        "통계가 {x} 모두 비어 있어요", "Data for {x} please", "({x})년 비교"])
        rows.append(("keep-years", frame.format(x=sep.join(years))))

    def date() -> str:
        yy, m, d = y(), g.r.randint(1, 12), g.r.randint(1, 28)
        h, mi = g.r.randint(0, 23), g.pick([0, 10, 15, 30, 45])
        return g.pick([
            f"{yy}-{m:02d}-{d:02d}", f"{yy}.{m}.{d}", f"{yy}. {m}. {d}.", f"{yy}/{m:02d}/{d:02d}",
            f"{yy}년 {m}월 {d}일 {h}시", f"{yy}-{m:02d}-{d:02d} {h:02d}:{mi:02d}",
            f"{yy}.{m:02d}.{d:02d}~{yy}.{m:02d}.{min(d + 3, 28):02d}", f"{yy}{m:02d}{d:02d}",
            f"{m}/{d}({g.pick('월화수목금토일')}) {h:02d}:{mi:02d}~{(h + 2) % 24:02d}:{mi:02d}",
            f"{yy % 100:02d}.{m:02d}.{d:02d}", f"{h:02d}:{mi:02d}:{g.r.randint(0, 59):02d}",
            f"{yy}{m:02d}{d:02d}-{yy}{m:02d}{min(d + 5, 28):02d}",
            f"{yy}-{m:02d}-{d:02d} ~ {yy}-{m:02d}-{min(d + 7, 28):02d}",
        ])
    for _ in range(40):
        frame = g.pick(["행사 일정 {x} 맞나요?", "{x} 에 시청 앞 광장 통제한대요", "공사 기간 {x} 🚧",
                        "접수 마감 {x} 입니다", "The event is on {x}", "{x} 기준 자료예요"])
        rows.append(("keep-date", frame.format(x=date())))

    def price() -> str:
        a = g.r.randint(1, 999)
        return g.pick([f"{a},000원", f"{a},{g.d(3)},000원", f"₩{a},{g.d(3)}", f"{a}000원",
                       f"{a},{g.d(3)},{g.d(3)},000원", f"{a},000원 → {a + 3},000원",
                       f"{a},000원/{a + 1},500원/{a + 3},000원", f"{a}만 {g.r.randint(1, 9)}천원",
                       f"{g.r.randint(1, 99)}억 {a},000만 원", f"₩{a}{g.d(3)}{g.d(3)}"])
    for _ in range(30):
        frame = g.pick(["입장료 {x} 너무 비싸요", "공사비 {x}이나 든다니 😤", "정기권 가격 {x}",
                        "Tickets cost {x}", "환불 금액 {x} 맞나요?", "관리비가 {x} 나왔어요"])
        rows.append(("keep-price", frame.format(x=price())))

    def bus() -> str:
        routes = [str(g.pick([g.r.randint(100, 799), g.r.randint(1000, 9999), g.r.randint(7000, 7999)]))
                  for _ in range(g.r.randint(1, 4))]
        return g.pick([f"버스 {routes[0]}번", f"간선 {routes[0]}", f"지선 {', '.join(routes)}번",
                       f"{' '.join(routes)}번 버스", f"광역 {routes[0]}번", f"N{g.r.randint(13, 75)}번",
                       f"M{g.r.randint(4101, 7799)}", f"{'/'.join(routes)}번 노선",
                       f"{routes[0]}번 {g.r.randint(1, 30)}분째 안 와요"])
    for _ in range(30):
        frame = g.pick(["{x} 배차 간격 좀 줄여주세요", "출근길 {x} 만차예요 🚌", "{x} 노선 폐지 반대합니다",
                        "Bus {x} is always late", "{x} 정류장 위치 바뀌었나요?"])
        rows.append(("keep-bus", frame.format(x=bus())))

    public = [
        "서울특별시 중구 세종대로 110", "세종대로 110 서울시청", "중구 을지로 281 동대문디자인플라자",
        "송파구 올림픽로 300 롯데월드타워", "테헤란로 152 강남파이낸스센터 20층", "역삼동 737",
        "강남구 역삼동 123-45번지 앞 도로", "종로구 세종대로 175", "마포구 월드컵로 212",
        "은평구 통일로 684", "서초구 반포대로 201 국립중앙도서관", "영등포구 의사당대로 1",
        "세종대로 110 (우편번호 04524)", "용산구 이태원로 29 전쟁기념관", "노원구 동일로 1403",
    ]
    places = [
        "강남구 역삼동 주민입니다", "망원동 사는데요", "101동 앞 놀이터", "3층 301호 민원실",
        "시청 본관 3층 301호 회의실", "지하철 2호선", "9호선 급행", "제1호 공원", "1호점 오픈",
        "2층 201호 강의실", "신관 5층 503호 세미나실", "구민회관 2층 대강당", "B동 주차장",
        "상계동 주공 7단지 앞", "강서구 화곡동 일대", "3단지 관리사무소", "12동 지하주차장",
        "○○아파트 정문 앞", "래미안 단지 내 도로", "101동부터 105동까지", "KTX 101호차",
        "1호기 원전", "제3호 태풍", "209호 법정", "4호선 3-2 출입문",
    ]
    for x in public:
        frame = g.pick(["{x} 가는 길 알려주세요", "{x} 앞 횡단보도 신호가 짧아요", "{x}에서 행사 있나요?",
                        "주소 {x} 맞죠?"])
        rows.append(("keep-public-address", frame.format(x=x)))
    for x in places:
        frame = g.pick(["{x} 너무 추워요 🥶", "{x} 관련 민원입니다", "{x} 위치가 어디예요?", "{x}"])
        rows.append(("keep-place", frame.format(x=x)))

    other = [
        "사업자등록번호 123-45-67890 가게 신고합니다", "주문번호 2024112512345678 환불 요청",
        "접수번호 2024-1125-0001 처리 현황?", "예약번호 1234-5678-9012 취소하고 싶어요",
        "바코드 8801234567890 제품 리콜 대상인가요", "민원번호 2AA-2411-123456 답변이 없어요",
        "1588-1234 고객센터 안 받아요", "1577-0000 번호 맞나요", "국번없이 120", "관광안내 1330",
        "02-120 다산콜 번호 바뀌었나요", "010-****-5678 이런 번호로 스팸 와요",
        "010-XXXX-XXXX 형식으로 써주세요", "010으로 시작하는 번호로 문자가 와요",
        "좌표 37.5665, 126.9780", "스코어 3:1 완승 ⚽", "출산율 0.72%", "기온 영하 12.5도",
        "갤럭시 SM-S928N 배터리 문제", "아이폰 15 Pro 256GB", "버전 3.12.1 오류",
        "조회수 1,234,567회 돌파 🎉", "구독자 12만 명", "인구 9,386,034명",
        "우편번호 04524", "지하철 2호선 10량 편성", "20-30대 청년 대상", "5-10분 지연",
        "전화 09:00-18:00 가능", "1,2,3,4호선 지연", "1234명이 서명", "7번 출구 앞",
        "공일공으로 시작하는 번호는 다 스팸이에요", "일이삼사오육칠팔구십 세면서 기다렸어요",
        "오늘 일이 많아서 이삼일 걸려요", "공공 일자리 사업 신청합니다", "일일이 확인해 주세요",
        "육아 휴직 제도 개선해주세요", "영일만 대교 얘기 아니에요", "사오십 명 모였어요",
        "@seoul_city 답변 부탁해요", "트위터 @kim_minji 님 말씀 맞아요", "at 3pm 시청 앞",
        "meet me at the city hall", "look at naver.com first", "골뱅이 무침 맛집 추천",
        "이메일은 비공개입니다", "seoul.go.kr 홈페이지 공지", "www.naver.com 검색해보세요",
        "@naver.com 쓰시는 분들 메일 안 와요?", "[at] 표시는 뭐예요?", "(at) 이게 뭐죠",
        "https://news.seoul.go.kr/2024/11/25/123456", "유튜브 https://youtu.be/dQw4w9WgXcQ 보세요",
        "#서울 #2026 #축제 🎆", "청구 금액 1,234,567원", "예산 1조 2,000억 원", "12.25 크리스마스",
        "면적 605.2㎢", "미세먼지 85㎍/㎥", "GTX-A 2024년 3월 개통", "3-1번 마을버스",
        "서초08 마을버스", "강수량 120mm", "10,000보 걷기", "ISO 9001 인증", "좌석 12A",
        "차량번호 12가 3456 불법주차", "123가4567 차량 신고합니다", "계좌 없음 현금만 받아요",
        "입금 2026-11-25 10:00", "송금 수수료 500원", "신한 SOL 앱 오류", "국민 여러분 안녕하세요",
        "카카오뱅크 앱 점검 02:00-06:00", "토스 송금 한도 2,000,000원", "우리 아파트 101동",
        "하나 둘 셋 넷", "기업 120곳 참여", "농협 하나로마트 3층", "우체국 3곳 통폐합",
        "1호선 2호선 3호선 환승", "020-1234-5678 없는 국번이에요", "사건번호 2024가단12345",
        "등기번호 1234567890123", "주문 2024-11-25-0012345 배송", "제품번호 KR-2024-000123",
    ]
    for x in other:
        rows.append(("keep-other", x))
    return rows


def build(seed: int) -> list[tuple[str, str, str]]:
    g = Gen(seed)
    rows = positives(g)
    rows += [(k, t, t) for k, t in lookalikes(g)]
    out = []
    for kind, text, expected in rows:
        assert "\t" not in text and "\n" not in text
        text, expected = (unicodedata.normalize("NFC", s) for s in (text, expected))
        out.append((kind, text, expected))
    return out


def main(argv: list[str]) -> int:
    seed = 14
    if "--seed" in argv:
        seed = int(argv[argv.index("--seed") + 1])
    rows = build(seed)
    lines = ["kind\ttext\texpected"] + ["\t".join(r) for r in rows]
    data = "\n".join(lines) + "\n"
    if argv and argv[-1] == "-":
        sys.stdout.write(data)
    else:
        OUT.write_text(data, encoding="utf-8")
        pos = sum(1 for k, *_ in rows if not k.startswith("keep-"))
        print(f"{OUT.name}: {pos} PII rows, {len(rows) - pos} look-alikes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
