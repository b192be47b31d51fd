"""What can be done to an opinion from the browser, by whom, from which status.

Every action is one `store.cases.Change` appended to case_events with the logged-in person as
`by` (never a name typed into a form), checked again inside the write transaction
(store.cases.act: the status must still be one the action starts from). Notes and reasons
are PII-masked before they are stored (case_events is append-only).

Roles: `staff` (the Social Media Center) may do everything; `department` users act on the
opinions of their own department only (start, record the answer, transfer onwards);
`viewer` reads.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.display import safe_href
from store.cases import Change

OPEN = ("received", "assigned", "in_progress")
CLOSED = ("answered", "resolved", "dismissed", "reflected")


@dataclass(frozen=True)
class Action:
    key: str
    label: str  # Korean, with English
    status: str | None  # the status it sets (None: computed, see reopen)
    starts_from: tuple[str, ...]
    roles: tuple[str, ...]
    needs_department: bool = False
    needs_note: bool = False
    note_label: str = ""
    takes_link: bool = False
    needs_policy: bool = False  # reflect: the policy or measure it fed into


ACTIONS = {a.key: a for a in (
    Action("assign", "부서 배정 (assign)", "assigned", OPEN, ("staff",),
           needs_department=True),
    Action("transfer", "이관 (transfer)", "assigned", OPEN, ("staff", "department"),
           needs_department=True, needs_note=True, note_label="이관 사유 (reason)"),
    Action("start", "처리 시작 (in progress)", "in_progress", ("received", "assigned"),
           ("staff", "department")),
    Action("answer", "답변 등록 (record the answer)", "answered", OPEN, ("staff", "department"),
           needs_note=True, note_label="답변 내용·메모 (what was answered)", takes_link=True),
    Action("resolve", "처리 완료 (resolve)", "resolved", (*OPEN, "answered"), ("staff",)),
    Action("dismiss", "종결 (dismiss)", "dismissed", OPEN, ("staff",), needs_note=True,
           note_label="종결 사유 (reason)"),
    Action("reopen", "다시 열기 (reopen)", None, CLOSED, ("staff",)),
    # issue #19: one click takes routing's suggestion (an assign, its own history row)
    Action("confirm", "추천 부서로 배정 (confirm the suggestion)", "assigned", OPEN, ("staff",)),
    Action("reflect", "정책 반영 (reflected in policy)", "reflected",
           (*OPEN, "answered", "resolved"), ("staff",), needs_policy=True),
)}
ACTION_LABELS = {k: a.label for k, a in ACTIONS.items()}
STATUS_LABELS = {"received": "접수 (received)", "assigned": "부서 배정 (assigned)",
                 "in_progress": "처리 중 (in progress)", "answered": "답변 (answered)",
                 "resolved": "처리 완료 (resolved)", "dismissed": "종결 (dismissed)",
                 "reflected": "정책 반영 (reflected in policy)"}
POLICY_MAX = 1000
NOTE_MAX = 4000
LINK_MAX = 2000


class ActionError(ValueError):
    """A form that cannot be carried out: the message says why, in Korean and English."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def may(role: str, user_department: str | None, action: Action, status: str,
        department: str | None) -> bool:
    """Whether this person may do `action` on an opinion of this status and department."""
    if role not in action.roles or status not in action.starts_from:
        return False
    return role == "staff" or (role == "department" and department == user_department)


def may_ever(role: str, user_department: str | None, action: Action,
             department: str | None) -> bool:
    """Whether this person may do `action` on this department's opinions at all (in some
    status): a refusal here is a 403, a wrong status a conflict."""
    if role not in action.roles:
        return False
    return role == "staff" or (role == "department" and department == user_department)


def available(role: str, user_department: str | None, status: str,
              department: str | None) -> list[Action]:
    return [a for a in ACTIONS.values() if may(role, user_department, a, status, department)]


def mask(text: str | None) -> str | None:
    """Text a person typed, as it may be stored: NFC, PII masked, trimmed."""
    if not text or not text.strip():
        return None
    from normalize.text import mask_pii_counts, nfc

    masked, _ = mask_pii_counts(nfc(text.strip()))
    return masked


def change(action: Action, comment_id: str, by: str, *, status: str,
           current_department: str | None, assigned: bool = False,
           department: str | None = None, note: str | None = None,
           link: str | None = None, policy: str | None = None) -> Change:
    """The case change of an action from its form's values (ActionError when incomplete).
    `assigned`: staff assigned the opinion a department before (reopen goes back there)."""
    department = (department or "").strip() or None
    if action.key == "confirm" and not department:
        raise ActionError("추천 부서가 없습니다 (no suggested department).")
    if policy and len(policy) > POLICY_MAX:
        raise ActionError(f"정책 설명이 너무 깁니다 (at most {POLICY_MAX} characters).")
    policy = mask(policy) if action.needs_policy else None
    if action.needs_policy and not policy:
        raise ActionError("반영된 정책이나 조치를 적어 주세요 (the policy or measure).")
    if action.needs_department and not department:
        raise ActionError("부서를 고르세요 (choose a department).")
    if action.key == "transfer" and department == current_department:
        raise ActionError("이미 그 부서의 의견입니다: 다른 부서를 고르세요 (already with that "
                          "department).")
    if note and len(note) > NOTE_MAX:
        raise ActionError(f"메모가 너무 깁니다 (at most {NOTE_MAX} characters).")
    note = mask(note)
    if action.needs_note and not note:
        raise ActionError(f"{action.note_label or '메모'}를 적어 주세요 (required).")
    clean_link = None
    if link and link.strip():
        if not action.takes_link:
            raise ActionError("이 처리에는 링크를 적지 않습니다 (no link for this action).")
        clean_link = safe_href(link.strip())
        if not clean_link or len(clean_link) > LINK_MAX:
            raise ActionError("링크는 http:// 또는 https:// 로 시작하는 주소여야 합니다 "
                              "(the link must be an http(s) URL).")
    to = action.status
    if to is None:  # reopen: back with its department, or received
        to = "assigned" if assigned else "received"
    if not action.needs_department and action.key != "confirm":
        department = None  # keep the one it has
    return Change(comment_id, to, department, note, by, action=action.key, link=clean_link,
                  policy=policy)
