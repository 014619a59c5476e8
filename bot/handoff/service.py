"""TicketService: every state change of a ticket, its permission check and its audit entry.

Synchronous (SQLAlchemy sessions): each public method is one transaction from the session factory.
The async web layer calls it with `await asyncio.to_thread(service.method, ...)`, or through
`bot.handoff.delivery.HandoffCoordinator`, which also talks to Rasa and the channels.

Errors carry a Chinese `message` for the client: `NotFound` (404; also for a ticket outside the
user's scope, so ids do not leak), `PermissionDenied` (403: visible but not the user's to change),
`InvalidTransition` (409: the status does not allow it), `InvalidInput` (400).
Methods return detached ORM objects (the session factory does not expire on commit) or plain dicts.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.engine import session_scope
from bot.db.models import (
    ROLES,
    STATUS_CLAIMED,
    STATUS_NEW,
    STATUS_REPLIED,
    STATUS_RESOLVED,
    STATUS_RETURNED,
    STATUS_TRANSFERRED,
    STATUSES,
    ExtensionRequest,
    Ticket,
    TicketEvent,
    TicketMessage,
    User,
    utcnow,
)
from bot.handoff import deadlines
from bot.handoff.calendar import SHANGHAI, WorkCalendar
from bot.handoff.ids import next_ticket_id

# The city's 企业吹哨办: returned (退回) tickets wait here to be dispatched.
CHUISHAO_OFFICE = "hz-chuishao"
SYSTEM_ACTOR = "系统"
ENTERPRISE_ACTOR = "企业"
MAX_TEXT = 2000
MAX_REASON = 500
OPEN_STATUSES = (STATUS_NEW, STATUS_CLAIMED, STATUS_REPLIED, STATUS_TRANSFERRED, STATUS_RETURNED)
UNCLAIMED = (STATUS_NEW, STATUS_TRANSFERRED, STATUS_RETURNED)
WORKING = (STATUS_CLAIMED, STATUS_REPLIED)
# Messages the enterprise sees through the polling API (staff replies, notes, bot text in handoff).
VISIBLE_TO_ENTERPRISE = ("out", "system", "bot")
USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{2,64}$")
MIN_PASSWORD = 8

STATUS_LABELS = {
    STATUS_NEW: "待认领",
    STATUS_CLAIMED: "已认领",
    STATUS_REPLIED: "已答复",
    STATUS_RESOLVED: "已办结",
    STATUS_TRANSFERRED: "已转办",
    STATUS_RETURNED: "已退回吹哨办",
}

# -- Chinese messages ---------------------------------------------------------------------------------
TICKET_NOT_FOUND = "未找到该工单。"
EXTENSION_NOT_FOUND = "未找到该延期申请。"
USER_NOT_FOUND = "未找到该工作人员。"
ACCOUNT_DISABLED = "该账号已停用。"
NOT_YOUR_DEPARTMENT = "该工单不属于您的部门，不能办理。"
NOT_ASSIGNEE = "该工单由{name}办理，只有办理人或科室负责人可以操作。"
LEADS_ONLY = "只有科室负责人或督办人员可以进行此操作。"
SUPERVISORS_ONLY = "只有督办人员可以督办工单。"
ALREADY_CLAIMED = "该工单已被认领（当前状态：{status}）。"
CLAIM_FIRST = "请先认领该工单（当前状态：{status}）。"
ALREADY_RESOLVED = "该工单已办结，不能再进行此操作。"
SAME_DEPARTMENT = "该工单已在{name}，无需转办。"
ALREADY_IN_OFFICE = "该工单已在企业吹哨办，不能再退回。"
UNKNOWN_DEPARTMENT = "未知的部门：{code}。"
REASON_REQUIRED = "请填写{what}（1至{limit}字）。"
TEXT_REQUIRED = "回复内容不能为空，且不超过{limit}字。"
EXTENSION_PENDING = "该工单已有待审批的延期申请。"
EXTENSION_DAYS = "延期天数须为1至{limit}个工作日的整数。"
EXTENSION_EXHAUSTED = "该工单已达到最长办理期限（{days}个工作日），不能再延期。"
EXTENSION_DECIDED = "该延期申请已审批（{status}）。"
ASSIGN_OTHER_DEPARTMENT = "只能指派给本部门在岗的工作人员。"
FEEDBACK_NOT_RESOLVED = "工单尚未办结，暂不能评价。"
FEEDBACK_GIVEN = "该工单已评价，不能修改。"
RATING_INVALID = "评分须为1至5的整数。"
SOLVED_INVALID = "solved 须为 true 或 false。"
FIELD_REQUIRED = "缺少或无效的字段：{field}。"
USERNAME_INVALID = "用户名须为2至64位字母、数字、下划线、点或连字符。"
USERNAME_TAKEN = "用户名已存在：{username}。"
PASSWORD_TOO_SHORT = "密码至少{n}位。"
ROLE_INVALID = "岗位须为 staff、lead 或 supervisor。"
STATUS_FILTER_INVALID = "未知的工单状态：{status}。"


class HandoffError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(HandoffError):
    status = 400


class PermissionDenied(HandoffError):
    status = 403


class NotFound(HandoffError):
    status = 404


class InvalidTransition(HandoffError):
    status = 409


# -- passwords ------------------------------------------------------------------------------------------

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _timing_equaliser() -> str:
    """A hash verified against when the username is unknown, so both cases take the same time."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("chuishao-timing-equaliser")
    return _dummy_hash


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# -- helpers ----------------------------------------------------------------------------------------------


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in Beijing time (+08:00): unambiguous, and what staff and enterprises read."""
    return value.astimezone(SHANGHAI).isoformat() if value is not None else None


def _text(value: Any, field: str, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > limit:
        if not required and isinstance(value, str) and not value.strip():
            return None
        raise InvalidInput(FIELD_REQUIRED.format(field=field))
    return value.strip()


def _reason(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_REASON:
        raise InvalidInput(REASON_REQUIRED.format(what=what, limit=MAX_REASON))
    return value.strip()


def _timestamp(value: Any) -> dt.datetime:
    """Rasa timestamps (seconds), ISO strings or datetimes, as aware UTC with microseconds."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise InvalidInput(FIELD_REQUIRED.format(field="at"))
        return value.astimezone(dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.timezone.utc)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise InvalidInput(FIELD_REQUIRED.format(field="at")) from None
        return _timestamp(parsed)
    raise InvalidInput(FIELD_REQUIRED.format(field="at"))


class TicketService:
    """The handoff service's operations; see docs/handoff.md for the method list."""

    def __init__(
        self,
        session_factory: sessionmaker,
        knowledge: Any,
        calendar: WorkCalendar,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self._factory = session_factory
        self.knowledge = knowledge
        self.calendar = calendar
        self._clock = clock

    def now(self) -> dt.datetime:
        return self._clock()

    # -- departments -------------------------------------------------------------------------------

    def department_name(self, code: str | None) -> str | None:
        if code is None:
            return None
        department = self.knowledge.departments.get(code)
        return department.name if department is not None else code

    def _require_department(self, code: Any) -> str:
        if not isinstance(code, str) or code not in self.knowledge.departments:
            raise InvalidInput(UNKNOWN_DEPARTMENT.format(code=code))
        return code

    # -- users ---------------------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        department: str,
        role: str,
        display_name: str,
        staff_number: str,
    ) -> User:
        """A staff account; the password is stored as an argon2 hash only."""
        if not isinstance(username, str) or not USERNAME.match(username):
            raise InvalidInput(USERNAME_INVALID)
        if not isinstance(password, str) or len(password) < MIN_PASSWORD:
            raise InvalidInput(PASSWORD_TOO_SHORT.format(n=MIN_PASSWORD))
        if role not in ROLES:
            raise InvalidInput(ROLE_INVALID)
        user = User(
            username=username,
            password_hash=hash_password(password),
            department=self._require_department(department),
            role=role,
            display_name=_text(display_name, "display_name", 64),
            staff_number=_text(staff_number, "staff_number", 32),
            active=True,
            created_at=self.now(),
        )
        try:
            with session_scope(self._factory) as session:
                session.add(user)
        except IntegrityError:
            raise InvalidInput(USERNAME_TAKEN.format(username=username)) from None
        return user

    def authenticate(self, username: str, password: str) -> User | None:
        """The active user with these credentials, or None (same timing for an unknown username)."""
        with session_scope(self._factory) as session:
            user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if user is None:
                verify_password(_timing_equaliser(), password)
                return None
            if not verify_password(user.password_hash, password) or not user.active:
                return None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            return user

    def get_user(self, user_id: int) -> User:
        with session_scope(self._factory) as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound(USER_NOT_FOUND)
            return user

    def list_users(self, department: str | None = None) -> List[User]:
        with session_scope(self._factory) as session:
            query = select(User).order_by(User.department, User.username)
            if department is not None:
                query = query.where(User.department == department)
            return list(session.execute(query).scalars())

    # -- creation ------------------------------------------------------------------------------------

    def create_ticket(self, payload: Mapping[str, Any]) -> tuple[Ticket, bool]:
        """Create a ticket, or return the one with the same idempotency_key: (ticket, created)."""
        if not isinstance(payload, Mapping):
            raise InvalidInput(FIELD_REQUIRED.format(field="body"))
        key = _text(payload.get("idempotency_key"), "idempotency_key", 128)
        existing = self._by_key(key)
        if existing is not None:
            return existing, False
        fields = self._ticket_fields(payload)
        now = self.now()
        due = deadlines.compute_deadlines(self.calendar, self.knowledge, fields["department"], now)
        try:
            with session_scope(self._factory) as session:
                ticket = Ticket(
                    id=next_ticket_id(session, now),
                    idempotency_key=key,
                    status=STATUS_NEW,
                    created_at=now,
                    first_response_due=due.first_response_due,
                    reply_due=due.reply_due,
                    resolve_due=due.resolve_due,
                    calendar_estimated=due.estimated,
                    assignee=None,
                    **fields,
                )
                session.add(ticket)
                session.flush()
                self._event(
                    session,
                    ticket,
                    None,
                    "created",
                    {"department": ticket.department},
                    None,
                    actor_name=ENTERPRISE_ACTOR,
                )
        except IntegrityError:
            # A concurrent request with the same key won; its ticket is the answer.
            existing = self._by_key(key)
            if existing is None:
                raise
            return existing, False
        return ticket, True

    def _by_key(self, key: str) -> Ticket | None:
        with session_scope(self._factory) as session:
            return session.execute(select(Ticket).where(Ticket.idempotency_key == key)).scalar_one_or_none()

    def _ticket_fields(self, payload: Mapping[str, Any]) -> Dict[str, Any]:
        credit_code = _text(payload.get("credit_code"), "credit_code", 18, required=False)
        procedure_id = _text(payload.get("procedure_id"), "procedure_id", 100, required=False)
        transcript = payload.get("transcript") or []
        if not isinstance(transcript, list) or not all(
            isinstance(turn, dict) and isinstance(turn.get("text"), str) for turn in transcript
        ):
            raise InvalidInput(FIELD_REQUIRED.format(field="transcript"))
        return {
            "conversation_id": _text(payload.get("conversation_id"), "conversation_id", 255),
            "channel": _text(payload.get("channel"), "channel", 32),
            "company_name": _text(payload.get("company_name"), "company_name", 200),
            "credit_code": credit_code,
            "contact_name": _text(payload.get("contact_name"), "contact_name", 64),
            "mobile": _text(payload.get("mobile"), "mobile", 20),
            "question": _text(payload.get("question"), "question", MAX_TEXT),
            "procedure_id": procedure_id,
            "department": self._require_department(payload.get("department")),
            "transcript": [
                {"role": str(turn.get("role", "user")), "text": turn["text"], "at": turn.get("at")}
                for turn in transcript
            ],
        }

    # -- reading -------------------------------------------------------------------------------------

    def is_overdue(self, ticket: Ticket, now: dt.datetime | None = None) -> bool:
        """Not resolved and its current deadline (see Ticket.current_due) has passed."""
        return ticket.status != STATUS_RESOLVED and (now or self.now()) > ticket.current_due

    def list_tickets(
        self,
        actor: User,
        status: str | None = None,
        department: str | None = None,
        overdue: bool | None = None,
    ) -> List[Ticket]:
        """Tickets in the actor's scope, soonest current deadline first.

        `status` is a stored status or "open" (anything not resolved); staff and leads only ever see
        their own department, whatever `department` says.
        """
        if status is not None and status not in STATUSES and status != "open":
            raise InvalidInput(STATUS_FILTER_INVALID.format(status=status))
        now = self.now()
        with session_scope(self._factory) as session:
            user = self._actor(session, actor)
            query = select(Ticket)
            if user.role != "supervisor":
                if department is not None and department != user.department:
                    return []
                query = query.where(Ticket.department == user.department)
            elif department is not None:
                query = query.where(Ticket.department == department)
            if status == "open":
                query = query.where(Ticket.status != STATUS_RESOLVED)
            elif status is not None:
                query = query.where(Ticket.status == status)
            tickets = list(session.execute(query).scalars())
            self._note_overdue(session, tickets, now)
        if overdue is not None:
            tickets = [t for t in tickets if self.is_overdue(t, now) == overdue]
        return sorted(tickets, key=lambda t: (t.current_due, t.id))

    def get_ticket(self, actor: User, ticket_id: str) -> Ticket:
        """The ticket, or NotFound when it does not exist or is outside the actor's scope."""
        with session_scope(self._factory) as session:
            user = self._actor(session, actor)
            ticket = self._visible(session, user, ticket_id)
            self._note_overdue(session, [ticket], self.now())
            return ticket

    def ticket_detail(self, actor: User, ticket_id: str) -> Dict[str, Any]:
        """Everything the case page shows: summary, enterprise, transcript, messages, events, extensions."""
        with session_scope(self._factory) as session:
            user = self._actor(session, actor)
            ticket = self._visible(session, user, ticket_id)
            now = self.now()
            self._note_overdue(session, [ticket], now)
            messages = session.execute(
                select(TicketMessage).where(TicketMessage.ticket_id == ticket.id).order_by(TicketMessage.id)
            ).scalars()
            events = session.execute(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
            ).scalars()
            extensions = session.execute(
                select(ExtensionRequest)
                .where(ExtensionRequest.ticket_id == ticket.id)
                .order_by(ExtensionRequest.id)
            ).scalars()
            procedure = self.knowledge.procedures.get(ticket.procedure_id) if ticket.procedure_id else None
            detail = self.summary(ticket, now)
            detail.update(
                credit_code=ticket.credit_code,
                mobile=ticket.mobile,
                question=ticket.question,
                transcript=ticket.transcript,
                procedure={"id": procedure.id, "name": procedure.name} if procedure is not None else None,
                messages=[self.message_dict(m, staff_view=True) for m in messages],
                events=[self.event_dict(e) for e in events],
                extensions=[self.extension_dict(x) for x in extensions],
            )
            return detail

    # -- staff actions ---------------------------------------------------------------------------------

    def claim(self, actor: User, ticket_id: str, *, remote_addr: str | None = None) -> Ticket:
        with session_scope(self._factory) as session:
            user, ticket = self._load_for_work(session, actor, ticket_id)
            if ticket.status not in UNCLAIMED:
                raise InvalidTransition(ALREADY_CLAIMED.format(status=STATUS_LABELS[ticket.status]))
            ticket.status = STATUS_CLAIMED
            ticket.assignee_id = user.id
            self._event(session, ticket, user, "claimed", {}, remote_addr)
            session.flush()
            session.refresh(ticket)
            return ticket

    def reply(
        self, actor: User, ticket_id: str, text: str, *, remote_addr: str | None = None
    ) -> tuple[Ticket, TicketMessage]:
        """A staff reply to the enterprise, with the 三亮 snapshot (name, department, staff number)."""
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > MAX_TEXT:
            raise InvalidInput(TEXT_REQUIRED.format(limit=MAX_TEXT))
        with session_scope(self._factory) as session:
            user, ticket = self._load_for_work(session, actor, ticket_id)
            self._require_handler(session, user, ticket)
            now = self.now()
            message = TicketMessage(
                ticket_id=ticket.id,
                conversation_id=ticket.conversation_id,
                direction="out",
                text=text.strip(),
                staff_id=user.id,
                staff_name=user.display_name,
                staff_department=user.department,
                staff_number=user.staff_number,
                created_at=now,
                delivery_status="pending",
            )
            session.add(message)
            first = ticket.first_response_at is None
            if first:
                ticket.first_response_at = now
            ticket.status = STATUS_REPLIED
            session.flush()
            self._event(
                session, ticket, user, "replied", {"message_id": message.id, "first": first}, remote_addr
            )
            return ticket, message

    def transfer(
        self, actor: User, ticket_id: str, department: str, reason: str, *, remote_addr: str | None = None
    ) -> Ticket:
        """To another department's queue (or, by a supervisor, dispatching any ticket)."""
        with session_scope(self._factory) as session:
            user = self._actor(session, actor)
            ticket = self._visible(session, user, ticket_id)
            if user.role != "supervisor" and ticket.department != user.department:
                raise PermissionDenied(NOT_YOUR_DEPARTMENT)
            if ticket.status == STATUS_RESOLVED:
                raise InvalidTransition(ALREADY_RESOLVED)
            target = self._require_department(department)
            if target == ticket.department:
                raise InvalidInput(SAME_DEPARTMENT.format(name=self.department_name(target)))
            why = _reason(reason, "转办理由")
            source = ticket.department
            ticket.department = target
            ticket.status = STATUS_TRANSFERRED
            ticket.assignee_id = None
            self._event(
                session,
                ticket,
                user,
                "transferred",
                {"from": source, "to": target, "reason": why},
                remote_addr,
            )
            session.flush()
            session.refresh(ticket)
            return ticket

    def resolve(
        self, actor: User, ticket_id: str, note: str | None = None, *, remote_addr: str | None = None
    ) -> Ticket:
        note = _text(note, "note", MAX_REASON, required=False)
        with session_scope(self._factory) as session:
            user, ticket = self._load_for_work(session, actor, ticket_id)
            self._require_handler(session, user, ticket)
            now = self.now()
            ticket.status = STATUS_RESOLVED
            ticket.resolved_at = now
            on_time = now <= ticket.final_due
            self._event(session, ticket, user, "resolved", {"note": note, "on_time": on_time}, remote_addr)
            return ticket

    def return_(self, actor: User, ticket_id: str, reason: str, *, remote_addr: str | None = None) -> Ticket:
        """退回: not this department's case; back to the 吹哨 office, unassigned, to be dispatched."""
        with session_scope(self._factory) as session:
            user, ticket = self._load_for_work(session, actor, ticket_id)
            if ticket.department == CHUISHAO_OFFICE:
                raise InvalidTransition(ALREADY_IN_OFFICE)
            why = _reason(reason, "退回理由")
            source = ticket.department
            ticket.department = CHUISHAO_OFFICE
            ticket.status = STATUS_RETURNED
            ticket.assignee_id = None
            self._event(session, ticket, user, "returned", {"from": source, "reason": why}, remote_addr)
            session.flush()
            session.refresh(ticket)
            return ticket

    def request_extension(
        self, actor: User, ticket_id: str, days: int, reason: str, *, remote_addr: str | None = None
    ) -> ExtensionRequest:
        with session_scope(self._factory) as session:
            user, ticket = self._load_for_work(session, actor, ticket_id)
            pending = self._extensions(session, ticket.id, "pending")
            if pending:
                raise InvalidTransition(EXTENSION_PENDING)
            remaining = self._remaining_extension(session, ticket)
            if remaining <= 0:
                level = deadlines.service_level(self.knowledge, ticket.department)
                raise InvalidTransition(EXTENSION_EXHAUSTED.format(days=level.extend_to_days))
            if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= remaining:
                raise InvalidInput(EXTENSION_DAYS.format(limit=remaining))
            why = _reason(reason, "延期理由")
            extension = ExtensionRequest(
                ticket_id=ticket.id,
                requested_by=user.id,
                reason=why,
                days=days,
                status="pending",
                created_at=self.now(),
            )
            session.add(extension)
            session.flush()
            self._event(
                session,
                ticket,
                user,
                "extension_requested",
                {"extension_id": extension.id, "days": days, "reason": why},
                remote_addr,
            )
            return extension

    def approve_extension(
        self, actor: User, ticket_id: str, extension_id: int, *, remote_addr: str | None = None
    ) -> Ticket:
        """Approve: the resolution deadline becomes resolve_days + all approved days, in working days."""
        with session_scope(self._factory) as session:
            user, ticket, extension = self._load_extension(session, actor, ticket_id, extension_id)
            remaining = self._remaining_extension(session, ticket)
            if extension.days > remaining:
                level = deadlines.service_level(self.knowledge, ticket.department)
                raise InvalidTransition(EXTENSION_EXHAUSTED.format(days=level.extend_to_days))
            extension.status = "approved"
            extension.decided_by = user.id
            extension.decided_at = self.now()
            total = sum(x.days for x in self._extensions(session, ticket.id, "approved"))
            due, estimated = deadlines.extended_due(
                self.calendar, self.knowledge, ticket.department, ticket.created_at, total
            )
            ticket.extended_due = due
            ticket.calendar_estimated = ticket.calendar_estimated or estimated
            self._event(
                session,
                ticket,
                user,
                "extension_approved",
                {"extension_id": extension.id, "days": extension.days, "extended_due": iso(due)},
                remote_addr,
            )
            return ticket

    def reject_extension(
        self,
        actor: User,
        ticket_id: str,
        extension_id: int,
        reason: str | None = None,
        *,
        remote_addr: str | None = None,
    ) -> ExtensionRequest:
        reason = _text(reason, "reason", MAX_REASON, required=False)
        with session_scope(self._factory) as session:
            user, ticket, extension = self._load_extension(session, actor, ticket_id, extension_id)
            extension.status = "rejected"
            extension.decided_by = user.id
            extension.decided_at = self.now()
            self._event(
                session,
                ticket,
                user,
                "extension_rejected",
                {"extension_id": extension.id, "reason": reason},
                remote_addr,
            )
            return extension

    def assign(self, actor: User, ticket_id: str, user_id: int, *, remote_addr: str | None = None) -> Ticket:
        """A lead gives the ticket to a member of the department; an unclaimed ticket becomes claimed."""
        with session_scope(self._factory) as session:
            user, ticket = self._load_for_work(session, actor, ticket_id)
            if user.role != "lead":
                raise PermissionDenied(LEADS_ONLY)
            assignee = session.get(User, user_id) if isinstance(user_id, int) else None
            if assignee is None or not assignee.active or assignee.department != ticket.department:
                raise InvalidInput(ASSIGN_OTHER_DEPARTMENT)
            ticket.assignee_id = assignee.id
            if ticket.status in UNCLAIMED:
                ticket.status = STATUS_CLAIMED
            self._event(
                session,
                ticket,
                user,
                "assigned",
                {"assignee_id": assignee.id, "assignee_name": assignee.display_name},
                remote_addr,
            )
            session.flush()
            session.refresh(ticket)
            return ticket

    def escalate(
        self, actor: User, ticket_id: str, note: str | None = None, *, remote_addr: str | None = None
    ) -> Ticket:
        """督办: a supervisor flags an open ticket; the department sees it on the ticket."""
        note = _text(note, "note", MAX_REASON, required=False)
        with session_scope(self._factory) as session:
            user = self._actor(session, actor)
            ticket = self._visible(session, user, ticket_id)
            if user.role != "supervisor":
                raise PermissionDenied(SUPERVISORS_ONLY)
            if ticket.status == STATUS_RESOLVED:
                raise InvalidTransition(ALREADY_RESOLVED)
            ticket.escalated_at = self.now()
            self._event(session, ticket, user, "escalated", {"note": note}, remote_addr)
            return ticket

    # -- delivery bookkeeping ------------------------------------------------------------------------

    def record_delivery(self, message_id: int, status: str, error: str | None = None) -> None:
        """Store a message's delivery outcome; a failure also goes to the audit log for staff."""
        with session_scope(self._factory) as session:
            message = session.get(TicketMessage, message_id)
            if message is None:
                raise NotFound(TICKET_NOT_FOUND)
            message.delivery_status = status
            message.delivery_error = error
            if status == "failed":
                ticket = session.get(Ticket, message.ticket_id)
                self._event(
                    session,
                    ticket,
                    None,
                    "delivery_failed",
                    {"message_id": message.id, "channel": ticket.channel, "error": error},
                    None,
                )

    def record_failure(self, ticket_id: str, step: str, error: str) -> None:
        """A side effect that did not happen (Rasa pause/resume/trigger), for staff to see."""
        with session_scope(self._factory) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(TICKET_NOT_FOUND)
            self._event(session, ticket, None, "delivery_failed", {"step": step, "error": error}, None)

    def add_bot_messages(
        self, ticket_id: str, texts: Sequence[str], delivery_status: str
    ) -> List[TicketMessage]:
        """Bot text produced during the handoff (e.g. the feedback question after resolve)."""
        with session_scope(self._factory) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(TICKET_NOT_FOUND)
            now = self.now()
            messages = [
                TicketMessage(
                    ticket_id=ticket.id,
                    conversation_id=ticket.conversation_id,
                    direction="bot",
                    text=text,
                    created_at=now,
                    delivery_status=delivery_status,
                )
                for text in texts
                if text and text.strip()
            ]
            session.add_all(messages)
            return messages

    def add_incoming_messages(self, ticket_id: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Copy what the enterprise wrote (e.g. while paused, from Rasa's tracker); duplicates skipped."""
        parsed = []
        for item in items:
            text = item.get("text")
            if isinstance(text, str) and text.strip():
                parsed.append((text, _timestamp(item.get("at"))))
        with session_scope(self._factory) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(TICKET_NOT_FOUND)
            seen = {
                (m.text, m.created_at)
                for m in session.execute(
                    select(TicketMessage).where(
                        TicketMessage.ticket_id == ticket_id, TicketMessage.direction == "in"
                    )
                ).scalars()
            }
            added = 0
            for text, at in parsed:
                if (text, at) in seen:
                    continue
                seen.add((text, at))
                session.add(
                    TicketMessage(
                        ticket_id=ticket.id,
                        conversation_id=ticket.conversation_id,
                        direction="in",
                        text=text,
                        created_at=at,
                        delivery_status="delivered",
                    )
                )
                added += 1
            return added

    def latest_incoming_at(self, ticket_id: str) -> dt.datetime:
        """Since when to copy the enterprise's messages: the last copied one, else the ticket's creation."""
        with session_scope(self._factory) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(TICKET_NOT_FOUND)
            latest = session.execute(
                select(TicketMessage.created_at)
                .where(TicketMessage.ticket_id == ticket_id, TicketMessage.direction == "in")
                .order_by(TicketMessage.created_at.desc())
                .limit(1)
            ).scalar_one_or_none()
            return latest or ticket.created_at

    # -- the enterprise's side ---------------------------------------------------------------------------

    def messages_for_conversation(
        self, conversation_id: str, after: int = 0, limit: int = 100
    ) -> Dict[str, Any]:
        """Staff replies, notes and handoff bot text for a conversation after the cursor `after`."""
        with session_scope(self._factory) as session:
            messages = list(
                session.execute(
                    select(TicketMessage)
                    .where(
                        TicketMessage.conversation_id == conversation_id,
                        TicketMessage.id > after,
                        TicketMessage.direction.in_(VISIBLE_TO_ENTERPRISE),
                    )
                    .order_by(TicketMessage.id)
                    .limit(limit)
                ).scalars()
            )
        return {
            "messages": [self.message_dict(m) for m in messages],
            "cursor": messages[-1].id if messages else after,
        }

    def conversation_tickets(self, conversation_id: str) -> List[Dict[str, Any]]:
        """The conversation's tickets, newest first, each with its latest staff reply (check_ticket)."""
        now = self.now()
        with session_scope(self._factory) as session:
            tickets = list(
                session.execute(
                    select(Ticket)
                    .where(Ticket.conversation_id == conversation_id)
                    .order_by(Ticket.created_at.desc(), Ticket.id.desc())
                ).scalars()
            )
            result = []
            for ticket in tickets:
                latest = session.execute(
                    select(TicketMessage)
                    .where(TicketMessage.ticket_id == ticket.id, TicketMessage.direction == "out")
                    .order_by(TicketMessage.id.desc())
                    .limit(1)
                ).scalar_one_or_none()
                entry = self.public_ticket(ticket, now)
                entry["latest_reply"] = (
                    {"text": latest.text, "created_at": iso(latest.created_at), "staff": self._staff(latest)}
                    if latest is not None
                    else None
                )
                result.append(entry)
            return result

    def record_feedback(self, ticket_id: str, conversation_id: str, solved: bool, rating: int) -> Ticket:
        """The enterprise's verdict after resolution; only the owning conversation may give it, once."""
        if not isinstance(solved, bool):
            raise InvalidInput(SOLVED_INVALID)
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise InvalidInput(RATING_INVALID)
        with session_scope(self._factory) as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None or ticket.conversation_id != conversation_id:
                raise NotFound(TICKET_NOT_FOUND)
            if ticket.feedback_at is not None:
                if (ticket.outcome_solved, ticket.rating) == (solved, rating):
                    return ticket  # a retried request
                raise InvalidTransition(FEEDBACK_GIVEN)
            if ticket.status != STATUS_RESOLVED:
                raise InvalidTransition(FEEDBACK_NOT_RESOLVED)
            ticket.outcome_solved = solved
            ticket.rating = rating
            ticket.feedback_at = self.now()
            self._event(
                session,
                ticket,
                None,
                "feedback",
                {"solved": solved, "rating": rating},
                None,
                actor_name=ENTERPRISE_ACTOR,
            )
            return ticket

    # -- figures -------------------------------------------------------------------------------------------

    def stats(
        self, actor: User | None = None, department: str | None = None, *, public: bool = False
    ) -> Dict:
        """Figures for the dashboard (actor given) or a public 三亮 page (actor None, public=True).

        on_time_rate: resolved on time / (resolved + open tickets past their resolution deadline).
        Public figures carry no ticket details (no overdue list).
        """
        now = self.now()
        with session_scope(self._factory) as session:
            if actor is not None:
                user = self._actor(session, actor)
                if user.role != "supervisor":
                    department = user.department
            query = select(Ticket)
            if department is not None:
                query = query.where(Ticket.department == department)
            tickets = list(session.execute(query).scalars())
        by_status = {status: 0 for status in STATUSES}
        by_department: Dict[str, Dict[str, Any]] = {}
        for ticket in tickets:
            by_status[ticket.status] += 1
            entry = by_department.setdefault(
                ticket.department,
                {
                    "department": ticket.department,
                    "department_name": self.department_name(ticket.department),
                    "total": 0,
                    "open": 0,
                    "overdue": 0,
                },
            )
            entry["total"] += 1
            entry["open"] += ticket.status != STATUS_RESOLVED
            entry["overdue"] += self.is_overdue(ticket, now)
        resolved = [t for t in tickets if t.status == STATUS_RESOLVED]
        late_open = [t for t in tickets if t.status != STATUS_RESOLVED and now > t.final_due]
        on_time = [t for t in resolved if t.resolved_at <= t.final_due]
        denominator = len(resolved) + len(late_open)
        responses = [
            (t.first_response_at - t.created_at).total_seconds() for t in tickets if t.first_response_at
        ]
        ratings = [t.rating for t in tickets if t.rating is not None]
        overdue = sorted((t for t in tickets if self.is_overdue(t, now)), key=lambda t: t.current_due)
        figures: Dict[str, Any] = {
            "department": department,
            "total": len(tickets),
            "by_status": by_status,
            "by_department": sorted(by_department.values(), key=lambda e: (-e["total"], e["department"])),
            "overdue_count": len(overdue),
            "resolved": len(resolved),
            "on_time_rate": round(len(on_time) / denominator, 4) if denominator else None,
            "avg_first_response_seconds": round(sum(responses) / len(responses)) if responses else None,
            "avg_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
            "rated": len(ratings),
        }
        if not public:
            figures["overdue"] = [self.summary(t, now) for t in overdue]
        return figures

    # -- serialisation ----------------------------------------------------------------------------------

    def public_ticket(self, ticket: Ticket, now: dt.datetime | None = None) -> Dict[str, Any]:
        """What the enterprise may see: the internal API's ticket shape."""
        return {
            "id": ticket.id,
            "department": ticket.department,
            "department_name": self.department_name(ticket.department),
            "status": ticket.status,
            "status_label": STATUS_LABELS[ticket.status],
            "overdue": self.is_overdue(ticket, now),
            "due": iso(ticket.final_due),
            "reply_due": iso(ticket.reply_due),
            "first_response_due": iso(ticket.first_response_due),
            "calendar_estimated": ticket.calendar_estimated,
            "created_at": iso(ticket.created_at),
            "resolved_at": iso(ticket.resolved_at),
        }

    def summary(self, ticket: Ticket, now: dt.datetime | None = None) -> Dict[str, Any]:
        """A queue row for staff."""
        assignee = ticket.assignee
        return {
            "id": ticket.id,
            "status": ticket.status,
            "status_label": STATUS_LABELS[ticket.status],
            "overdue": self.is_overdue(ticket, now),
            "department": ticket.department,
            "department_name": self.department_name(ticket.department),
            "conversation_id": ticket.conversation_id,
            "channel": ticket.channel,
            "company_name": ticket.company_name,
            "contact_name": ticket.contact_name,
            "question": ticket.question,
            "procedure_id": ticket.procedure_id,
            "created_at": iso(ticket.created_at),
            "due": iso(ticket.current_due),
            "first_response_due": iso(ticket.first_response_due),
            "reply_due": iso(ticket.reply_due),
            "resolve_due": iso(ticket.resolve_due),
            "extended_due": iso(ticket.extended_due),
            "final_due": iso(ticket.final_due),
            "calendar_estimated": ticket.calendar_estimated,
            "assignee": (
                {"id": assignee.id, "name": assignee.display_name, "number": assignee.staff_number}
                if assignee is not None
                else None
            ),
            "first_response_at": iso(ticket.first_response_at),
            "resolved_at": iso(ticket.resolved_at),
            "escalated_at": iso(ticket.escalated_at),
            "outcome_solved": ticket.outcome_solved,
            "rating": ticket.rating,
        }

    def _staff(self, message: TicketMessage) -> Dict[str, Any] | None:
        if message.direction != "out":
            return None
        return {
            "name": message.staff_name,
            "department": message.staff_department,
            "department_name": self.department_name(message.staff_department),
            "number": message.staff_number,
        }

    def message_dict(self, message: TicketMessage, *, staff_view: bool = False) -> Dict[str, Any]:
        data = {
            "id": message.id,
            "ticket": message.ticket_id,
            "direction": message.direction,
            "text": message.text,
            "staff": self._staff(message),
            "created_at": iso(message.created_at),
        }
        if staff_view:
            data.update(delivery_status=message.delivery_status, delivery_error=message.delivery_error)
        return data

    @staticmethod
    def event_dict(event: TicketEvent) -> Dict[str, Any]:
        return {
            "id": event.id,
            "action": event.action,
            "actor_id": event.actor_id,
            "actor_name": event.actor_name,
            "detail": event.detail,
            "remote_addr": event.remote_addr,
            "created_at": iso(event.created_at),
        }

    @staticmethod
    def extension_dict(extension: ExtensionRequest) -> Dict[str, Any]:
        return {
            "id": extension.id,
            "days": extension.days,
            "reason": extension.reason,
            "status": extension.status,
            "requested_by": extension.requested_by,
            "decided_by": extension.decided_by,
            "created_at": iso(extension.created_at),
            "decided_at": iso(extension.decided_at),
        }

    # -- internals ----------------------------------------------------------------------------------------

    def _actor(self, session: Session, actor: User) -> User:
        """The actor's current row: a disabled account or a changed role takes effect at once."""
        user = session.get(User, actor.id)
        if user is None or not user.active:
            raise PermissionDenied(ACCOUNT_DISABLED)
        return user

    def _visible(self, session: Session, user: User, ticket_id: str) -> Ticket:
        ticket = session.get(Ticket, ticket_id) if isinstance(ticket_id, str) else None
        if ticket is None or (user.role != "supervisor" and ticket.department != user.department):
            raise NotFound(TICKET_NOT_FOUND)
        return ticket

    def _load_for_work(self, session: Session, actor: User, ticket_id: str) -> tuple[User, Ticket]:
        """A ticket of the actor's own department that is not resolved (for working on it)."""
        user = self._actor(session, actor)
        ticket = self._visible(session, user, ticket_id)
        if ticket.department != user.department:
            raise PermissionDenied(NOT_YOUR_DEPARTMENT)
        if ticket.status == STATUS_RESOLVED:
            raise InvalidTransition(ALREADY_RESOLVED)
        return user, ticket

    def _require_handler(self, session: Session, user: User, ticket: Ticket) -> None:
        """Reply and resolve: the ticket is claimed, by this user (or the user leads the department)."""
        if ticket.status not in WORKING:
            raise InvalidTransition(CLAIM_FIRST.format(status=STATUS_LABELS[ticket.status]))
        if ticket.assignee_id != user.id and user.role != "lead":
            holder = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
            raise PermissionDenied(NOT_ASSIGNEE.format(name=holder.display_name if holder else "他人"))

    def _load_extension(
        self, session: Session, actor: User, ticket_id: str, extension_id: int
    ) -> tuple[User, Ticket, ExtensionRequest]:
        user = self._actor(session, actor)
        ticket = self._visible(session, user, ticket_id)
        if user.role not in ("lead", "supervisor"):
            raise PermissionDenied(LEADS_ONLY)
        if user.role == "lead" and ticket.department != user.department:
            raise PermissionDenied(NOT_YOUR_DEPARTMENT)
        extension = session.get(ExtensionRequest, extension_id) if isinstance(extension_id, int) else None
        if extension is None or extension.ticket_id != ticket.id:
            raise NotFound(EXTENSION_NOT_FOUND)
        if extension.status != "pending":
            raise InvalidTransition(EXTENSION_DECIDED.format(status=extension.status))
        if ticket.status == STATUS_RESOLVED:
            raise InvalidTransition(ALREADY_RESOLVED)
        return user, ticket, extension

    def _extensions(self, session: Session, ticket_id: str, status: str) -> List[ExtensionRequest]:
        return list(
            session.execute(
                select(ExtensionRequest).where(
                    ExtensionRequest.ticket_id == ticket_id, ExtensionRequest.status == status
                )
            ).scalars()
        )

    def _remaining_extension(self, session: Session, ticket: Ticket) -> int:
        approved = sum(x.days for x in self._extensions(session, ticket.id, "approved"))
        return deadlines.max_extension_days(self.knowledge, ticket.department) - approved

    def _note_overdue(self, session: Session, tickets: Iterable[Ticket], now: dt.datetime) -> None:
        """The audit log gets one `overdue` entry per ticket, the first time it is seen overdue."""
        late = [t for t in tickets if self.is_overdue(t, now)]
        if not late:
            return
        logged = set(
            session.execute(
                select(TicketEvent.ticket_id).where(
                    TicketEvent.action == "overdue", TicketEvent.ticket_id.in_([t.id for t in late])
                )
            ).scalars()
        )
        for ticket in late:
            if ticket.id not in logged:
                self._event(session, ticket, None, "overdue", {"due": iso(ticket.current_due)}, None)

    def _event(
        self,
        session: Session,
        ticket: Ticket,
        user: User | None,
        action: str,
        detail: Dict[str, Any],
        remote_addr: str | None,
        *,
        actor_name: str | None = None,
    ) -> TicketEvent:
        event = TicketEvent(
            ticket_id=ticket.id,
            actor_id=user.id if user is not None else None,
            actor_name=actor_name or (user.display_name if user is not None else SYSTEM_ACTOR),
            action=action,
            detail=detail,
            remote_addr=remote_addr[:64] if remote_addr else None,
            created_at=self.now(),
        )
        session.add(event)
        return event
