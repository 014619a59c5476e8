"""Rasa's REST replies as WeChat text messages.

WeChat shows plain text only: no buttons, and about 2,048 bytes per message (passive reply or
customer-service message). Buttons become numbered options ("回复数字选择：1. … 2. …"); the bridge
remembers their payloads per openid so that a reply "2" sends the second button's payload to Rasa.
Machine-readable `custom` payloads (procedure_answer, clarify, handoff_*) carry no text of their own
and are left out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List

from bot.wechat import texts

MAX_TEXT_BYTES = 2048
# Where a long text is best cut, most preferred first.
_SEPARATORS = ("\n\n", "\n", "。", "；", "，", " ")
_CHOICE = re.compile(r"(\d{1,2})[.。、]?")


@dataclass
class RenderedReply:
    """The text to send, already split to WeChat's size, and the payload of each numbered option."""

    chunks: List[str] = field(default_factory=list)
    payloads: List[str] = field(default_factory=list)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _prefix_within(text: str, limit: int) -> int:
    """Number of characters of `text` whose UTF-8 encoding fits in `limit` bytes."""
    used = 0
    for index, char in enumerate(text):
        used += utf8_len(char)
        if used > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT_BYTES) -> List[str]:
    """Cut `text` into pieces of at most `limit` UTF-8 bytes, at a paragraph, line or sentence end
    when one lies in the second half of a piece, never inside a character."""
    chunks: List[str] = []
    rest = text.strip()
    while rest:
        if utf8_len(rest) <= limit:
            chunks.append(rest)
            break
        end = max(1, _prefix_within(rest, limit))
        cut = end
        for separator in _SEPARATORS:
            position = rest.rfind(separator, 0, end)
            if position >= end // 2:
                cut = position + len(separator)  # rfind keeps the whole separator within `end`
                break
        piece = rest[:cut].strip()
        if piece:
            chunks.append(piece)
        rest = rest[cut:].strip()
    return chunks


def render(messages: Iterable[Dict[str, Any]], limit: int = MAX_TEXT_BYTES) -> RenderedReply:
    """Join the texts of Rasa's messages, number the buttons, and split the whole to WeChat's size."""
    blocks: List[str] = []
    payloads: List[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        text = message.get("text")
        if isinstance(text, str) and text.strip():
            blocks.append(text.strip())
        image = message.get("image")
        if isinstance(image, str) and image.strip():
            blocks.append(image.strip())
        buttons = message.get("buttons")
        if isinstance(buttons, list):
            lines = []
            for button in buttons:
                if not isinstance(button, dict):
                    continue
                title, payload = button.get("title"), button.get("payload")
                if not isinstance(title, str) or not isinstance(payload, str):
                    continue
                payloads.append(payload)
                lines.append(f"{len(payloads)}. {title}")
            if lines:
                blocks.append(texts.OPTIONS_HEADER + "\n" + "\n".join(lines))
    return RenderedReply(chunks=split_text("\n\n".join(blocks), limit), payloads=payloads)


def parse_choice(text: str, count: int) -> int | None:
    """The 0-based option a reply such as "2", "２" or "2." picks among `count` options, else None."""
    match = _CHOICE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    number = int(match.group(1))
    return number - 1 if 1 <= number <= count else None
