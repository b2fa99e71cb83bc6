"""Deletion requests: per host, templates, platform profiles, SMTP sending."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from provenance.monitor import Evidence, Match, MonitorError, MonitorStore, Reference, Status, Visit
from provenance.monitor.notice import (
    SmtpConfig,
    build_notices,
    load_profiles,
    send_notices,
    write_notices,
)

REF = Reference("ref.jpg", "picture", "ab" * 32, "cd" * 32)
A1 = "https://photos.example.com/p/1"
A2 = "https://photos.example.com/p/2"
B1 = "https://video.example.net/v/9"
C1 = "https://board.example.org/t/3"
D1 = "https://unknown.example/x"
EXAMPLE = Path(__file__).parents[4] / "provenance" / "monitor" / "data" / "platforms.example.toml"


def _seen(store: MonitorStore, url: str, status: Status, at: str, evidence: bool = True) -> None:
    target = next(t for t in store.targets("c") if t.url == url)
    matched = status is Status.MATCH
    store.record(
        target,
        Visit(
            "c",
            url,
            url,
            status,
            200 if matched else 404,
            at,
            target.previous_status,
            (Match(url + ".jpg", "ef" * 32, "pdq", 4, "ref.jpg"),) if matched else (),
            Evidence(f"/ev/{at}.wacz", "12" * 32, "2026-01-01T00:00:01Z") if evidence else None,
        ),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MonitorStore]:
    with MonitorStore.open(tmp_path / "m.db", create=True) as s:
        s.add("c", [A1, A2, B1, C1, D1], [REF])
        for url in (A1, A2, B1, C1, D1):
            _seen(s, url, Status.MATCH, "2026-01-01T00:00:00Z")
        _seen(s, A2, Status.GONE, "2026-01-02T00:00:00Z")
        yield s


def test_one_request_per_host_for_urls_still_matching(store: MonitorStore, tmp_path: Path) -> None:
    notices = build_notices(store, "c", lang="en", profiles=load_profiles(EXAMPLE))
    by_host = {n.host: n for n in notices}
    assert sorted(by_host) == [
        "board.example.org",
        "photos.example.com",
        "unknown.example",
        "video.example.net",
    ]
    photos = by_host["photos.example.com"]
    assert [i.url for i in photos.items] == [A1]  # A2 is gone
    assert photos.channel.kind == "email" and photos.channel.email == "abuse@photos.example.com"
    assert "To: abuse@photos.example.com" in photos.body and A1 in photos.body
    assert "12" * 32 in photos.body and "2026-01-01T00:00:01Z" in photos.body
    assert photos.subject.startswith("Request to remove")
    assert (
        "Submit through: https://video.example.net/legal/report"
        in by_host["video.example.net"].body
    )
    assert "signature" in by_host["video.example.net"].body
    assert "Legal contact:" in by_host["board.example.org"].body
    assert "Channel: unknown" in by_host["unknown.example"].body
    written = write_notices(notices, tmp_path / "out")
    assert {p.path.name for p in written if p.path} == {f"{h}.en.txt" for h in by_host}
    assert (tmp_path / "out" / "notices.json").is_file()


def test_korean_and_custom_templates(store: MonitorStore, tmp_path: Path) -> None:
    [ko, *_] = build_notices(store, "c", lang="ko")
    assert "삭제" in ko.subject and "최초 확인 시각" in ko.body
    custom = tmp_path / "mine.txt.j2"
    custom.write_text(
        '{% set subject = "S " ~ host %}{% for i in items %}{{ i.url }}\n{% endfor %}'
    )
    [first, *_] = build_notices(store, "c", template=custom)
    assert first.subject == "S board.example.org" and first.body.strip() == C1
    custom.write_text("{{ items.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(MonitorError) as info:
        build_notices(store, "c", template=custom)
    assert info.value.code == "bad_template"
    custom.write_text("{{ nothing.here }}")
    with pytest.raises(MonitorError) as info:
        build_notices(store, "c", template=custom)
    assert info.value.code == "bad_template"
    with pytest.raises(MonitorError):
        build_notices(store, "c", lang="fr")
    with pytest.raises(MonitorError):
        build_notices(store, "nope")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("format = 2", "format"),
        ("format = 1\n[[platform]]\nhosts=['a']\nchannel='fax'", "channel"),
        ("format = 1\n[[platform]]\nhosts=['a']\nchannel='email'", "needs"),
        ("format = 1\n[[platform]]\nhosts='a'\nchannel='legal'\ncontact='x'", "hosts"),
        ("format = [", "TOML"),
    ],
)
def test_bad_profiles(tmp_path: Path, text: str, why: str) -> None:
    p = tmp_path / "p.toml"
    p.write_text(text)
    with pytest.raises(MonitorError, match=why):
        load_profiles(p)


def test_wildcard_hosts() -> None:
    profiles = load_profiles(EXAMPLE)
    assert profiles.for_host("cdn.photos.example.com").kind == "email"
    assert profiles.for_host("photos.example.com.evil.example").kind == "unknown"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # aiosmtpd's Controller cannot listen on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.mark.network
def test_send_by_email_records_message_id(
    store: MonitorStore, smtp_server: tuple[int, list[Any]]
) -> None:
    port, received = smtp_server
    notices = build_notices(store, "c", lang="en", profiles=load_profiles(EXAMPLE))
    config = SmtpConfig.from_url(f"smtp://127.0.0.1:{port}", env={})
    sent, notes = send_notices(store, notices, config, sender="help@support.example")
    assert [s.to for s in sent] == ["abuse@photos.example.com"]
    assert len(notes) == 3 and all("not sent" in n for n in notes)
    [envelope] = received
    assert envelope.rcpt_tos == ["abuse@photos.example.com"]
    assert sent[0].message_id.encode() in envelope.content
    [req] = store.requests("c", A1)
    assert req["state"] == "sent" and req["message_id"] == sent[0].message_id
    row = next(r for r in store.status("c") if r.url == A1)
    assert row.request_state == "sent"


def test_smtp_urls() -> None:
    c = SmtpConfig.from_url("smtps://mail.example.org", env={"JINJJA_SMTP_USER": "u"})
    assert (c.port, c.tls, c.user) == (465, "ssl", "u")
    with pytest.raises(MonitorError):
        SmtpConfig.from_url("smtp://user:pw@mail.example.org")
    with pytest.raises(MonitorError):
        SmtpConfig.from_url("http://mail.example.org")


@pytest.mark.network
def test_smtp_refused(store: MonitorStore) -> None:
    from monitorsite import refused_url

    port = int(refused_url().split(":")[2].split("/")[0])
    notices = build_notices(store, "c", profiles=load_profiles(EXAMPLE))
    with pytest.raises(MonitorError) as info:
        send_notices(
            store,
            notices,
            SmtpConfig.from_url(f"smtp://127.0.0.1:{port}", env={}),
            sender="a@b.example",
            timeout=2,
        )
    assert info.value.code == "smtp_failed"


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_shipped_templates_render_as_the_golden_files(store: MonitorStore, lang: str) -> None:
    """Known answer for the shipped wording. After a deliberate change to a template,
    regenerate with ``JINJJA_REGENERATE=1`` and review the diff."""
    import os

    notices = build_notices(
        store, "c", lang=lang, profiles=load_profiles(EXAMPLE), now="2026-01-05T09:00:00Z",
        sender={"name": "Case Desk", "email": "desk@support.example"},
    )  # fmt: skip
    text = "".join(f"=== {n.host}\nSubject: {n.subject}\n\n{n.body}" for n in notices)
    golden = Path(__file__).parents[3] / "assets" / "golden" / f"monitor_notice.{lang}.txt"
    if os.environ.get("JINJJA_REGENERATE"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")
