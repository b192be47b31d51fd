"""A deterministic, seeded world of the city's accounts, their posts and citizens' comments.

Platform-neutral: each platform server (simulator/x.py, graph.py, youtube.py) renders the
same world as its API's own responses. Everything is generated up front from the seed;
`now` decides what is visible, so moving it forward makes new comments, edits and
deletions appear exactly as they would between two real runs.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from core.accounts import Account

# The demo's fixed clock: 2026-11-25 09:00 in Seoul. Fixed so every run serves the same world.
SIM_NOW = datetime(2026, 11, 25, 0, 0, tzinfo=timezone.utc)

DISTRICTS = (
    "종로구", "중구", "용산구", "성동구", "광진구", "동대문구", "중랑구", "성북구", "강북구",
    "도봉구", "노원구", "은평구", "서대문구", "마포구", "양천구", "강서구", "구로구", "금천구",
    "영등포구", "동작구", "관악구", "서초구", "강남구", "송파구", "강동구",
)

# Citizens' opinions by topic: {d} is a district, {p} a PII sample or nothing.
KO_TOPICS: dict[str, tuple[str, ...]] = {
    "transport": (
        "택시요금이 또 오른다는데 심야에는 택시 잡기가 너무 어려워요. {d} 쪽은 특히 심합니다.",
        "{d} 버스 정류장에 배차 간격이 너무 길어요. 출근길에 30분씩 기다립니다.",
        "지하철 2호선 출근 시간 혼잡도 개선해 주세요. 숨쉬기도 힘들어요 😢",
        "따릉이 대여소를 {d}에 더 늘려 주셨으면 좋겠어요!",
        "{d} 사거리 신호가 너무 짧아서 어르신들이 건너기 위험합니다.",
        "심야버스 노선을 늘려 주시면 좋겠습니다. 택시비가 부담돼요.",
    ),
    "housing": (
        "청년 월세 지원 신청은 어디서 하나요? {p}",
        "{d} 재개발 일정이 궁금합니다. 주민 설명회는 언제 하나요?",
        "전세 사기 피해 상담 창구를 알려 주세요.",
        "공공임대주택 입주 자격이 어떻게 되나요?",
    ),
    "market": (
        "{d} 전통시장 주차장이 부족해서 장 보러 가기 불편해요.",
        "전통시장 온누리상품권 할인 행사 또 해 주세요 👍",
        "망원시장 같은 곳에 카드 결제 안 되는 가게가 아직 많아요.",
    ),
    "rain": (
        "어젯밤 폭우로 {d} 반지하 집이 침수됐어요. 도와주세요. {p}",
        "{d} 지하차도가 침수돼서 차량 통제 중입니다. 우회로 안내 부탁드려요.",
        "집중호우 때마다 {d} 빗물받이가 막혀 물이 넘쳐요.",
        "비가 많이 와서 하천 산책로가 잠겼어요. 출입 통제해 주세요.",
    ),
    "parks": (
        "{d} 근린공원 화장실 청소 좀 자주 해 주세요.",
        "한강공원에 쓰레기통이 부족합니다.",
        "서울숲 주말 행사 너무 좋았어요! 감사합니다 😊",
        "{d} 공원에 밤에 조명이 어두워서 무서워요.",
    ),
    "safety": (
        "{d} 골목길에 가로등이 고장 났어요. 신고합니다.",
        "공사장 안전펜스가 쓰러져 있어요. 위험해요! 위치는 {d}입니다.",
        "어린이보호구역 과속 단속 카메라 설치해 주세요.",
        "{d} 상가 건물에서 화재 경보가 울렸는데 괜찮은 건가요?",
    ),
    "culture": (
        "서울도서관 주말 운영 시간 연장해 주시면 좋겠어요.",
        "{d} 구립도서관에 신간이 너무 늦게 들어와요.",
        "서울빛초롱축제 정말 예뻤어요 ✨ 내년에도 해 주세요!",
        "박물관 무료 해설 예약은 어떻게 하나요?",
    ),
    "welfare": (
        "어르신 무료 급식소가 {d}에도 있나요? {p}",
        "장애인 콜택시 대기 시간이 너무 깁니다. 개선 부탁드립니다.",
        "돌봄 서비스 신청했는데 연락이 없어요. {p}",
        "청년수당 결과는 언제 나오나요?",
    ),
    "environment": (
        "{d} 미세먼지 때문에 아이들 바깥놀이를 못 해요.",
        "재활용 분리수거 요일이 바뀌었나요? 안내가 없어요.",
        "{d} 도로 공사 소음이 밤늦게까지 계속돼요.",
    ),
}
# The right department of each template above (the truth routing is measured against, as
# the city's organisation would route it; written apart from config/rules.yaml's routing).
KO_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "transport": ("택시물류과", "버스정책과", "도시철도과", "자전거정책과", "도시교통실", "버스정책과"),
    "housing": ("주택실", "주택실", "주택실", "주택실"),
    "market": ("소상공인정책담당관", "소상공인정책담당관", "소상공인정책담당관"),
    "rain": ("재난안전관리실", "도로관리과", "재난안전관리실", "재난안전관리실"),
    "parks": ("푸른도시여가국", "미래한강본부", "푸른도시여가국", "푸른도시여가국"),
    "safety": ("도로관리과", "안전총괄실", "도시교통실", "소방재난본부"),
    "culture": ("서울도서관", "서울도서관", "관광체육국", "서울역사박물관"),
    "welfare": ("복지실", "복지실", "복지실", "청년청"),
    "environment": ("기후환경본부", "기후환경본부", "도로관리과"),
}
# Foreign-language opinions: None = the account's own department (its team answers them).
FOREIGN_DEPARTMENTS: dict[str, tuple[str | None, ...]] = {
    "en": (None, "버스정책과", "관광체육국", "택시물류과", "도로관리과"),
    "zh": (None, "택시물류과", "관광체육국", None),
    "ja": (None, "택시물류과", "관광체육국", None),
}
# Campaigns (World(campaigns=N)): one complaint pasted by many citizens on several accounts,
# each copy with small edits; (text, its district or None, the right department).
CAMPAIGNS: tuple[tuple[str, str | None, str], ...] = (
    ("{d} 재개발 구역 철거 공사 소음과 분진 때문에 아이들이 잠을 못 잡니다. 공사 시간 제한해 주세요.",
     "", "주택실"),
    ("심야 택시 승차거부 단속을 강화해 주세요. 매일 밤 {d}에서 한 시간씩 택시를 못 잡습니다.",
     "", "택시물류과"),
    ("{d} 초등학교 앞 어린이보호구역에 과속방지턱과 단속 카메라를 설치해 주세요. 아이들이 위험합니다.",
     "", "도시교통실"),
    ("한강 수영장 운영 기간을 9월 말까지 연장해 주세요. 더위가 계속되는데 너무 일찍 닫아요.",
     None, "미래한강본부"),
    ("{d} 지하철역에 엘리베이터가 없어서 휠체어 이용자와 어르신들이 너무 불편합니다. 설치해 주세요.",
     "", "도시철도과"),
    ("기후동행카드 요금을 청년과 어르신에게 더 할인해 주세요. 교통비 부담이 너무 큽니다.",
     None, "도시교통실"),
)
CAMPAIGN_OPENERS = ("", "", "동의합니다. ", "저도요!! ", "서명합니다 ", "[공유] ", "제발 ")
CAMPAIGN_CLOSERS = ("", "", " 😡", " ㅠㅠ", " 꼭 부탁드립니다.", "!!", " 빠른 조치 바랍니다 🙏")
PII_SAMPLES = (
    "연락처 010-2345-6789로 연락 주세요.", "제 번호는 01098765432입니다.",
    "메일은 citizen.kim@example.com 입니다.", "주민번호 900101-1234567 로 신청했어요.",
    "카드 1234-5678-9012-3456 결제 오류가 났어요.",
)
FOREIGN: dict[str, tuple[str, ...]] = {
    "en": (
        "How do I get a T-money card at Incheon airport? 🚇",
        "The night buses in {d} are great, thank you Seoul!",
        "Is the Seoul Lantern Festival open on Monday?",
        "Taxi drivers near Myeongdong refused to use the meter. Where can I report this?",
        "Heavy rain flooded the underpass in {d} this morning. Please fix the drainage.",
    ),
    "zh": (
        "首尔地铁有中文导航吗？谢谢！",
        "明洞附近的出租车拒绝打表，怎么投诉？",
        "首尔灯节非常漂亮，明年还会举办吗？",
        "{d}的公园很干净，谢谢首尔市政府 👍",
    ),
    "ja": (
        "ソウルの地下鉄で日本語の案内はありますか？",
        "明洞でタクシーがメーターを使いませんでした。どこに通報できますか？",
        "ソウル光りの祭り、とてもきれいでした！ありがとうございます。",
        "{d}の市場はカードが使えますか？",
    ),
}
POSTS = {
    "ko": (
        "[안내] {d} 일대 도로 공사로 버스 노선이 임시 변경됩니다.",
        "서울시가 택시요금 조정안을 발표했습니다. 시민 여러분의 의견을 들려주세요.",
        "집중호우 대비 침수 취약가구 점검을 시작합니다.",
        "이번 주말 서울 곳곳에서 열리는 문화 행사를 소개합니다 🎉",
        "전통시장 활성화를 위한 온누리상품권 할인 행사를 진행합니다.",
        "청년 월세 지원 신청이 시작되었습니다.",
        "한강공원 야간 안전 관리를 강화합니다.",
        "어르신 돌봄 서비스가 {d}까지 확대됩니다.",
    ),
    "en": ("Seoul's night bus network grows this winter.", "Visit the Seoul Lantern Festival!"),
    "zh": ("首尔灯节开幕啦！", "首尔地铁新增中文服务。"),
    "ja": ("ソウル光りの祭りが始まりました！", "地下鉄の多言語案内を拡大します。"),
}
ANSWERS = {
    "ko": (
        "안녕하세요, {name}입니다. 말씀하신 내용은 {dept}에 전달해 조치하겠습니다.",
        "소중한 의견 감사합니다. {dept}에서 확인 후 안내드리겠습니다.",
        "불편을 드려 죄송합니다. 현장 확인 후 바로 조치하겠습니다. 다산콜 120으로도 문의 가능합니다.",
    ),
    "en": ("Thank you for your message. {dept} will look into it.",),
    "zh": ("感谢您的意见，我们会转达给相关部门。",),
    "ja": ("ご意見ありがとうございます。担当部署に伝えます。",),
}
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = ("민준", "서연", "도윤", "하은", "지호", "수아", "예준", "지유", "현우", "채원")
LATIN = ("alex", "jane", "minho", "sora", "li_wei", "yuki", "tom", "emma", "chen", "haru")


@dataclass
class SimUser:
    """A citizen."""

    uid: int
    name: str
    handle: str


@dataclass
class SimPost:
    """A post, tweet or video of one account."""

    seq: int
    account: str
    created: datetime
    text: str
    lang: str
    comments: list["SimComment"] = field(default_factory=list)


@dataclass
class SimComment:
    """A comment, reply or mention; `official` is the answering account's key."""

    seq: int
    account: str  # the account whose post it hangs under
    post: SimPost
    parent: "SimComment | None"
    author: SimUser | None
    official: str | None
    created: datetime
    text: str
    lang: str
    likes: int = 0
    edited_at: datetime | None = None
    edited_text: str | None = None
    deleted_at: datetime | None = None
    hidden: bool = False
    # the truth (issue #19): the right department (None: the account's), and the complaint
    # it is (same key = the same complaint: a campaign, or one template about one place)
    department: str | None = None
    complaint: str | None = None

    def text_at(self, now: datetime) -> str:
        if self.edited_at is not None and self.edited_at <= now:
            return self.edited_text or self.text
        return self.text

    def visible_at(self, now: datetime) -> bool:
        return self.created <= now and (self.deleted_at is None or self.deleted_at > now)


class World:
    """All accounts' posts and comments, generated from a seed."""

    def __init__(self, accounts: Iterable[Account], seed: int = 2012_11_01,
                 now: datetime = SIM_NOW, days: int = 10, posts_per_account: int = 8,
                 comments_per_post: int = 10, campaigns: int = 0):
        self.accounts = {a.key: a for a in accounts}
        self.seed, self.now, self.days = seed, now, days
        self.rng = random.Random(seed)
        self.users = [self._user(i) for i in range(1, 2001)]
        self.posts: dict[str, list[SimPost]] = {}
        self._seq = 0
        for account in self.accounts.values():
            self.posts[account.key] = [
                self._post(account, comments_per_post)
                for _ in range(posts_per_account)
            ]
            self.posts[account.key].sort(key=lambda p: p.created)
        if campaigns:
            self._campaigns(campaigns)

    # --- reading the world --------------------------------------------------------------
    def visible_posts(self, account: str) -> list[SimPost]:
        """The account's posts that exist at `now`, oldest first."""
        return [p for p in self.posts.get(account, []) if p.created <= self.now]

    def visible_comments(self, post: SimPost) -> list[SimComment]:
        """A post's comments that exist at `now`, oldest first."""
        return [c for c in post.comments if c.visible_at(self.now)]

    def all_comments(self, account: str | None = None) -> Iterator[SimComment]:
        keys = [account] if account else list(self.posts)
        for key in keys:
            for post in self.visible_posts(key):
                yield from self.visible_comments(post)

    def advance(self, delta: timedelta) -> None:
        """Move the clock: later comments, edits and deletions become visible."""
        self.now += delta

    def add_comment(self, post: SimPost, text: str, created: datetime | None = None,
                    parent: SimComment | None = None, official: str | None = None) -> SimComment:
        """Add one comment (tests use it to make something new appear)."""
        comment = SimComment(
            seq=self._next(), account=post.account, post=post, parent=parent,
            author=None if official else self.rng.choice(self.users), official=official,
            created=created or self.now, text=text, lang=post.lang,
        )
        post.comments.append(comment)
        return comment

    # --- generating it ------------------------------------------------------------------
    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def _user(self, uid: int) -> SimUser:
        rng = self.rng
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        return SimUser(uid, name, f"{rng.choice(LATIN)}{uid}")

    def _post(self, account: Account, comments_per_post: int) -> SimPost:
        rng = self.rng
        created = self.now - timedelta(seconds=rng.randint(3600, self.days * 86400))
        lang = account.language
        text = rng.choice(POSTS[lang]).format(d=rng.choice(DISTRICTS))
        post = SimPost(self._next(), account.key, created, text, lang)
        for _ in range(rng.randint(comments_per_post // 2, comments_per_post * 3 // 2)):
            self._thread(account, post)
        post.comments.sort(key=lambda c: (c.created, c.seq))
        return post

    def _thread(self, account: Account, post: SimPost) -> None:
        """One citizen's comment, maybe a follow-up, maybe the city's answer."""
        rng = self.rng
        created = post.created + timedelta(seconds=rng.randint(60, 3 * 86400))
        root = self._citizen(account, post, None, created)
        last = root
        if rng.random() < 0.25:  # another citizen joins in: a reply to a reply
            last = self._citizen(account, post, root, created + timedelta(minutes=rng.randint(5, 600)))
        if rng.random() < 0.55:
            answerer = account.key
            if rng.random() < 0.08:  # sometimes a different city account answers
                answerer = self._other_account(account)
            when = last.created + timedelta(minutes=rng.randint(3, 2880))
            self._answer(answerer, post, last, when)

    def _citizen(self, account: Account, post: SimPost, parent: SimComment | None,
                 created: datetime) -> SimComment:
        rng = self.rng
        comment = SimComment(
            seq=self._next(), account=account.key, post=post, parent=parent,
            author=rng.choice(self.users), official=None, created=created,
            text="", lang=account.language, likes=0,
        )
        comment.text, comment.department, comment.complaint = self._opinion(account.language)
        comment.likes = rng.choice((0, 0, 0, 1, 2, 5, 12))
        comment.department = comment.department or account.department
        roll = rng.random()
        if roll < 0.04:
            comment.edited_at = created + timedelta(minutes=rng.randint(1, 120))
            comment.edited_text = comment.text + " (수정: 내용 추가합니다)"
        elif roll < 0.06:
            comment.deleted_at = created + timedelta(hours=rng.randint(1, 48))
        elif roll < 0.07:
            comment.hidden = True
        post.comments.append(comment)
        return comment

    def _answer(self, answerer: str, post: SimPost, parent: SimComment, when: datetime) -> None:
        acc = self.accounts[answerer]
        text = self.rng.choice(ANSWERS[acc.language]).format(name=acc.name, dept=acc.department)
        post.comments.append(SimComment(
            seq=self._next(), account=post.account, post=post, parent=parent, author=None,
            official=answerer, created=when, text=text, lang=acc.language,
        ))

    def _opinion(self, lang: str) -> tuple[str, str | None, str]:
        """(text, right department or None, complaint key); the same draws as ever."""
        rng = self.rng
        district = rng.choice(DISTRICTS)
        if lang != "ko":
            template = rng.choice(FOREIGN[lang])
            i = FOREIGN[lang].index(template)
            place = district if "{d}" in template else ""
            return (template.format(d=district), FOREIGN_DEPARTMENTS[lang][i],
                    f"{lang}:{i}:{place}")
        topic = rng.choice(tuple(KO_TOPICS))
        template = rng.choice(KO_TOPICS[topic])
        i = KO_TOPICS[topic].index(template)
        pii = rng.choice(PII_SAMPLES) if rng.random() < 0.3 else ""
        place = district if "{d}" in template else ""
        return (template.format(d=district, p=pii).strip(), KO_DEPARTMENTS[topic][i],
                f"ko:{topic}:{i}:{place}")

    def _campaigns(self, n: int) -> None:
        """n campaigns: each one complaint pasted 4-30 times by different citizens under
        posts of several Korean accounts, with small edits (a separate random stream, so the
        rest of the world stays as it was)."""
        rng = random.Random(self.seed + 19)
        posts = [p for key, ps in self.posts.items() if self.accounts[key].language == "ko"
                 for p in ps]
        for c in range(n):
            text, district, department = CAMPAIGNS[c % len(CAMPAIGNS)]
            place = rng.choice(DISTRICTS) if district is not None else ""
            base = text.format(d=place)
            for _ in range(rng.randint(4, 30)):
                post = rng.choice(posts)
                words = base.split()
                if len(words) > 6 and rng.random() < 0.4:  # one word dropped
                    del words[rng.randrange(1, len(words))]
                body = rng.choice(CAMPAIGN_OPENERS) + " ".join(words) + rng.choice(
                    CAMPAIGN_CLOSERS)
                created = post.created + timedelta(seconds=rng.randint(60, 2 * 86400))
                post.comments.append(SimComment(
                    seq=self._next(), account=post.account, post=post, parent=None,
                    author=rng.choice(self.users), official=None, created=created, text=body,
                    lang="ko", department=department, complaint=f"campaign:{c}"))
            for p in posts:
                p.comments.sort(key=lambda x: (x.created, x.seq))

    def _other_account(self, account: Account) -> str:
        same = [k for k, a in self.accounts.items()
                if a.platform == account.platform and k != account.key]
        return self.rng.choice(same) if same else account.key
