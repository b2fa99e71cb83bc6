"""No credential in a URL is printed, logged, stored or reported."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provenance.durable.client import ResolverClient
from provenance.errors import ResolverError
from provenance.report import (
    AiAssessment,
    AiLabel,
    Recovery,
    Report,
    ReportError,
    Subject,
    ToolInfo,
    Verdict,
)
from provenance.urls import REDACTED, basic_auth, redact_text, redact_url, strip_userinfo

SECRET = "hunter2-SECRET"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://ann:{SECRET}@r.example/x", "https://REDACTED@r.example/x"),
        (f"https://{SECRET}@r.example", "https://REDACTED@r.example"),
        (f"http://h/p?alg=a&token={SECRET}", "http://h/p?alg=a&token=REDACTED"),
        (f"http://h/p?KEY={SECRET}&b=1", "http://h/p?KEY=REDACTED&b=1"),
        (
            f"http://h/p?sig={SECRET}&signature={SECRET}",
            "http://h/p?sig=REDACTED&signature=REDACTED",
        ),
        (f"http://h/p?password={SECRET}", "http://h/p?password=REDACTED"),
        (
            f"http://h/p?access_token={SECRET}&api-key={SECRET}",
            "http://h/p?access_token=REDACTED&api-key=REDACTED",
        ),
        ("http://h/p?monkey=1&keyword=2", "http://h/p?monkey=1&keyword=2"),
        ("/a/local/path.db", "/a/local/path.db"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@given(
    st.text(
        alphabet=st.characters(min_codepoint=33, max_codepoint=126, exclude_characters="&#@/?%=:"),
        min_size=1,
    )
)
def test_a_secret_never_survives(secret: str) -> None:
    for url in (f"https://u:{secret}@h/x", f"https://h/x?token={secret}&a=b"):
        shown = redact_url(url)
        assert f":{secret}@" not in shown and f"token={secret}&" not in shown
        assert REDACTED in shown


def test_redact_text_and_basic_auth() -> None:
    text = f"resolver https://u:{SECRET}@h:1/x?token={SECRET} could not be reached"
    assert SECRET not in redact_text(text)
    bare, user, password = strip_userinfo(f"https://ann:{SECRET}@h:1/x")
    assert (bare, user, password) == ("https://h:1/x", "ann", SECRET)
    assert basic_auth(None, None) is None


def test_resolver_client_never_shows_credentials() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = ResolverClient(f"http://ann:{SECRET}@127.0.0.1:{port}/api?token={SECRET}")
    assert SECRET not in client.name and SECRET not in repr(client)
    assert "@" not in client.base_url  # sent as an Authorization header instead
    with pytest.raises(ResolverError) as info:
        client.supported_algorithms()
    assert SECRET not in info.value.message and info.value.code == "unreachable"


def test_reports_redact_every_url_field() -> None:
    report = Report(
        subject=Subject(path="/x.jpg"),
        verdict=Verdict.ERROR,
        summary=(f"Fetched from https://h/m?sig={SECRET}.",),
        chain=None,
        failures=(),
        ai=AiAssessment(AiLabel.UNKNOWN),
        tool=ToolInfo("0", None, (), "2026-01-01T00:00:00Z"),
        error=ReportError("x", f"at https://u:{SECRET}@h/"),
        remote_manifest_url=f"https://h/m?token={SECRET}",
        recovery=Recovery("watermark", "id", f"https://u:{SECRET}@h"),
    )
    assert SECRET not in str(report.to_dict())
