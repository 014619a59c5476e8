"""SQLAlchemy 1.4 declarative models of the handoff service (tables listed in docs/handoff.md).

Timestamps are timezone-aware UTC datetimes in Python on both databases: `UTCDateTime` stores
`timestamptz` on PostgreSQL and naive UTC text on SQLite, and always hands back aware UTC values.
Constraint names come from one naming convention so the Alembic migration and the models agree on
both dialects.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)
Base = declarative_base(metadata=metadata)

# Ticket statuses; `overdue` is derived (see TicketService.is_overdue), never stored.
STATUS_NEW = "new"
STATUS_CLAIMED = "claimed"
STATUS_REPLIED = "replied"
STATUS_RESOLVED = "resolved"
STATUS_TRANSFERRED = "transferred"
STATUS_RETURNED = "returned"
STATUSES = (STATUS_NEW, STATUS_CLAIMED, STATUS_REPLIED, STATUS_RESOLVED, STATUS_TRANSFERRED, STATUS_RETURNED)

ROLES = ("staff", "lead", "supervisor")
DIRECTIONS = ("in", "out", "bot", "system")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "polling")
EXTENSION_STATUSES = ("pending", "approved", "rejected")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out; naive values are refused (they are always a bug here)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column; use an aware UTC datetime")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class User(Base):
    """A staff account of the console (per person; 三亮: display name, department, staff number)."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in_list("role", ROLES), name="role"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    display_name = Column(String(64), nullable=False)
    staff_number = Column(String(32), nullable=False)
    department = Column(String(64), nullable=False, index=True)
    role = Column(String(16), nullable=False)
    active = Column(Boolean, nullable=False, default=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class Ticket(Base):
    """One handed-off case of an enterprise."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(_in_list("status", STATUSES), name="status"),
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating"),
    )

    id = Column(String(20), primary_key=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    company_name = Column(String(200), nullable=False)
    credit_code = Column(String(18), nullable=True)
    contact_name = Column(String(64), nullable=False)
    mobile = Column(String(20), nullable=False)
    question = Column(Text, nullable=False)
    transcript = Column(JSON, nullable=False, default=list)
    procedure_id = Column(String(100), nullable=True)
    department = Column(String(64), nullable=False, index=True)
    status = Column(String(16), nullable=False, default=STATUS_NEW, index=True)
    assignee_id = Column(Integer, ForeignKey("users.id"), nullable=True, index=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    first_response_due = Column(UTCDateTime, nullable=False)
    reply_due = Column(UTCDateTime, nullable=False)
    resolve_due = Column(UTCDateTime, nullable=False)
    extended_due = Column(UTCDateTime, nullable=True)
    calendar_estimated = Column(Boolean, nullable=False, default=False)
    first_response_at = Column(UTCDateTime, nullable=True)
    resolved_at = Column(UTCDateTime, nullable=True)
    escalated_at = Column(UTCDateTime, nullable=True)
    outcome_solved = Column(Boolean, nullable=True)
    rating = Column(Integer, nullable=True)
    feedback_at = Column(UTCDateTime, nullable=True)

    assignee = relationship("User", lazy="joined")

    @property
    def current_due(self) -> dt.datetime:
        """The deadline that applies now: first contact until staff first reply, then resolution."""
        if self.first_response_at is None and self.status != STATUS_RESOLVED:
            return self.first_response_due
        return self.final_due

    @property
    def final_due(self) -> dt.datetime:
        """The resolution deadline, extended when an extension was approved."""
        return self.extended_due or self.resolve_due


class TicketMessage(Base):
    """A message of a ticket, either way; `id` is the cursor of the polling API."""

    __tablename__ = "ticket_messages"
    __table_args__ = (
        CheckConstraint(_in_list("direction", DIRECTIONS), name="direction"),
        CheckConstraint(_in_list("delivery_status", DELIVERY_STATUSES), name="delivery_status"),
    )

    id = Column(Integer, primary_key=True)
    ticket_id = Column(String(20), ForeignKey("tickets.id"), nullable=False, index=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    direction = Column(String(8), nullable=False)
    text = Column(Text, nullable=False)
    staff_id = Column(Integer, ForeignKey("users.id"), nullable=True)
    staff_name = Column(String(64), nullable=True)
    staff_department = Column(String(64), nullable=True)
    staff_number = Column(String(32), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    delivery_status = Column(String(16), nullable=False, default="pending")
    delivery_error = Column(Text, nullable=True)


class TicketEvent(Base):
    """Append-only audit log: who did what to which ticket, when and from where."""

    __tablename__ = "ticket_events"

    id = Column(Integer, primary_key=True)
    ticket_id = Column(String(20), ForeignKey("tickets.id"), nullable=False, index=True)
    actor_id = Column(Integer, ForeignKey("users.id"), nullable=True)
    actor_name = Column(String(64), nullable=False)
    action = Column(String(32), nullable=False)
    detail = Column(JSON, nullable=False, default=dict)
    remote_addr = Column(String(64), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class ExtensionRequest(Base):
    """A request to extend a ticket's resolution deadline, decided by a lead or supervisor."""

    __tablename__ = "extension_requests"
    __table_args__ = (
        CheckConstraint(_in_list("status", EXTENSION_STATUSES), name="status"),
        CheckConstraint("days >= 1", name="days"),
    )

    id = Column(Integer, primary_key=True)
    ticket_id = Column(String(20), ForeignKey("tickets.id"), nullable=False, index=True)
    requested_by = Column(Integer, ForeignKey("users.id"), nullable=False)
    reason = Column(Text, nullable=False)
    days = Column(Integer, nullable=False)
    status = Column(String(16), nullable=False, default="pending")
    decided_by = Column(Integer, ForeignKey("users.id"), nullable=True)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    decided_at = Column(UTCDateTime, nullable=True)


class WebSession(Base):
    """A server-side console session; `id` is the random token in the cookie."""

    __tablename__ = "web_sessions"

    id = Column(String(64), primary_key=True)
    user_id = Column(Integer, ForeignKey("users.id"), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = Column(UTCDateTime, nullable=False)
    remote_addr = Column(String(64), nullable=True)

    user = relationship("User", lazy="joined")


class LoginAttempt(Base):
    """One login attempt, for the rate limit (failures per username and address)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_lookup", "username", "remote_addr", "created_at"),)

    id = Column(Integer, primary_key=True)
    username = Column(String(64), nullable=False)
    remote_addr = Column(String(64), nullable=False)
    succeeded = Column(Boolean, nullable=False)
    created_at = Column(UTCDateTime, nullable=False, default=utcnow)


class TicketCounter(Base):
    """The last ticket number handed out on a day (Asia/Shanghai), for HZ-YYYYMMDD-NNNN."""

    __tablename__ = "ticket_counters"

    day = Column(String(8), primary_key=True)
    last = Column(Integer, nullable=False)
