"""How a fetched page's outlet is shown (`corpus.outlets`): plainly when the site is that
outlet's own, else the site first with the page's own name beside it, so no page passes
itself off as another outlet and none reads as accused."""

from __future__ import annotations

import pytest

from corpus.outlets import outlet_label, site_name


@pytest.mark.parametrize(
    ("host", "declared"),
    [
        ("www.reuters.com", "Reuters"),
        ("feeds.reuters.com", "Reuters"),  # the outlet's own subdomain
        ("www.bnnbloomberg.ca", "BNN Bloomberg (Bloomberg News)"),
        ("www.nytimes.com", "The New York Times"),
        ("www.theglobeandmail.com", "The Globe and Mail"),
        ("www.wsj.com", "The Wall Street Journal"),
        ("www.bbc.co.uk", "BBC News"),
        ("www.cbc.ca", "CBC News"),
    ],
)
def test_an_outlets_own_site_shows_the_outlet_plainly(host: str, declared: str) -> None:
    assert outlet_label(host, declared) == declared


@pytest.mark.parametrize(
    ("host", "declared"),
    [
        ("127.0.0.1", "Real Outlet"),
        ("news.example.org", "Bay Street Bulletin"),
        ("evil-reuters-news.biz", "Reuters"),  # holding the name is not being the outlet
        ("reutersnews.biz", "Reuters"),
        ("times.biz", "The New York Times"),
    ],
)
def test_another_site_is_shown_first_with_the_name_it_gives(host: str, declared: str) -> None:
    label = outlet_label(host, declared)
    assert label == f"{host}, as {declared}"
    assert "claims" not in label


def test_no_declared_name_is_the_site_alone() -> None:
    assert outlet_label("news.example.org", None) == "news.example.org"
    assert outlet_label("news.example.org", "news.example.org") == "news.example.org"
    assert site_name("10.0.0.7") == "" and site_name("abc.net.au") == "abc"
