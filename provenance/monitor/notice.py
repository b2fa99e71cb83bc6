"""Deletion requests: one per host, rendered from Jinja2 templates to fit each platform's
channel, optionally sent by SMTP and recorded.

A *platform profile* (TOML, format in ``spec/monitor.md``; an example ships as
``provenance/monitor/data/platforms.example.toml``) maps hosts to a channel: an ``email``
address, a ``web_form`` URL with its required fields, or a ``legal`` contact. Hosts without a
profile get channel ``unknown`` and a request that says the reporting channel must be found.
"""

from __future__ import annotations

import email.message
import email.utils
import json
import os
import re
import smtplib
import ssl
import tomllib
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from provenance.monitor.model import Evidence, MonitorError, RequestState, Status, utc_now
from provenance.monitor.store import MonitorStore

__all__ = [
    "Channel",
    "Notice",
    "NoticeItem",
    "Profiles",
    "SentNotice",
    "SmtpConfig",
    "build_notices",
    "load_profiles",
    "send_notices",
    "write_notices",
]

LANGUAGES: Final = ("ko", "en")
PROFILE_FORMAT: Final = 1
_CHANNELS: Final = frozenset({"email", "web_form", "legal"})
_SAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Channel:
    """How one platform takes deletion requests."""

    kind: str
    """``email``, ``web_form``, ``legal`` or ``unknown``."""
    platform: str | None = None
    email: str | None = None
    url: str | None = None
    """The web form (``web_form``) or the legal page (``legal``)."""
    fields: tuple[str, ...] = ()
    """Fields the web form requires."""
    contact: str | None = None
    """Postal address or legal representative (``legal``)."""
    source: str | None = None
    """Public help page the channel was read from."""
    read_on: str | None = None
    """Date the help page was read (YYYY-MM-DD)."""


def _host_matches(pattern: str, host: str) -> bool:
    p = pattern.lower().strip()
    if p.startswith("*."):
        return host == p[2:] or host.endswith(p[1:])
    return host == p


@dataclass(frozen=True)
class Profiles:
    """Platform profiles, looked up by host."""

    entries: tuple[tuple[tuple[str, ...], Channel], ...] = ()

    def for_host(self, host: str) -> Channel:
        """The channel of the first profile naming ``host`` (``*.example.org`` works)."""
        for hosts, channel in self.entries:
            if any(_host_matches(p, host.lower()) for p in hosts):
                return channel
        return Channel("unknown")


def _channel(entry: Mapping[str, Any], where: str) -> tuple[tuple[str, ...], Channel]:
    kind = entry.get("channel")
    hosts = entry.get("hosts")
    if kind not in _CHANNELS:
        raise MonitorError(f"{where}: channel must be email, web_form or legal", code="bad_profile")
    if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) for h in hosts):
        raise MonitorError(f"{where}: hosts must be a list of host names", code="bad_profile")
    need = {"email": "email", "web_form": "url", "legal": "contact"}[kind]
    if not isinstance(entry.get(need), str) or not entry[need]:
        raise MonitorError(f"{where}: a {kind} channel needs {need!r}", code="bad_profile")
    fields = entry.get("fields", [])
    if not isinstance(fields, list):
        raise MonitorError(f"{where}: fields must be a list", code="bad_profile")
    read_on = entry.get("read_on")
    return tuple(hosts), Channel(
        kind=kind,
        platform=entry.get("name"),
        email=entry.get("email"),
        url=entry.get("url"),
        fields=tuple(str(f) for f in fields),
        contact=entry.get("contact"),
        source=entry.get("source"),
        read_on=None if read_on is None else str(read_on),
    )


def load_profiles(path: str | Path) -> Profiles:
    """Read a platform profile file (TOML).

    Raises
    ------
    MonitorError
        ``bad_profile`` when it cannot be read, is not TOML or breaks the format.
    """
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MonitorError(f"cannot read {p}: {exc.strerror}", code="bad_profile") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MonitorError(f"{p} is not valid TOML: {exc}", code="bad_profile") from None
    if data.get("format") != PROFILE_FORMAT:
        raise MonitorError(f"{p}: format = {PROFILE_FORMAT} is required", code="bad_profile")
    platforms = data.get("platform", [])
    if not isinstance(platforms, list):
        raise MonitorError(f"{p}: [[platform]] entries expected", code="bad_profile")
    return Profiles(tuple(_channel(e, f"{p}: platform {i + 1}") for i, e in enumerate(platforms)))


@dataclass(frozen=True)
class NoticeItem:
    """One URL in a request."""

    url: str
    first_seen: str
    """First visit that matched."""
    last_seen: str
    """Latest visit (it matched)."""
    media: tuple[str, ...]
    """Matching media URLs at the latest visit."""
    evidence: tuple[Evidence, ...]
    """Evidence written for this URL, oldest first."""


@dataclass(frozen=True)
class Notice:
    """One rendered deletion request (one host)."""

    case: str
    host: str
    lang: str
    channel: Channel
    subject: str
    body: str
    items: tuple[NoticeItem, ...]
    path: Path | None = None
    """Where it was written (after :func:`write_notices`)."""


@dataclass(frozen=True)
class SentNotice:
    """A request sent by email."""

    notice: Notice
    to: str
    message_id: str


def _items(store: MonitorStore, case: str) -> dict[str, list[NoticeItem]]:
    hosts: dict[str, list[NoticeItem]] = {}
    for row in store.status(case):
        if row.last_status is not Status.MATCH or not row.timeline:
            continue
        matched = [v for v in row.timeline if v.status is Status.MATCH]
        item = NoticeItem(
            url=row.url,
            first_seen=matched[0].checked_at,
            last_seen=row.timeline[-1].checked_at,
            media=tuple(m.media_url for m in row.timeline[-1].matches),
            evidence=tuple(v.evidence for v in row.timeline if v.evidence is not None),
        )
        host = (urllib.parse.urlsplit(row.url).hostname or "").lower()
        hosts.setdefault(host, []).append(item)
    return hosts


def _environment(template: Path | None) -> Any:
    import jinja2  # optional extra `monitor`
    import jinja2.sandbox  # optional extra `monitor`

    if template is not None:
        loader: Any = jinja2.FileSystemLoader(str(template.parent))
    else:
        loader = jinja2.PackageLoader("provenance.monitor", "templates")
    # Sandboxed: a template passed by staff can format data but not reach Python internals.
    return jinja2.sandbox.SandboxedEnvironment(
        loader=loader,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def build_notices(
    store: MonitorStore,
    case: str,
    *,
    lang: str = "ko",
    template: Path | None = None,
    profiles: Profiles | None = None,
    sender: Mapping[str, str] | None = None,
    now: str | None = None,
) -> list[Notice]:
    """Render one request per host for the case's URLs whose last status is MATCH.

    ``sender`` fills ``{{ sender.name }}`` and friends in the templates; ``now`` (UTC ISO
    8601, default the current time) is ``{{ generated_at }}``.

    Raises
    ------
    MonitorError
        ``unknown_case``, ``bad_lang``, ``bad_template`` (missing file or a Jinja2 error).
    """
    import jinja2  # optional extra `monitor`

    if not store.has_case(case):
        raise MonitorError(f"no case named {case!r}", code="unknown_case")
    if lang not in LANGUAGES and template is None:
        raise MonitorError(f"no template for language {lang!r} (ko, en)", code="bad_lang")
    if template is not None and not template.is_file():
        raise MonitorError(f"no such template: {template}", code="bad_template")
    env = _environment(template)
    name = template.name if template is not None else f"notice.{lang}.txt.j2"
    profiles = profiles or Profiles()
    out = []
    for host, items in sorted(_items(store, case).items()):
        channel = profiles.for_host(host)
        ctx = {
            "case": case,
            "host": host,
            "channel": channel,
            "items": items,
            "lang": lang,
            "generated_at": now or utc_now(),
            "sender": {"name": "", "organisation": "", "email": "", **(sender or {})},
        }
        try:
            module = env.get_template(name).make_module(ctx)
        except jinja2.TemplateError as exc:  # SecurityError (sandbox) included
            raise MonitorError(f"template {name}: {exc}", code="bad_template") from None
        subject = str(getattr(module, "subject", f"Deletion request: {host}"))
        body = str(module).lstrip("\n")
        out.append(Notice(case, host, lang, channel, subject.strip(), body, tuple(items)))
    return out


def write_notices(notices: Sequence[Notice], directory: str | Path) -> list[Notice]:
    """Write each request as ``<host>.<lang>.txt`` plus ``notices.json``; return them with paths.

    Raises
    ------
    MonitorError
        ``cannot_write`` when the directory cannot be created or written.
    """
    d = Path(directory)
    written = []
    try:
        d.mkdir(parents=True, exist_ok=True)
        for n in notices:
            path = d / f"{_SAFE.sub('_', n.host)}.{n.lang}.txt"
            path.write_text(f"Subject: {n.subject}\n\n{n.body}", encoding="utf-8")
            written.append(
                Notice(n.case, n.host, n.lang, n.channel, n.subject, n.body, n.items, path)
            )
        summary = [_summary(n) for n in written]
        (d / "notices.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise MonitorError(f"cannot write to {d}: {exc.strerror}", code="cannot_write") from None
    return written


def _summary(n: Notice) -> dict[str, Any]:
    return {
        "case": n.case,
        "host": n.host,
        "lang": n.lang,
        "channel": n.channel.kind,
        "to": n.channel.email or n.channel.url or n.channel.contact,
        "subject": n.subject,
        "path": None if n.path is None else str(n.path),
        "urls": [i.url for i in n.items],
        "evidence": [e.sha256 for i in n.items for e in i.evidence],
    }


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send: from ``--smtp URL`` and the environment."""

    host: str
    port: int
    tls: str
    """``ssl`` (smtps://), ``starttls`` (smtp://...?starttls=1 or when offered) or ``none``."""
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, env: Mapping[str, str] = os.environ) -> SmtpConfig:
        """``smtp://host:port``, ``smtps://host:port``; user and password come from
        ``JINJJA_SMTP_USER`` and ``JINJJA_SMTP_PASSWORD``, never from the URL."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise MonitorError(
                "--smtp must be smtp://HOST[:PORT] or smtps://HOST[:PORT]", code="bad_smtp"
            )
        if parts.username or parts.password:
            raise MonitorError(
                "put SMTP credentials in JINJJA_SMTP_USER / JINJJA_SMTP_PASSWORD, not the URL",
                code="bad_smtp",
            )
        query = urllib.parse.parse_qs(parts.query)
        tls = (
            "ssl" if parts.scheme == "smtps" else ("starttls" if query.get("starttls") else "auto")
        )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise MonitorError("--smtp has a bad port", code="bad_smtp") from None
        return cls(
            parts.hostname, port, tls, env.get("JINJJA_SMTP_USER"), env.get("JINJJA_SMTP_PASSWORD")
        )


def _connect(config: SmtpConfig, timeout: float) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if config.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(config.host, config.port, timeout=timeout)
        client.ehlo()
        if config.tls == "starttls" or client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
    if config.user:
        client.login(config.user, config.password or "")
    return client


def send_notices(
    store: MonitorStore,
    notices: Sequence[Notice],
    config: SmtpConfig,
    *,
    sender: str,
    timeout: float = 30.0,
) -> tuple[list[SentNotice], list[str]]:
    """Send the requests whose channel is ``email``; record each URL as ``sent`` with the
    Message-ID. Returns what was sent and one note per request not sent.

    Raises
    ------
    MonitorError
        ``smtp_failed`` when the server cannot be reached or refuses (requests sent before
        stay recorded).
    """
    sent: list[SentNotice] = []
    notes: list[str] = []
    mailable = [n for n in notices if n.channel.kind == "email" and n.channel.email]
    notes += [
        f"{n.host}: not sent (channel {n.channel.kind}; see the written request)"
        for n in notices
        if n not in mailable
    ]
    if not mailable:
        return sent, notes
    domain = sender.rpartition("@")[2] or "localhost"
    try:
        with _connect(config, timeout) as client:
            for n in mailable:
                assert n.channel.email is not None
                msg = email.message.EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = sender, n.channel.email, n.subject
                msg["Date"] = email.utils.formatdate(usegmt=True)
                msg["Message-ID"] = email.utils.make_msgid(domain=domain)
                msg.set_content(n.body)
                client.send_message(msg)
                for item in n.items:
                    store.respond(
                        item.url,
                        RequestState.SENT,
                        case=n.case,
                        message_id=msg["Message-ID"],
                        channel=f"email:{n.channel.email}",
                    )
                sent.append(SentNotice(n, n.channel.email, msg["Message-ID"]))
    except (smtplib.SMTPException, OSError) as exc:
        raise MonitorError(f"SMTP {config.host}:{config.port}: {exc}", code="smtp_failed") from None
    return sent, notes
