from parvis.core.text import fold, render, weighted_length


def _render(text: str):
    return render(
        text,
        tag_url=lambda name: f"https://social.blois.fr/tags/{name}",
        mention_url=lambda handle, domain: (
            None
            if handle == "inconnu" and domain is None
            else f"https://{domain or 'social.blois.fr'}/@{handle}"
        ),
    )


def test_links_hashtags_and_mentions_are_rendered_like_mastodon() -> None:
    result = _render("Voir https://www.blois.fr/agenda #Blois avec @maire et @x@mastodon.social")
    assert (
        '<a href="https://www.blois.fr/agenda" target="_blank" rel="nofollow noopener"'
        in result.html
    )
    assert '<span class="invisible">https://www.</span>' in result.html
    assert (
        '<a href="https://social.blois.fr/tags/blois" class="mention hashtag" rel="tag">'
        "#<span>Blois</span></a>"
    ) in result.html
    assert (
        '<span class="h-card" translate="no"><a href="https://social.blois.fr/@maire" '
        'class="u-url mention">@<span>maire</span></a></span>' in result.html
    )
    assert result.hashtags == ["Blois"]
    assert [(m.handle, m.domain) for m in result.mentions] == [
        ("maire", None),
        ("x", "mastodon.social"),
    ]


def test_markup_typed_by_the_author_is_escaped() -> None:
    html = _render('<script>alert(1)</script> <a href="javascript:x">lien</a>').html
    assert "<script>" not in html and '<a href="javascript' not in html
    assert "&lt;script&gt;" in html


def test_paragraphs_and_line_breaks() -> None:
    assert _render("un\ndeux\n\ntrois").html == "<p>un<br />deux</p><p>trois</p>"


def test_unknown_local_mention_stays_text_and_javascript_urls_are_not_links() -> None:
    html = _render("@inconnu javascript:alert(1) ftp://x.fr").html
    assert "<a" not in html


def test_accented_hashtags_are_folded_for_lookup() -> None:
    result = _render("#Été #ete")
    assert result.hashtags == ["Été"]
    assert result.html.count("/tags/ete") == 2


def test_weighted_length_counts_links_as_23_and_remote_mentions_by_handle() -> None:
    assert weighted_length("x https://example.com/" + "a" * 200) == 2 + 23
    assert weighted_length("@maire@social.blois.fr") == len("@maire")


def test_fold_strips_accents_and_ligatures() -> None:
    assert fold("Élodie CŒUR Ça") == "elodie coeur ca"
