"""Sanitising remote HTML (checklist R5): an XSS corpus, a property over generated HTML,
and the real content of other servers.

Every output is read back with html5lib, a parser independent of the one nh3 uses, as a
browser would read it: a construct one parser hides and the other sees is the mutation
XSS this guards against.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import html5lib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parvis.federation.vocab import html as html_module
from parvis.federation.vocab.html import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    BYTES_PER_TAG,
    LINK_REL,
    LINK_SCHEMES,
    MAX_HTML_BYTES,
    HtmlTooLarge,
    link_scheme,
    plain_text,
    sanitise_html,
)

XHTML = "{http://www.w3.org/1999/xhtml}"
ALLOWED_CLASS = re.compile(
    r"(?:h|p|u|dt|e)-[a-z0-9-]+|mention|hashtag|invisible|ellipsis|quote-inline"
)
# Element names that must never come out as elements; in text, "<" is always escaped, so
# "<name" in the output can only be a tag.
FORBIDDEN_TAG_NAMES = (
    "script",
    "style",
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "img",
    "form",
    "input",
    "button",
    "meta",
    "base",
    "link",
    "template",
    "noscript",
    "textarea",
    "title",
    "xmp",
    "body",
    "video",
    "audio",
    "details",
    "marquee",
    "image",
    "animate",
    "set",
    "use",
    "mglyph",
    "table",
)


def browser_scheme(url: str) -> str | None:
    """The scheme a browser reads in ``url``, written independently of the module."""
    cleaned = "".join(c for c in url.strip("".join(map(chr, range(33)))) if c not in "\t\n\r")
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else None


def elements(html: str) -> Iterator[Element]:
    fragment = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=True)
    for element in fragment.iter():
        if element is not fragment:
            yield element


def violations(html: str) -> list[str]:
    """Everything in ``html`` that breaks the allow-lists, as a browser parses it."""
    found: list[str] = []
    for element in elements(html):
        if not isinstance(element.tag, str):
            found.append(f"comment or processing instruction {element.text!r}")
            continue
        if not element.tag.startswith(XHTML):
            found.append(f"foreign element {element.tag}")
            continue
        tag = element.tag.removeprefix(XHTML)
        if tag not in ALLOWED_TAGS:
            found.append(f"element {tag}")
            continue
        for name, value in element.attrib.items():
            if name not in ALLOWED_ATTRIBUTES[tag]:
                found.append(f"attribute {name} on {tag}")
            if name == "class" and not all(ALLOWED_CLASS.fullmatch(c) for c in value.split()):
                found.append(f"class {value!r}")
        if tag == "a":
            if browser_scheme(element.get("href", "")) not in LINK_SCHEMES:
                found.append(f"href {element.get('href')!r}")
            if element.get("rel") != LINK_REL or element.get("target") != "_blank":
                found.append(f"link rel={element.get('rel')!r} target={element.get('target')!r}")
    lowered = html.lower()
    found.extend(f"<{name}" for name in FORBIDDEN_TAG_NAMES if re.search(f"<{name}\\b", lowered))
    return found


def assert_safe(html: str) -> str:
    """Sanitise ``html``, check the result, and return it."""
    out = sanitise_html(html)
    assert violations(out) == [], (html, out)
    assert sanitise_html(out) == out, (html, out)
    return out


# --- XSS corpus ----------------------------------------------------------------------

SCRIPTS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<script>/*</script><img src=x onerror=alert(1)>*/</script>",
    '<script type="text/plain"><img src=x onerror=alert(1)></script>',
    "<<script>alert(1);//<</script>",
]
EVENT_HANDLERS = [
    "<img src=x onerror=alert(1)>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    '<p onclick="alert(1)" onmouseover=alert(1)>x</p>',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<input onfocus=alert(1) autofocus>",
    "<select autofocus onfocus=alert(1)><option>x</option></select>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    '<a href="https://ok.example/" onclick="alert(1)" style="color:red">ok</a>',
    '<span lang="fr" onpointerenter="alert(1)" translate=no>x</span>',
    '<a href="https://ok.example/"\tonclick=alert(1)>x</a>',
    '<a href="https://ok.example/"/onclick=alert(1)>x</a>',
]
DANGEROUS_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "\x01javascript:alert(1)",
    "&#1;javascript:alert(1)",
    "&#x20;javascript:alert(1)",
    "java&#x09;script:alert(1)",
    "java&#x0A;script:alert(1)",
    "java&#13;script:alert(1)",
    "jav&NewLine;ascript:alert(1)",
    "jav&Tab;ascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
    "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
    "&#0000106&#0000097vascript:alert(1)",
    "javascript&colon;alert(1)",
    "javascript&#58;alert(1)",
    "javascript&#0000058alert(1)",
    "javascript://%0aalert(1)",
    "\u2028javascript:alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "DATA:text/html,<script>alert(1)</script>",
    "data:image/svg+xml,<svg onload=alert(1)>",
    " d\tata:text/html,x",
    "vbscript:msgbox(1)",
    "VbScRiPt:msgbox(1)",
    "livescript:alert(1)",
    "file:///etc/passwd",
    "//evil.example/",
    "/relative/path",
]
SVG_AND_MATHML = [
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">x</text></a></svg>',
    "<svg><animate attributeName=href values=javascript:alert(1) /><a><text>x</text></a></svg>",
    '<svg><foreignObject><iframe srcdoc="<script>alert(1)</script>"></iframe></foreignObject>',
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<svg><![CDATA[</svg><img src=x onerror=alert(1)>]]></svg>",
    "<svg><desc><img src=x onerror=alert(1)></desc></svg>",
    "<svg><use href=data:image/svg+xml,&lt;svg id='x' onload='alert(1)'&gt;#x></use></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math><maction actiontype="statusline" xlink:href="javascript:alert(1)">x</maction></math>',
    '<math><annotation-xml encoding="text/html"><img src=x onerror=alert(1)></annotation-xml>',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "<math><mi xlink:href=javascript:alert(1)>x</mi></math>",
]
EMBEDS_AND_FORMS = [
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<style>@import 'https://evil.example/x.css';</style>",
    '<p style="background:expression(alert(1))">x</p>',
    '<span style="width: expression(alert(1))">x</span>',
    '<div style="background-image: url(javascript:alert(1))">x</div>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    "<iframe><img src=x onerror=alert(1)></iframe>",
    '<object data="javascript:alert(1)"><param name=x value=y></object>',
    "<object><img src=x onerror=alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    '<form action="javascript:alert(1)"><button formaction=javascript:alert(1)>x</button></form>',
    '<isindex action="javascript:alert(1)" type="image">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0; url=https://evil.example/">',
    '<base href="javascript:/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    "<table><caption><svg><style><img src=x onerror=alert(1)>",
]
PARSER_TRICKS = [
    # Unclosed tags and attributes.
    "<img src=x onerror=alert(1)",
    '<a href="javascript:alert(1)',
    '<p title="x><script>alert(1)</script>',
    "<p><b><i>unclosed",
    "<a href='https://ok.example/",
    # Quotes inside and around values.
    "<a href='https://ok.example/\"onmouseover=\"alert(1)'>x</a>",
    '<a href="https://ok.example/"onmouseover="alert(1)">x</a>',
    "<a href=https://ok.example/ onmouseover=alert(1)>x</a>",
    "<a href=`javascript:alert(1)`>x</a>",
    '<span class="mention" lang="fr&quot; onload=&quot;alert(1)">x</span>',
    # Comments, CDATA and processing instructions.
    "<!--<script>alert(1)</script>-->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!-- a --!><img src=x onerror=alert(1)>-->",
    "<!--[if IE]><script>alert(1)</script><![endif]-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<?xml-stylesheet href="javascript:alert(1)"?>',
    "<!DOCTYPE html><script>alert(1)</script>",
    # Raw-text and inert containers whose text is markup.
    "<template><script>alert(1)</script><img src=x onerror=alert(1)></template>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<noscript><img src=x onerror=alert(1)></noscript>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<title><img src=x onerror=alert(1)></title>",
    "<noembed><img src=x onerror=alert(1)></noembed>",
    "<noframes><img src=x onerror=alert(1)></noframes>",
    "<plaintext><img src=x onerror=alert(1)>",
    # Mutations through nesting the parser repairs.
    "<p><button><p>x</p></button></p>",
    "<a href=https://a.example/><table><a href=javascript:alert(1)>x</a></table></a>",
    "<ul><li><p>a</p><p>b</p></li><li>c</li></ul>",
    "<h1><p>x</p></h1><h2><span><h3>y</h3></span></h2>",
    "<p>a\x00b</p>",
]
CORPUS = (
    SCRIPTS
    + EVENT_HANDLERS
    + [f'<a href="{url}">x</a>' for url in DANGEROUS_URLS]
    + [f"<A HREF='{url}' CLASS='mention'>x</A>" for url in DANGEROUS_URLS]
    + [f"<a href={url.replace(' ', '')}>x</a>" for url in DANGEROUS_URLS]
    + SVG_AND_MATHML
    + EMBEDS_AND_FORMS
    + PARSER_TRICKS
)


@pytest.mark.parametrize("html", CORPUS)
def test_xss_corpus_leaves_nothing_executable(html: str) -> None:
    out = assert_safe(html)
    for element in elements(out):
        assert not any(name.startswith("on") or name == "style" for name in element.attrib)
    assert "alert(1)</script" not in out
    assert "onerror=" not in out and "onerror =" not in out


def test_corpus_is_large() -> None:
    assert len(CORPUS) >= 150


@pytest.mark.parametrize("url", DANGEROUS_URLS)
def test_a_link_with_a_refused_url_becomes_its_text(url: str) -> None:
    out = sanitise_html(f'<p>see <a href="{url}" class="mention">this <b>link</b></a>.</p>')
    assert out == "<p>see this <b>link</b>.</p>"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<script>alert(1)</script>ok", "ok"),
        ("<style>p{color:red}</style><p>ok</p>", "<p>ok</p>"),
        ("<iframe>fallback</iframe>ok", "ok"),
        ("<svg><text>drawn</text></svg>ok", "ok"),
        ("<math><mi>x</mi></math>ok", "ok"),
        ("<template><p>later</p></template>ok", "ok"),
        ("<noscript>no js</noscript>ok", "ok"),
        ("<form><label>name</label></form>", "name"),
        ("<div><section>kept text</section></div>", "kept text"),
        ("<img src=x alt=picture>", ""),
    ],
)
def test_removed_elements_keep_their_text_unless_code_or_foreign(html: str, expected: str) -> None:
    assert sanitise_html(html) == expected


def test_cve_2026_44990_xmp_contents_stay_inert() -> None:
    # sanitize-html (JavaScript) appended the raw text of a removed <xmp> to its output,
    # so markup inside it came back to life.
    out = assert_safe("<xmp><img src=x onerror=alert(1)></xmp><p>after</p>")
    assert out == "<p>after</p>"


def test_noscript_mutation_xss_of_closure_library() -> None:
    # The title attribute hides a tag from a parser with scripting disabled; a browser
    # with scripting enabled ends <noscript> at the "</noscript>" inside it.
    out = assert_safe('<noscript><p title="</noscript><img src=x onerror=alert(1)>">')
    assert "<img" not in out and '"&gt;' in out


# --- What is kept ----------------------------------------------------------------------


def test_allowed_formatting_is_kept() -> None:
    html = (
        '<p lang="fr">a <strong>b</strong> <b>c</b> <em>d</em> <i>e</i> <u>f</u> <s>g</s> '
        "<del>h</del> <code>i</code><br>j</p><pre>  k\n  l</pre><blockquote><p>m</p></blockquote>"
        '<ol start="3" reversed=""><li value="5">n</li></ol><ul><li>o</li></ul>'
        "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>"
    )
    assert sanitise_html(html) == html


def test_headings_become_bold_paragraphs_as_mastodon_does() -> None:
    assert sanitise_html('<h1 class="h-card">Title</h1><h6>Small</h6>') == (
        "<p><strong>Title</strong></p><p><strong>Small</strong></p>"
    )


def test_links_get_forced_rel_and_target_and_keep_only_allowed_attributes() -> None:
    out = sanitise_html(
        '<a href="https://ok.example/a?b=1&amp;c=2" rel="opener" target="_self" '
        'class="u-url mention fr-btn" translate="no" title="t" id="i" data-x="y">x</a>'
    )
    assert out == (
        '<a href="https://ok.example/a?b=1&amp;c=2" class="u-url mention" translate="no" '
        'target="_blank" rel="nofollow noopener noreferrer">x</a>'
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://ok.example/",
        "http://ok.example/",
        "mailto:a@ok.example",
        "gemini://ok.example/",
        "xmpp:room@ok.example",
    ],
)
def test_safe_link_schemes_are_kept(url: str) -> None:
    assert f'href="{url}"' in sanitise_html(f'<a href="{url}">x</a>')


def test_classes_are_narrowed_to_microformats_and_mastodons_own() -> None:
    out = sanitise_html(
        '<span class="h-card fr-hidden invisible ellipsis dt-published e-content url vcard">'
        '<p class="quote-inline p-name hidden">x</p></span>'
    )
    assert 'class="h-card invisible ellipsis dt-published e-content"' in out
    assert 'class="quote-inline p-name"' in out


def test_translate_is_kept_only_as_no_and_lang_only_when_well_formed() -> None:
    out = sanitise_html(
        '<span translate="yes" lang="x&quot;y">a</span><span translate="no" lang="pt-BR">b</span>'
    )
    assert out == '<span>a</span><span translate="no" lang="pt-BR">b</span>'


def test_list_numbers_must_be_integers() -> None:
    assert sanitise_html('<ol start="x"><li value="2e3">a</li></ol>') == "<ol><li>a</li></ol>"


def test_link_scheme_reads_urls_as_browsers_do() -> None:
    assert link_scheme(" \x00JaVa\tScRiPt:alert(1)") == "javascript"
    assert link_scheme("https://a.example/") == "https"
    assert link_scheme("/path:with-colon") is None
    assert link_scheme("\u2028javascript:x") is None  # not stripped: a relative URL


# --- Size -------------------------------------------------------------------------------


def test_input_over_the_limit_is_refused_whole() -> None:
    at_limit = "<p>" + "a" * (MAX_HTML_BYTES - 7) + "</p>"
    assert len(sanitise_html(at_limit)) == MAX_HTML_BYTES
    with pytest.raises(HtmlTooLarge):
        sanitise_html(at_limit + "a")
    with pytest.raises(HtmlTooLarge):
        # Counted in UTF-8 bytes, not characters.
        sanitise_html("é" * (MAX_HTML_BYTES // 2 + 1))
    with pytest.raises(HtmlTooLarge):
        plain_text("a" * (MAX_HTML_BYTES + 1))
    assert isinstance(HtmlTooLarge("x"), ValueError)
    assert sanitise_html("a" * 20, max_bytes=20) == "a" * 20


def test_input_with_too_many_tags_is_refused_whole() -> None:
    max_tags = MAX_HTML_BYTES // BYTES_PER_TAG
    assert sanitise_html("<br>" * max_tags) == "<br>" * max_tags
    with pytest.raises(HtmlTooLarge):
        sanitise_html("<br>" * (max_tags + 1))
    # Every spelling of a tag counts; a "<" before anything else is text.
    with pytest.raises(HtmlTooLarge):
        sanitise_html("<B>" * (max_tags // 2) + "</b>" * (max_tags // 2 + 1))
    assert sanitise_html("< 1" * (max_tags + 1)).startswith("&lt; 1&lt; 1")


def test_sanitised_output_over_the_input_limits_is_read_again_without_limit() -> None:
    html = "<h1>&amp;" * (MAX_HTML_BYTES // 10)
    out = sanitise_html(html)
    assert len(out) > MAX_HTML_BYTES
    with pytest.raises(HtmlTooLarge):
        plain_text(out)
    assert sanitise_html(out, max_bytes=None) == out
    assert plain_text(out, max_bytes=None) == plain_text(html)


def test_a_deeply_nested_document_at_the_limit_is_handled() -> None:
    depth = MAX_HTML_BYTES // BYTES_PER_TAG // 3
    out = sanitise_html("<b><i><p>" * depth + "x")
    assert violations(out) == []
    assert "x" in out


@pytest.mark.parametrize(
    "html",
    [
        # A long link reopened by the parser in each of 9,000 paragraphs.
        '<p><a href="https://x.example/' + "a" * 40_000 + '">x' + "<p>y" * 9_000,
        # 3,000 distinct unclosed formatting elements reopened in each of 6,000
        # paragraphs: gigabytes for the parser alone, without the inert first pass.
        "<p>" + "".join(f"<b lang=a{i}>" for i in range(3_000)) + "<p>y" * 6_000,
        # Same, through paragraphs nested by removed buttons.
        "<p>" + "".join(f"<i lang=a{i}>" for i in range(3_000)) + "<button><p>y</button>" * 2_000,
        "<li><blockquote>" + "<span>" * 4_000 + "<li>" * 4_000,
        "<h1><span>" * 4_500,
        "<a href=https://x.example/>" * 9_000,
    ],
)
def test_misnested_formatting_cannot_amplify_the_document(html: str) -> None:
    html = html[:MAX_HTML_BYTES]
    out = sanitise_html(html)
    assert len(out) < 5 * len(html)
    assert sanitise_html(out, max_bytes=None) == out


def test_markup_that_never_settles_falls_back_to_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # No input is known to keep changing when reparsed; the safety net is tested by
    # allowing no reparse at all.
    monkeypatch.setattr(html_module, "_MAX_PASSES", 0)
    out = sanitise_html("<p>a &amp; <b>b</b><br>c</p><ul><li>d</li></ul>")
    assert out == "<p>a &amp; b<br>c</p><p>d</p>"


def test_lone_surrogates_from_json_become_replacement_characters() -> None:
    text = json.loads('"<p>a\\ud800b</p>"')
    assert sanitise_html(text) == "<p>a\ufffdb</p>"
    assert plain_text(text) == "a\ufffdb"


# --- Plain text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>a</p>\n<p>b &amp; c&nbsp;d</p>", "a\n\nb & c\xa0d"),
        ("<p>one<br>two<br/><br><br>three</p>", "one\ntwo\n\nthree"),
        ("<ul><li>a</li><li>b</li></ul><p>c</p>", "a\nb\n\nc"),
        ("<h2>Title</h2>body", "Title\n\nbody"),
        ("<blockquote>quoted</blockquote>reply", "quoted\n\nreply"),
        ("<pre>  x\n    y</pre>", "  x\n    y"),
        ("a  <b> b </b>\n c", "a b c"),
        ("<script>secret()</script><style>p{}</style>visible", "visible"),
        ("&lt;script&gt; &#x263A; &eacute;", "<script> ☺ é"),
        (
            '<a href="https://kde.org/donate/"><span class="invisible">https://</span>'
            '<span class="">kde.org/donate/</span><span class="invisible"></span></a>',
            "https://kde.org/donate/",
        ),
        ("", ""),
    ],
)
def test_plain_text(html: str, text: str) -> None:
    assert plain_text(html) == text


# --- Property: generated HTML ---------------------------------------------------------------

TAG_NAMES = sorted(
    ALLOWED_TAGS
    | {"h1", "h3", "div", "img", "table", "td", "select", "option", "button", "details"}
    | set(FORBIDDEN_TAG_NAMES)
    | {"foreignObject", "annotation-xml", "mtext", "desc", "noembed", "plaintext", "html"}
)
ATTRIBUTE_NAMES = [
    "href", "src", "onerror", "onclick", "onload", "style", "class", "title", "rel", "target",
    "lang", "translate", "xlink:href", "formaction", "action", "srcdoc", "data", "start",
    "reversed", "value", "id", "http-equiv", "content", "encoding", "values", "attributename",
]  # fmt: skip
ATTRIBUTE_VALUES = [
    *DANGEROUS_URLS[:12],
    "https://ok.example/a?b=1&c=2",
    "mailto:a@ok.example",
    "mention hashtag",
    "h-card u-url evil",
    "invisible",
    "no",
    "fr",
    "3",
    'x" onmouseover="alert(1)',
    "x' onmouseover='alert(1)",
    "</noscript><img src=x onerror=alert(1)>",
    "</style><img src=x onerror=alert(1)>",
    "expression(alert(1))",
    "text/html",
    "",
]
TEXTS = [
    "a", " ", "\n", "<", ">", "&", "&amp;", "&lt;script&gt;", '"', "'", "<!--", "-->", "--!>",
    "<![CDATA[", "]]>", "</", "<script>", "alert(1)", "é", "\x00", "&#0;", "&nbsp;", "`", "/>",
]  # fmt: skip


@st.composite
def attribute(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(ATTRIBUTE_NAMES))
    value = draw(st.sampled_from(ATTRIBUTE_VALUES))
    quote = draw(st.sampled_from(['"', "'", "", None]))
    if quote is None:
        return f" {name}"
    if quote:
        value = value.replace(quote, "&quot;" if quote == '"' else "&#39;")
    return f" {name}={quote}{value}{quote}"


@st.composite
def element(draw: st.DrawFn, children: st.SearchStrategy[str]) -> str:
    tag = draw(st.sampled_from(TAG_NAMES))
    if draw(st.booleans()):
        tag = tag.upper()
    attributes = "".join(draw(st.lists(attribute(), max_size=3)))
    inner = "".join(draw(st.lists(children, max_size=4)))
    close = draw(st.sampled_from(["full", "full", "none", "self"]))
    if close == "self":
        return f"<{tag}{attributes}/>{inner}"
    return f"<{tag}{attributes}>{inner}" + (f"</{tag}>" if close == "full" else "")


generated_html = st.recursive(
    st.lists(st.sampled_from(TEXTS), max_size=3).map("".join),
    lambda children: element(children),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(generated_html, min_size=1, max_size=4).map("".join))
def test_generated_html_comes_out_within_the_allow_lists_and_stable(html: str) -> None:
    out = sanitise_html(html)
    assert violations(out) == []
    assert sanitise_html(out) == out
    assert "\x00" not in plain_text(html)


# --- Real content of other servers ------------------------------------------------------------


def _html_fields(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key in ("content", "summary", "name") and isinstance(value, str):
                yield value
            else:
                yield from _html_fields(value)
    elif isinstance(document, list):
        for item in document:
            yield from _html_fields(item)


def _load(shared_data: Path, path: str) -> dict[str, Any]:
    return json.loads((shared_data / "activitypub" / path).read_text())


def _links(html: str) -> list[tuple[str, str]]:
    return [
        (element.get("href", ""), element.get("class", ""))
        for element in elements(html)
        if element.tag == f"{XHTML}a"
    ]


def _words(html: str) -> list[str]:
    texts = []
    for element in elements(html):
        if isinstance(element.tag, str):
            texts += [element.text or "", element.tail or ""]
    return " ".join(texts).split()


def test_every_real_html_field_stays_whole_and_safe(shared_data: Path) -> None:
    fields = [
        value
        for path in sorted((shared_data / "activitypub").rglob("*.json"))
        for value in _html_fields(json.loads(path.read_text()))
        if "<" in value
    ]
    assert len(fields) >= 40
    for html in fields:
        out = assert_safe(html)
        # Links to the web survive (none of the real ones is javascript: or relative),
        # and so does every word of text.
        assert [href for href, _ in _links(out)] == [
            href for href, _ in _links(html) if href.startswith(("http://", "https://"))
        ]
        assert sorted(_words(out)) == sorted(_words(html)), html


def test_mastodon_mentions_and_links_keep_their_classes(shared_data: Path) -> None:
    note = _load(shared_data, "lemmy-apub-assets/mastodon/objects/note_2.json")
    out = sanitise_html(note["content"])
    assert (
        '<span class="h-card" translate="no"><a href="https://lemmy.kde.social/c/kde" '
        'class="u-url mention" target="_blank" rel="nofollow noopener noreferrer">'
        "@<span>kde@lemmy.kde.social</span></a></span>"
    ) in out
    assert (
        '<a href="https://kde.org/donate/" translate="no" target="_blank" '
        'rel="nofollow noopener noreferrer"><span class="invisible">https://</span>'
        '<span>kde.org/donate/</span><span class="invisible"></span></a>'
    ) in out
    assert plain_text(note["content"]).splitlines()[-3:] == ["https://kde.org/donate/", "", "[3/3]"]


def test_mastodon_hashtags_keep_their_classes(shared_data: Path) -> None:
    featured = _load(shared_data, "lemmy-apub-assets/mastodon/collections/featured.json")
    out = sanitise_html(featured["orderedItems"][0]["content"])
    assert ("https://mastodon.social/tags/reddit", "mention hashtag") in _links(out)
    assert ("https://mastodon.social/tags/fediverse", "mention hashtag") in _links(out)


def test_mastodon_actor_summary(shared_data: Path) -> None:
    actor = _load(shared_data, "fedidevs-samples-2024-04/actor/mastodon.json")
    out = sanitise_html(actor["summary"])
    assert _links(out) == [("https://mastodon.social/@Mastodon", "u-url mention")]
    assert plain_text(actor["summary"]).startswith("Founder of @Mastodon. Film photography")


def test_pleroma_mention_loses_only_its_extra_attributes(shared_data: Path) -> None:
    create = _load(shared_data, "lemmy-apub-assets/pleroma/activities/create_note.json")
    assert sanitise_html(create["object"]["content"]) == (
        '<span class="h-card"><a class="u-url mention" href="https://enterprise.lemmy.ml/u/picard" '
        'target="_blank" rel="nofollow noopener noreferrer">@<span>lanodan</span></a></span> test'
    )


def test_misskey_hashtags_survive(shared_data: Path) -> None:
    actor = _load(shared_data, "fedidevs-samples-2024-04/actor/misskey.json")
    out = sanitise_html(actor["summary"])
    assert [href for href, _ in _links(out)][:2] == [
        "https://misskey.io/tags/misskey",
        "https://misskey.io/tags/藍ちゃファンクラブ",
    ]
    assert "#misskey" in plain_text(actor["summary"])


def test_friendica_quote_share_keeps_mentions_hashtags_and_the_quoted_heading(
    shared_data: Path,
) -> None:
    note = _load(shared_data, "lemmy-apub-assets/friendica/objects/note_2.json")
    out = sanitise_html(note["content"])
    assert ("https://nerdica.net/search?tag=Friendica", "mention hashtag") in _links(out)
    # Friendica's "url" and "vcard" classes are not microformats 2: dropped, as Mastodon does.
    assert ("https://lemmy.ml/u/Liwott", "u-url mention") in _links(out)
    assert "<blockquote><p><strong>Do your commenting tests here.</strong></p>" in out
    assert "<div" not in out and "title=" not in out


def test_friendica_and_lemmy_mentions(shared_data: Path) -> None:
    create = _load(shared_data, "lemmy-apub-assets/friendica/activities/create_note.json")
    assert _links(sanitise_html(create["object"]["content"])) == [
        ("https://lemmy.schuerz.at/u/jakob", "u-url mention")
    ]
    group = _load(shared_data, "lemmy-apub-assets/lemmy/objects/group.json")
    assert (
        plain_text(group["summary"])
        == "Lounge and recreation facility\n\nWelcome to the Enterprise!."
    )


def test_nodebb_headings_and_lists(shared_data: Path) -> None:
    page = _load(shared_data, "lemmy-apub-assets/nodebb/objects/page.json")
    out = sanitise_html(page["content"])
    assert "<p><strong>Welcome to your brand new NodeBB forum!</strong></p>" in out
    assert '<ul>\n<li><a href="https://docs.nodebb.org/"' in out


def test_pixelfed_keeps_microformat_classes_only(shared_data: Path) -> None:
    actor = _load(shared_data, "fedidevs-samples-2024-04/actor/pixelfed.json")
    links = _links(sanitise_html(actor["summary"]))
    assert ("https://pixelfed.social/Pixelfed", "u-url mention") in links
    assert ("https://pixelfed.social/@dansup@mastodon.social", "u-url") in links
