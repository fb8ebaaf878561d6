"""Plain text to the HTML the Fediverse expects, and text folding for search.

Post text is written as plain text. Rendering links URLs, #hashtags and
@mentions the way Mastodon does (same classes and attributes), so that every
client and server shows Parvis posts as it shows Mastodon's. Everything else is
escaped: the output holds no markup the author typed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from html import escape

from linkify_it import LinkifyIt

_linkify = LinkifyIt(options={"fuzzy_link": False, "fuzzy_email": False, "fuzzy_ip": False})

# Characters NFKD does not decompose but that French names use.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "oe", "æ": "ae", "Æ": "ae", "ß": "ss"})

HASHTAG_RE = re.compile(r"(?<![\w/#&])#(\w*[^\W\d_]\w*)", re.UNICODE)
MENTION_RE = re.compile(
    r"(?<![\w/\\@])@([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?)(?:@((?:[a-z0-9-]+\.)+[a-z0-9-]+))?",
    re.IGNORECASE,
)
URL_WEIGHT = 23
_DISPLAY_URL_LENGTH = 30


def fold(text: str) -> str:
    """Lower-case ``text`` and strip its accents (``Élodie`` → ``elodie``)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalize_hashtag(name: str) -> str:
    """The form under which a hashtag is stored and looked up (case and accents folded)."""
    return fold(name)


@dataclass
class Mention:
    handle: str
    domain: str | None
    url: str | None


@dataclass
class Rendered:
    html: str
    hashtags: list[str] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    kind: str
    groups: tuple[str | None, ...]


def _tokens(line: str) -> list[_Token]:
    found: list[_Token] = []
    for match in _linkify.match(line) or []:
        if match.schema.lower() in ("http:", "https:"):
            found.append(_Token(match.index, match.last_index, "url", (match.url,)))
    for m in HASHTAG_RE.finditer(line):
        found.append(_Token(m.start(), m.end(), "tag", (m.group(1),)))
    for m in MENTION_RE.finditer(line):
        found.append(_Token(m.start(), m.end(), "mention", (m.group(1), m.group(2))))
    found.sort(key=lambda t: (t.start, -t.end))
    kept: list[_Token] = []
    last_end = -1
    for token in found:
        if token.start >= last_end:
            kept.append(token)
            last_end = token.end
    return kept


def _link_html(url: str) -> str:
    match = re.match(r"^(https?://(?:www\.)?)(.*)$", url, re.IGNORECASE)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", url)
    shown, hidden = rest[:_DISPLAY_URL_LENGTH], rest[_DISPLAY_URL_LENGTH:]
    ellipsis = " ellipsis" if hidden else ""
    return (
        f'<a href="{escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{escape(prefix)}</span>'
        f'<span class="{ellipsis.strip()}">{escape(shown)}</span>'
        f'<span class="invisible">{escape(hidden)}</span></a>'
    ).replace('<span class="">', "<span>")


def render(
    text: str,
    *,
    tag_url: Callable[[str], str],
    mention_url: Callable[[str, str | None], str | None],
) -> Rendered:
    """Render plain ``text`` to Mastodon-compatible HTML.

    ``tag_url(name)`` gives the page of a hashtag; ``mention_url(handle, domain)``
    gives the profile of a mentioned account, or None when it is unknown (the
    mention then stays plain text).
    """
    result = Rendered(html="")
    seen_tags: set[str] = set()
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip().replace("\r\n", "\n")) if p.strip()]
    html_paragraphs = []
    for paragraph in paragraphs:
        lines = []
        for line in paragraph.split("\n"):
            out: list[str] = []
            cursor = 0
            for token in _tokens(line):
                out.append(escape(line[cursor : token.start], quote=False))
                source = line[token.start : token.end]
                if token.kind == "url":
                    out.append(_link_html(token.groups[0] or source))
                elif token.kind == "tag":
                    name = token.groups[0] or ""
                    key = normalize_hashtag(name)
                    if key not in seen_tags:
                        seen_tags.add(key)
                        result.hashtags.append(name)
                    out.append(
                        f'<a href="{escape(tag_url(key))}" class="mention hashtag" rel="tag">'
                        f"#<span>{escape(name)}</span></a>"
                    )
                else:
                    handle, domain = token.groups
                    url = mention_url(handle or "", domain)
                    if url is None:
                        out.append(escape(source, quote=False))
                        continue
                    result.mentions.append(Mention(handle or "", domain, url))
                    out.append(
                        f'<span class="h-card" translate="no"><a href="{escape(url)}" '
                        f'class="u-url mention">@<span>{escape(handle or "")}</span></a></span>'
                    )
                cursor = token.end
            out.append(escape(line[cursor:], quote=False))
            lines.append("".join(out))
        html_paragraphs.append("<p>" + "<br />".join(lines) + "</p>")
    result.html = "".join(html_paragraphs)
    return result


def weighted_length(text: str) -> int:
    """Length of a post as Mastodon counts it: a link weighs 23, a mention its handle only."""
    length = len(text)
    for match in _linkify.match(text) or []:
        if match.schema.lower() in ("http:", "https:"):
            length -= (match.last_index - match.index) - URL_WEIGHT
    for m in MENTION_RE.finditer(text):
        if m.group(2):
            length -= len(m.group(2)) + 1
    return length
