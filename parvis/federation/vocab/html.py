"""HTML received from other servers, made safe to show, and made plain for text channels.

Remote ``content``, ``summary`` and ``name`` fields are HTML written by strangers. They
are shown on Parvis's public pages, in Mastodon apps and in the back-office, so they go
through :func:`sanitise_html` before anything stores or renders them. The rules are the
ones Mastodon applies to remote HTML (its ``MASTODON_STRICT`` sanitizer config), because
every remote server formats its posts for Mastodon and every Mastodon app expects what
Mastodon keeps:

- elements: ``p br span a del s pre blockquote code b strong u i em ul ol li`` and the
  ruby annotation elements; headings ``h1``–``h6`` become ``<p><strong>…</strong></p>``;
  any other element is removed and its text kept, except the elements whose content is
  code, styling, embedded documents or foreign markup (``script``, ``style``, ``iframe``,
  ``svg``, ``math``, ``template``…), which are removed with everything inside them;
- attributes: ``lang`` anywhere, ``href class translate`` on links, ``class translate``
  on ``span``, ``class`` on ``p``, ``start reversed`` on ``ol``, ``value`` on ``li``;
  everything else (``style``, ``on*`` handlers, ``src``, ``title``…) is dropped;
- classes: the microformats ones (``h-card``, ``u-url``, ``p-name``…) and the few that
  Mastodon's own HTML relies on (``mention``, ``hashtag``, ``invisible``, ``ellipsis``,
  ``quote-inline``); any other class could pick up Parvis's own styles;
- links: absolute URLs with a scheme from :data:`LINK_SCHEMES` only; a link without one
  is replaced by its text. Every link gets ``rel="nofollow noopener noreferrer"`` and
  ``target="_blank"`` whatever the sender wrote.

The parsing is nh3's (ammonia and html5ever: the HTML5 parsing algorithm browsers use).
This module chooses the rules, renames a few tags before parsing so that hostile
nesting cannot make the parser's work explode, and rewrites the parser's well-formed
output into a tree that a browser parses back as it is.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser
from typing import Any

import nh3

MAX_HTML_BYTES = 100_000
"""Largest HTML accepted, in UTF-8 bytes. Mastodon caps a post at 500 characters by
default; this leaves room for long articles from forum and blog software. Beyond it, the
document is refused rather than cut, so that no half of a post is shown as if it were
the whole."""

BYTES_PER_TAG = 10
"""With ``max_bytes``, at most ``max_bytes // BYTES_PER_TAG`` tags (10,000 by default).
The HTML parser searches its stack of open elements at many tags, so its work on hostile
nesting grows with the square of the number of tags; this cap keeps the worst case found
under a second. The densest real posts in the test data hold one tag per 22 bytes."""

ALLOWED_TAGS = frozenset(
    {
        "p",
        "br",
        "span",
        "a",
        "del",
        "s",
        "pre",
        "blockquote",
        "code",
        "b",
        "strong",
        "u",
        "i",
        "em",
        "ul",
        "ol",
        "li",
        "ruby",
        "rt",
        "rp",
    }
)
"""Elements that may appear in sanitised HTML."""

HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

DISCARDED_TAGS = frozenset(
    {
        # Code and styling.
        "script",
        "style",
        # Embedded documents and plug-ins.
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        # Foreign markup: its own parsing rules are where mutation XSS lives.
        "svg",
        "math",
        # Raw-text and inert containers: their "text" is markup that a second parse, or a
        # browser with scripting disabled, would read as elements (CVE-2026-44990, xmp).
        "template",
        "noscript",
        "noembed",
        "noframes",
        "xmp",
        "plaintext",
        "textarea",
        "title",
        "select",
    }
)
"""Elements removed together with everything inside them."""

ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    tag: frozenset({"lang"}) for tag in ALLOWED_TAGS
} | {
    "a": frozenset({"lang", "href", "class", "translate", "rel", "target"}),
    "span": frozenset({"lang", "class", "translate"}),
    "p": frozenset({"lang", "class"}),
    "ol": frozenset({"lang", "start", "reversed"}),
    "li": frozenset({"lang", "value"}),
}
"""Attributes that may appear on each element of sanitised HTML."""

LINK_SCHEMES = frozenset(
    {
        "http",
        "https",
        "mailto",
        # Non-web protocols Mastodon links too; none of them runs code in a browser.
        "dat",
        "dweb",
        "ipfs",
        "ipns",
        "ssb",
        "gopher",
        "xmpp",
        "magnet",
        "gemini",
    }
)
"""URL schemes a link may use; ``javascript:``, ``data:``, ``vbscript:`` and relative
URLs are not among them."""

LINK_REL = "nofollow noopener noreferrer"

_SEMANTIC_CLASSES = frozenset({"mention", "hashtag", "invisible", "ellipsis", "quote-inline"})
_MICROFORMAT_CLASS = re.compile(r"(?:h|p|u|dt|e)-[a-z0-9]+(?:-[a-z0-9]+)*")
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_INTEGER = re.compile(r"-?[0-9]{1,9}")
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# What a browser strips from a URL before reading its scheme (WHATWG URL standard).
_URL_EDGE = "".join(chr(c) for c in range(0x21))
_URL_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
# The rewritten tree nearly always parses back as itself; where it does not (the parser
# drops a newline right after <pre>), another pass reparses it. Two passes have always
# been enough in the property tests.
_MAX_PASSES = 4
_SURROGATE = re.compile("[\ud800-\udfff]")


class HtmlTooLarge(ValueError):
    """HTML larger than the accepted size: it is refused whole, never cut."""


def link_scheme(url: str) -> str | None:
    """The lower-cased scheme of ``url`` as a browser reads it, or None for a relative URL.

    Browsers ignore leading and trailing control characters and spaces and every tab or
    newline inside a URL, so ``" JaVa\\tScRiPt:"`` is ``javascript``; entities are
    already decoded by the HTML parser when this sees an attribute value.
    """
    cleaned = _URL_TAB_OR_NEWLINE.sub("", url.strip(_URL_EDGE))
    match = _URL_SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


def _allowed_classes(value: str) -> str | None:
    kept: list[str] = []
    for name in value.split():
        if (name in _SEMANTIC_CLASSES or _MICROFORMAT_CLASS.fullmatch(name)) and name not in kept:
            kept.append(name)
    return " ".join(kept) or None


def _filter_attribute(element: str, attribute: str, value: str) -> str | None:
    # Called by nh3 for attributes it has already allowed by name; this narrows values.
    # Returning None drops the attribute.
    if attribute == "class":
        return _allowed_classes(value)
    if attribute == "lang":
        return value if _LANGUAGE_TAG.fullmatch(value) else None
    if attribute in ("start", "value"):
        return value if _INTEGER.fullmatch(value) else None
    if attribute == "reversed":
        return ""
    if attribute == "href":
        # nh3 checks the scheme too; checking here as well keeps the guarantee of this
        # module independent of how the URL library underneath reads odd spellings.
        return value if link_scheme(value) in LINK_SCHEMES else None
    return value


# The HTML parser treats these elements specially (the "active formatting elements"):
# when a block closes them early, it reopens a copy of each before every following piece
# of text. With many distinct unclosed ones, that turns 60 kB of input into hundreds of
# megabytes of tree. Parsed first under inert names, they are plain elements; the tree
# is then rewritten well nested (see _Rewriter), where no reopening ever happens.
_FORMATTING_TAGS = frozenset(
    {
        "a",
        "b",
        "big",
        "code",
        "em",
        "font",
        "i",
        "nobr",
        "s",
        "small",
        "strike",
        "strong",
        "tt",
        "u",
    }
)
_INERT = "parvis-inert-"
_FORMATTING_TAG = re.compile(
    r"<(/?)(" + "|".join(sorted(_FORMATTING_TAGS)) + r")(?=[\t\n\f\r />]|\Z)",
    re.IGNORECASE | re.ASCII,
)
# In nh3's output "<" is escaped everywhere but in tags: these are the renamed tags, and
# the renamed text of attribute values, which is restored too.
_INERT_NAME = re.compile(r"(<|&lt;)(/?)" + _INERT)


def _nh3_options(*, first: bool) -> dict[str, Any]:
    tags = set(ALLOWED_TAGS)
    attributes = {tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()}
    if first:
        # Headings carry no attribute: they become <p><strong> in _Rewriter.
        tags |= HEADING_TAGS
        attributes |= {tag: set() for tag in HEADING_TAGS}
        for tag in ALLOWED_TAGS & _FORMATTING_TAGS:
            tags.remove(tag)
            tags.add(_INERT + tag)
            attributes[_INERT + tag] = attributes.pop(tag)
    translated = {tag: {"translate": {"no"}} for tag in ("a", "span", _INERT + "a")}
    for names in attributes.values():
        # Set or value-restricted by other options below, which nh3 refuses to share
        # with this list.
        names -= {"rel", "target", "translate"}
    return {
        "tags": tags,
        "clean_content_tags": set(DISCARDED_TAGS),
        # "*" empty: otherwise ammonia keeps its default attributes of every element.
        "attributes": attributes | {"*": set()},
        "attribute_filter": _filter_attribute,
        "strip_comments": True,
        "link_rel": LINK_REL,
        "tag_attribute_values": translated,
        "set_tag_attribute_values": {"a": {"target": "_blank"}},
        "url_schemes": set(LINK_SCHEMES),
        "url_relative": "deny",
    }


_FIRST_PASS = _nh3_options(first=True)
_FINAL_PASS = _nh3_options(first=False)


def _first_pass(html: str) -> str:
    inert = nh3.clean(_FORMATTING_TAG.sub(rf"<\1{_INERT}\2", html), **_FIRST_PASS)
    return _INERT_NAME.sub(r"\1\2", inert)


def _final_pass(html: str) -> str:
    return nh3.clean(html, **_FINAL_PASS)


# Elements that the HTML parser closes an open <p> for; those that stop its search for
# an open <li> to close (the "special" ones of the allowed set); those it closes when a
# ruby annotation starts.
_BLOCK_TAGS = frozenset({"p", "pre", "blockquote", "ul", "ol", "li"} | HEADING_TAGS)
_LIST_ITEM_BARRIERS = frozenset({"pre", "blockquote", "ul", "ol"})
_CLOSED_BY_ANNOTATION = frozenset({"p", "li", "rt", "rp"})


class _Open:
    """An element open in the rewritten output, with the nearest p, a, li, ruby under it."""

    __slots__ = ("end", "li", "link", "paragraph", "ruby", "tag")

    def __init__(self, tag: str, end: str, below: _Open | None, index: int) -> None:
        self.tag = tag
        self.end = end
        self.paragraph = index if tag in ("p", *HEADING_TAGS) else below.paragraph if below else -1
        self.link = index if tag == "a" else below.link if below else -1
        self.ruby = index if tag == "ruby" else below.ruby if below else -1
        if tag == "li":
            self.li = index
        else:
            self.li = -1 if tag in _LIST_ITEM_BARRIERS or not below else below.li


class _Rewriter(HTMLParser):
    """Rewrites the first pass's output into well-nested HTML of the allowed elements.

    - headings become ``<p><strong>``, as Mastodon shows them;
    - a link whose URL was refused (nh3 keeps the ``<a>``, without ``href``) becomes
      its content;
    - where the HTML parser would close elements implicitly (a block opened inside a
      ``<p>``, an ``<li>`` inside an ``<li>``, a link inside a link, a paragraph under a
      ruby annotation), they are closed here, explicitly. Such trees come from removing
      elements (a ``<p>`` inside a ``<button>`` inside a ``<p>``) or from the inert
      formatting names; reparsed as they are, they would change shape, and could make
      the parser reopen formatting elements over and over.

    nh3's output is well-formed (every element closed, attributes quoted, ``<`` always
    escaped outside tags), so a tag-level pass is exact; everything but the rewritten
    tags is copied byte for byte. Each element is closed once, so the pass is linear.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.out: list[str] = []
        self._open: list[_Open] = []  # the output's open elements
        self._source: list[_Open | None] = []  # the input's; None: not in the output

    def _top(self) -> _Open | None:
        return self._open[-1] if self._open else None

    def close_to(self, index: int) -> None:
        """Close the output's open elements down to the ``index``-th, included."""
        while len(self._open) > index:
            element = self._open.pop()
            self.out.append(element.end)
            element.end = ""  # closed here: its own end tag is dropped

    def _close_implicitly_closed(self, tag: str) -> None:
        top = self._top()
        if top and tag in _BLOCK_TAGS and top.paragraph >= 0:
            self.close_to(top.paragraph)
        elif top and tag == "a" and top.link >= 0:
            self.close_to(top.link)
        top = self._top()
        if top and tag == "li" and top.li >= 0:
            self.close_to(top.li)
        if tag in ("rt", "rp"):
            while (top := self._top()) and top.ruby >= 0 and top.tag in _CLOSED_BY_ANNOTATION:
                self.close_to(len(self._open) - 1)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.out.append(self.get_starttag_text() or "")
            return
        if tag == "a" and not any(name == "href" for name, _value in attrs):
            self._source.append(None)
            return
        self._close_implicitly_closed(tag)
        if tag in HEADING_TAGS:
            self.out.append("<p><strong>")
            end = "</strong></p>"
        else:
            self.out.append(self.get_starttag_text() or "")
            end = f"</{tag}>"
        element = _Open(tag, end, self._top(), len(self._open))
        self._open.append(element)
        self._source.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag != "br":
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "br" or not self._source:
            return
        element = self._source.pop()
        if element is not None and element.end:
            # Still open, hence on top: its children were closed before it.
            self.close_to(len(self._open) - 1)

    def handle_data(self, data: str) -> None:
        self.out.append(data)

    def handle_entityref(self, name: str) -> None:
        self.out.append(f"&{name};")

    def handle_charref(self, name: str) -> None:
        self.out.append(f"&#{name};")


def _rewrite(html: str) -> str:
    rewriter = _Rewriter()
    rewriter.feed(html)
    rewriter.close()
    rewriter.close_to(0)
    return "".join(rewriter.out)


_TAG = re.compile(r"</?[A-Za-z]")


def _check_size(text: str, max_bytes: int | None) -> None:
    if max_bytes is None:
        return
    # A str holds at most as many characters as its UTF-8 form has bytes: the length
    # check refuses huge inputs without encoding them.
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise HtmlTooLarge(f"HTML of more than {max_bytes} bytes is refused")
    # Counts every "<" and a letter, which is how each tag starts; the few that are in
    # comments or attribute values only make the count err on the safe side.
    max_tags = max_bytes // BYTES_PER_TAG
    if text.count("<") > max_tags and len(_TAG.findall(text)) > max_tags:
        raise HtmlTooLarge(f"HTML of more than {max_tags} tags is refused")


def sanitise_html(text: str, *, max_bytes: int | None = MAX_HTML_BYTES) -> str:
    """Remote HTML made safe to show, by Mastodon's rules for remote HTML.

    Returns an HTML fragment holding only the elements, attributes, classes and link
    schemes this module allows (see the module documentation); the text of removed
    elements is kept, except inside script, style, embedded and foreign elements.
    Sanitising is idempotent: ``sanitise_html(sanitise_html(x)) == sanitise_html(x)``.

    Raises :class:`HtmlTooLarge` when ``text`` is over ``max_bytes`` UTF-8 bytes or
    holds more than ``max_bytes // BYTES_PER_TAG`` tags. The output can be longer than
    the input (escaped characters, link attributes): HTML that this function produced,
    stored and read again, is passed with ``max_bytes=None``, no limit.
    """
    _check_size(text, max_bytes)
    # JSON may carry lone surrogates ("\\ud800"), which are not text and which nh3 cannot
    # take; browsers show U+FFFD for them.
    text = _SURROGATE.sub("\ufffd", text)
    html = _rewrite(_first_pass(text))
    for _ in range(_MAX_PASSES):
        again = _final_pass(html)
        if again == html:
            return html
        html = again
    # Never seen: markup that keeps changing when reparsed. Its text alone is safe.
    return _final_pass(_paragraphs(_text_of(html)))


def plain_text(html: str, *, max_bytes: int | None = MAX_HTML_BYTES) -> str:
    """The text of remote (or already sanitised) HTML, for search, notifications and SMS.

    The HTML is sanitised first, so the content of scripts, styles and other discarded
    elements never reaches the text. Paragraphs, headings, quotes, lists and ``pre``
    blocks are separated by a blank line, list items and ``<br>`` by a line break (at
    most one blank line in a row); other whitespace collapses to single spaces except
    inside ``pre``; entities are decoded. Link text is kept whole, including the parts
    Mastodon hides visually (``<span class="invisible">https://</span>``).

    Raises :class:`HtmlTooLarge` as :func:`sanitise_html` does; pass ``max_bytes=None``
    for HTML that :func:`sanitise_html` produced, which may be over the input limits.
    """
    return _text_of(sanitise_html(html, max_bytes=max_bytes))


def _paragraphs(text: str) -> str:
    blocks = [block for block in text.split("\n\n") if block.strip()]
    return "".join(
        "<p>" + escape(block, quote=False).replace("\n", "<br>") + "</p>" for block in blocks
    )


_PARAGRAPH_TAGS = frozenset({"p", "pre", "blockquote", "ul", "ol"} | HEADING_TAGS)


class _TextExtractor(HTMLParser):
    """Text of sanitised HTML, with line breaks where the blocks were."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._pending = 0  # line breaks owed before the next text
        self._after_space = True  # at a line start or after a space: drop leading spaces
        self._pre = 0

    def _break(self, count: int) -> None:
        self._pending = max(self._pending, count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            # Each <br> is a line break, but a run of them stops at one blank line: a
            # notification or an SMS has no room for the spacing of a profile page.
            self._pending = min(self._pending + 1, 2)
        elif tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag == "li":
            self._break(1)
        if tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _PARAGRAPH_TAGS:
            self._break(2)
        elif tag == "li":
            self._break(1)
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if not self._pre:
            data = _HTML_SPACE.sub(" ", data)
            if self._after_space or self._pending:
                data = data.lstrip(" ")
        if not data:
            return
        if self._pending and self.parts:
            self.parts.append("\n" * self._pending)
        self._pending = 0
        self.parts.append(data)
        self._after_space = data[-1] in " \n"


def _text_of(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = "".join(extractor.parts).split("\n")
    return "\n".join(line.rstrip(" ") for line in lines).strip("\n")
