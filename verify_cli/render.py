"""Render :class:`~provenance.report.Report` objects as text, JSON, JSON Lines or CSV.

Renderers only present what the report says: they never recompute a verdict. Each
format is a :class:`ReportFormat` that is told how many inputs to expect, receives one
report at a time (and writes it out at once, so long batches stream), then finishes.

* ``text``: a Rich panel per file (verdict in colour, sentences, chain tree, failures).
* ``json``: one object for one input, an array for several; sorted keys, 2-space indent.
* ``jsonl``: one compact object per line, flushed per record.
* ``csv``: the documented flattening of ``spec/csv.md`` (one row per input).
* ``html``: one self-contained page (:mod:`provenance.render`), streamed through spool files.
"""

from __future__ import annotations

import csv
import enum
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TextIO, assert_never

from provenance.report import AiLabel, ChainNode, Issuer, Report, Verdict

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

__all__ = [
    "CSV_COLUMNS",
    "CsvFormat",
    "HtmlFormat",
    "JsonFormat",
    "JsonLinesFormat",
    "OutputFormat",
    "ReportLang",
    "ReportFormat",
    "TextFormat",
    "ThumbnailMode",
    "csv_row",
    "dumps_record",
    "make_format",
]


class OutputFormat(enum.StrEnum):
    """The values of ``--format`` (see :mod:`verify_cli.formats`: ``text`` is ``table``)."""

    TABLE = "table"
    TEXT = "text"
    JSON = "json"
    JSONL = "jsonl"
    CSV = "csv"
    HTML = "html"


class ThumbnailMode(enum.StrEnum):
    """The values of ``--thumbnails`` (HTML reports)."""

    FULL = "full"
    BLUR = "blur"
    NONE = "none"


class ReportLang(enum.StrEnum):
    """The values of ``--lang`` (HTML reports)."""

    KO = "ko"
    EN = "en"


def dumps_record(record: Any, *, indent: int | None = None) -> str:
    """Serialise a JSON-ready record deterministically (sorted keys, numbers as numbers).

    Parameters
    ----------
    record
        The output of ``Report.to_dict()`` (or any JSON-ready value).
    indent
        ``None`` for one compact line, else the indent width.

    Returns
    -------
    str
        The JSON text, without a trailing newline.
    """
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(
        record, sort_keys=True, ensure_ascii=False, indent=indent, separators=separators
    )


class ReportFormat(ABC):
    """Writes reports to a text stream, one at a time.

    Parameters
    ----------
    stream
        Where to write (stdout or the ``--output`` file).
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def start(self, count: int) -> None:  # noqa: B027 - optional hook
        """Called once before the first report with the number of inputs."""

    @abstractmethod
    def write(self, report: Report, record: dict[str, Any] | None = None) -> None:
        """Write one report and flush.

        ``record`` is ``report.to_dict()`` when the caller already has it (JSON formats
        then do not build it again).
        """

    def finish(self) -> None:  # noqa: B027 - optional hook
        """Called once after the last report."""


class JsonLinesFormat(ReportFormat):
    """One compact JSON object per line, flushed per record."""

    def write(self, report: Report, record: dict[str, Any] | None = None) -> None:
        data = record if record is not None else report.to_dict()
        self.stream.write(dumps_record(data) + "\n")
        self.stream.flush()


class JsonFormat(ReportFormat):
    """One JSON object for a single input, a JSON array for several (streamed)."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._array = False
        self._written = 0

    def start(self, count: int) -> None:
        self._array = count != 1
        if self._array:
            self.stream.write("[")
            self.stream.flush()

    def write(self, report: Report, record: dict[str, Any] | None = None) -> None:
        text = dumps_record(record if record is not None else report.to_dict(), indent=2)
        if self._array:
            sep = "," if self._written else ""
            body = "\n".join("  " + line for line in text.splitlines())
            self.stream.write(f"{sep}\n{body}")
        else:
            self.stream.write(text + "\n")
        self._written += 1
        self.stream.flush()

    def finish(self) -> None:
        if self._array:
            self.stream.write("\n]\n" if self._written else "]\n")
            self.stream.flush()


# ---------------------------------------------------------------------------------- CSV

CSV_COLUMNS: tuple[str, ...] = (
    "path",
    "size",
    "sha256",
    "media_type",
    "width",
    "height",
    "verdict",
    "ai_label",
    "issuer",
    "issuer_common_name",
    "issuing_ca",
    "signing_time",
    "signing_time_source",
    "claim_generator",
    "manifest_label",
    "actions",
    "ingredients",
    "ai_signals",
    "failure_codes",
    "summary",
    "error_code",
    "error_message",
    "remote_manifest_url",
    "recovered_manifest_id",
    "watermarks_found",
    "bank_matches",
    "trust_sources",
    "tool_version",
    "c2pa_sdk",
    "analyzed_at",
    "schema",
)
"""The fixed CSV columns, in order (``spec/csv.md``)."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | int | None) -> str | int:
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    # Spreadsheets run cells that start like a formula; neutralise them (OWASP CSV injection).
    if value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _joined(items: Iterable[str]) -> str:
    return ";".join(item.replace(";", ",") for item in items)


def _issuer_name(issuer: Issuer | None) -> str | None:
    if issuer is None:
        return None
    return issuer.organization or issuer.common_name


def _generator(node: ChainNode) -> str | None:
    if node.claim_generator is None:
        return None
    if node.claim_generator_version:
        return f"{node.claim_generator} {node.claim_generator_version}"
    return node.claim_generator


def csv_row(report: Report) -> dict[str, str | int]:
    """Flatten one report into the CSV columns of ``spec/csv.md``.

    Parameters
    ----------
    report
        The report to flatten.

    Returns
    -------
    dict
        One value per name in :data:`CSV_COLUMNS`; absent values are empty strings.
    """
    d = report.to_dict()
    node = report.chain
    issuer = node.issuer if node is not None else None
    row: dict[str, str | int | None] = {
        "path": report.subject.path,
        "size": report.subject.size,
        "sha256": report.subject.sha256,
        "media_type": report.subject.media_type,
        "width": report.subject.width,
        "height": report.subject.height,
        "verdict": report.verdict.value,
        "ai_label": report.ai.label.value,
        "issuer": _issuer_name(issuer),
        "issuer_common_name": issuer.common_name if issuer else None,
        "issuing_ca": issuer.issuing_ca if issuer else None,
        "signing_time": node.signing_time if node else None,
        "signing_time_source": node.signing_time_source if node else None,
        "claim_generator": _generator(node) if node else None,
        "manifest_label": node.label if node else None,
        "actions": _joined(a.action for a in node.actions) if node else None,
        "ingredients": len(node.ingredients) if node else None,
        "ai_signals": _joined(s.kind for s in report.ai.signals),
        "failure_codes": _joined(f.code for f in report.failures),
        "summary": " ".join(report.summary),
        "error_code": report.error.code if report.error else None,
        "error_message": report.error.message if report.error else None,
        "remote_manifest_url": report.remote_manifest_url,
        "recovered_manifest_id": report.recovery.manifest_id if report.recovery else None,
        "watermarks_found": _joined(w.algorithm for w in report.watermarks if w.found),
        "bank_matches": _joined(
            f"{m.bank}:{m.entry_id}:{m.distance}:{m.band}" for m in report.matches
        ),
        "trust_sources": _joined(t.name for t in report.tool.trust_sources),
        "tool_version": report.tool.version,
        "c2pa_sdk": report.tool.c2pa_sdk,
        "analyzed_at": report.tool.analyzed_at,
        "schema": d["schema"],
    }
    return {k: _cell(v) for k, v in row.items()}


class CsvFormat(ReportFormat):
    """A header row, then one row per input, flushed per row."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")

    def start(self, count: int) -> None:
        self._writer.writeheader()
        self.stream.flush()

    def write(self, report: Report, record: dict[str, Any] | None = None) -> None:
        self._writer.writerow(csv_row(report))
        self.stream.flush()


# --------------------------------------------------------------------------------- text

_VERDICT_STYLE: dict[Verdict, tuple[str, str]] = {
    Verdict.TRUSTED: ("bold white on green", "Trusted Content Credentials"),
    Verdict.VALID_UNTRUSTED: (
        "bold black on yellow",
        "Content Credentials from an issuer you have not configured as trusted",
    ),
    Verdict.INCOMPLETE: ("bold black on dark_orange", "Incomplete: changed after signing"),
    Verdict.INVALID: ("bold white on red", "Invalid Content Credentials"),
    Verdict.NO_CREDENTIALS: ("bold white on grey39", "No Content Credentials"),
    Verdict.RECOVERED: ("bold black on cyan", "Content Credentials recovered"),
    Verdict.ERROR: ("bold white on magenta", "Could not be checked"),
}

_BORDER: dict[Verdict, str] = {
    Verdict.TRUSTED: "green",
    Verdict.VALID_UNTRUSTED: "yellow",
    Verdict.INCOMPLETE: "dark_orange",
    Verdict.INVALID: "red",
    Verdict.NO_CREDENTIALS: "grey50",
    Verdict.RECOVERED: "cyan",
    Verdict.ERROR: "magenta",
}

_AI_WORDS: dict[AiLabel, str] = {
    AiLabel.AI_GENERATED: "AI-generated",
    AiLabel.AI_EDITED: "AI-edited",
    AiLabel.CAPTURED: "Camera-captured",
    AiLabel.UNKNOWN: "No AI disclosure found",
}

_AI_STYLE: dict[AiLabel, str] = {
    AiLabel.AI_GENERATED: "bold magenta",
    AiLabel.AI_EDITED: "magenta",
    AiLabel.CAPTURED: "green",
    AiLabel.UNKNOWN: "dim",
}

_UNRELIABLE = "not to be relied on"
_UNKNOWN_ISSUER = "issuer not on your trust lists"


def _ingredient_qualifier(report: Report) -> str | None:
    """A warning for the verdict line when the active manifest validated but an ingredient
    did not (read from the report: the verdict itself is not recomputed)."""
    if report.verdict not in (Verdict.TRUSTED, Verdict.VALID_UNTRUSTED):
        return None
    broken = len(report.unreliable_ingredients)
    if not broken:
        return None
    if broken == 1:
        return "— but an ingredient failed validation"
    return f"— but {broken} ingredients failed validation"


def _size_words(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def _issuer_words(issuer: Issuer | None) -> str | None:
    if issuer is None:
        return None
    names = [n for n in (issuer.organization, issuer.common_name) if n]
    if not names:
        return None
    if len(names) == 2 and names[0] != names[1]:
        return f"{names[0]} ({names[1]})"
    return names[0]


class TextFormat(ReportFormat):
    """A Rich panel per file, for people.

    Parameters
    ----------
    stream
        Where to write. Colour is used only when it is a terminal.
    verbose
        Add raw codes, certificate details, trust sources and tool versions.
    """

    def __init__(self, stream: TextIO, *, verbose: bool = False) -> None:
        super().__init__(stream)
        self.verbose = verbose
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        """The Rich console writing to the stream (created on first use)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=False)
        return self._console

    def write(self, report: Report, record: dict[str, Any] | None = None) -> None:
        from rich.panel import Panel
        from rich.text import Text

        subtitle = self._subtitle(report)
        panel = Panel(
            self._body(report),
            title=Text(report.subject.path, style="bold"),
            title_align="left",
            subtitle=Text(subtitle) if subtitle else None,
            subtitle_align="right",
            border_style=_BORDER[report.verdict],
        )
        self.console.print(panel)
        self.stream.flush()

    # -- pieces -------------------------------------------------------------------------

    @staticmethod
    def _subtitle(report: Report) -> str:
        s = report.subject
        parts: list[str] = []
        if s.media_type:
            parts.append(s.media_type)
        if s.width is not None and s.height is not None:
            parts.append(f"{s.width}×{s.height}")
        if s.size is not None:
            parts.append(_size_words(s.size))
        return " · ".join(parts)

    def _body(self, report: Report) -> RenderableType:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        style, words = _VERDICT_STYLE[report.verdict]
        parts: list[RenderableType] = []
        qualifier = _ingredient_qualifier(report)
        if qualifier is not None:  # "TRUSTED — but an ingredient failed validation"
            headline = Text.assemble(
                (f" {report.verdict.value}", style), " ", (qualifier, "bold red")
            )
        else:
            headline = Text.assemble((f" {report.verdict.value} ", style), "  ", (words, "bold"))
        parts.append(headline)
        if report.summary:
            bullets = Table.grid(padding=(0, 1))
            bullets.add_column(no_wrap=True)
            bullets.add_column()
            for sentence in report.summary:
                bullets.add_row("•", Text(sentence))
            for gap in report.not_checked:
                bullets.add_row("•", Text(gap, style="dim"))
            parts.append(bullets)

        if report.error is not None and report.error.message not in report.summary:
            line = Text.assemble(("Reason: ", "bold"), report.error.message)
            if self.verbose:
                line.append(f"  [{report.error.code}]", style="dim")
            parts.append(line)

        node = report.chain
        if report.verdict is not Verdict.ERROR:
            parts.append(Text(""))
            parts.append(self._facts(report))
            if node is not None and not node.reliable:
                parts.append(
                    Text(
                        "The details above come from credentials that failed validation: "
                        f"{_UNRELIABLE}.",
                        style="bold red",
                    )
                )

        if report.recovery is not None and report.recovery.error is not None:
            r = report.recovery
            parts.append(Text.assemble(("Recovery failed: ", "bold red"), f"{r.error.message}"))
        elif report.recovery is not None:
            r = report.recovery
            parts.append(
                Text.assemble(
                    ("Recovered: ", "bold"),
                    f"manifest {r.manifest_id} via {r.method} from {r.source}",
                )
            )

        if node is not None:
            parts.append(Text(""))
            parts.append(self._tree(node))

        if report.failures and self.verbose:
            parts.append(Text(""))
            parts.append(Text("Failures", style="bold"))
            for f in report.failures:
                line = Text("✗ ", style="red")
                line.append(f.message)
                line.append(f"  [{f.code}]", style="dim")
                where = f.manifest or "active manifest"
                line.append(f" in {where}", style="dim")
                if f.origin == "ingredient_record":
                    line.append(" (recorded when the ingredient was added)", style="dim")
                parts.append(line)
                if f.explanation:
                    parts.append(Text("    SDK: " + f.explanation, style="dim"))

        extra = self._extra_sections(report)
        if extra:
            parts.append(Text(""))
            parts.extend(extra)

        if self.verbose:
            parts.append(Text(""))
            parts.extend(self._details(report))
        return Group(*parts)

    def _facts(self, report: Report) -> Table:
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        label = report.ai.label
        grid.add_row("AI:", Text(_AI_WORDS[label], style=_AI_STYLE[label]))
        strong = [s for s in report.ai.signals if s.implies == label]
        shown = report.ai.signals if self.verbose else tuple(strong[:1])
        for sig in shown:
            signed = "signed" if sig.signed else "not signed"
            grid.add_row(
                "",
                Text(
                    f"{sig.kind}: {sig.value} ({sig.strength}, {signed}; {sig.source})",
                    style="dim",
                ),
            )
        return grid

    def _node_label(self, node: ChainNode) -> Text:
        from rich.text import Text

        title = node.title or node.label or "untitled"
        label = Text()
        if node.relationship:
            label.append(f"{node.relationship}: ", style="italic")
        label.append(title, style="bold" if node.reliable else "bold dim")
        issuer = _issuer_words(node.issuer)
        if node.label is None:
            label.append(" — no Content Credentials", style="dim")
        else:
            if issuer:
                label.append(f" — issued by {issuer}", style=None if node.reliable else "dim")
            if node.signing_time:
                label.append(f" on {node.signing_time}", style=None if node.reliable else "dim")
        if node.reliable:
            if node.label is not None and node.trusted is False:
                label.append(f"  ✓ intact, {_UNKNOWN_ISSUER}", style="yellow")
            elif node.label is not None:
                label.append("  ✓", style="green")
        else:
            label.append(f"  ✗ {_UNRELIABLE}", style="bold red")
        return label

    def _tree(self, node: ChainNode) -> Tree:
        from rich.tree import Tree

        tree = Tree(self._node_label(node), guide_style="dim")
        self._fill(tree, node)
        return tree

    def _fill(self, tree: Tree, node: ChainNode) -> None:
        from rich.text import Text

        dim = None if node.reliable else "dim"
        for action in node.actions:
            line = Text(action.label, style=dim)
            if action.software_agent:
                line.append(f" with {action.software_agent}", style=dim)
            if action.digital_source_type:
                line.append(f" ({action.digital_source_type.rsplit('/', 1)[-1]})", style=dim)
            if self.verbose:
                line.append(f"  [{action.action}]", style="dim")
            tree.add(line)
        if self.verbose and node.issuer is not None:
            iss = node.issuer
            cert = Text(style="dim")
            cert.append(f"certificate: issuing CA {iss.issuing_ca or 'not stated'}")
            cert.append(f", serial {iss.serial_number or 'not stated'}")
            cert.append(f", signing time source {node.signing_time_source or 'none'}")
            if node.label:
                cert.append(f", manifest {node.label}")
            tree.add(cert)
        problems = node.problems
        for failure in node.failures:
            if failure in problems:
                line = Text("✗ " + failure.message, style="red")
            else:  # trust-only: the manifest is intact, its issuer unknown
                line = Text("! " + failure.message, style="yellow")
            if self.verbose:
                line.append(f"  [{failure.code}]", style="dim")
            tree.add(line)
        for ingredient in node.ingredients:
            branch = tree.add(self._node_label(ingredient))
            self._fill(branch, ingredient)

    def _extra_sections(self, report: Report) -> list[RenderableType]:
        from rich.text import Text

        out: list[RenderableType] = []
        for w in report.watermarks:
            state = "found" if w.found else "not found"
            line = Text.assemble(("Watermark: ", "bold"), f"{w.algorithm} {state}")
            if w.payload_hex:
                line.append(f", payload {w.payload_hex}")
            line.append(f" (score {w.score:.3g}, p-value {w.p_value:.3g})", style="dim")
            out.append(line)
        for m in report.matches:
            line = Text.assemble(
                ("Known content: ", "bold"),
                f"{m.band} — bank {m.bank} entry {m.entry_id}, distance {m.distance}",
            )
            if m.variant != "identity":
                line.append(f" ({m.variant})")
            out.append(line)
        for fact in report.metadata:
            out.append(Text.assemble(("Metadata: ", "bold"), fact.message))
        if report.remote_manifest_url:
            out.append(Text.assemble(("Remote manifest: ", "bold"), report.remote_manifest_url))
        return out

    def _details(self, report: Report) -> list[RenderableType]:
        from rich.table import Table
        from rich.text import Text

        s = report.subject
        t = report.tool
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        grid.add_row("sha256:", s.sha256 or "not computed")
        grid.add_row("media type:", s.media_type or "unknown")
        grid.add_row("analysed at:", t.analyzed_at)
        grid.add_row("tool:", f"jinjja {t.version}, C2PA SDK {t.c2pa_sdk or 'not available'}")
        if not t.trust_sources:
            grid.add_row("trust source:", "none configured")
        for src in t.trust_sources:
            issued = f", issued {src.issued}" if src.issued else ""
            grid.add_row(
                "trust source:",
                f"{src.name} ({src.certificates} certificates{issued}; "
                f"sha256 {src.sha256[:16]}…; {src.location})",
            )
        return [Text("Details", style="bold"), grid]


class HtmlFormat(ReportFormat):
    """One self-contained HTML page (counts, a filterable table, a detail per file)."""

    def __init__(
        self, stream: TextIO, *, thumbnails: str = "full", lang: str | None = None
    ) -> None:
        super().__init__(stream)
        from provenance import render  # jinja2 and the templates only load for HTML output

        chosen = render.Lang(lang) if lang is not None else render.default_lang()
        self._page = render.HtmlCheckReport(
            stream, lang=chosen, thumbnails=render.Thumbnails(thumbnails)
        )

    def write(self, report: Report, record: dict[str, Any] | None = None) -> None:
        self._page.write(report)

    def finish(self) -> None:
        self._page.finish()


def make_format(
    fmt: OutputFormat,
    stream: TextIO,
    *,
    verbose: bool = False,
    thumbnails: str = "full",
    lang: str | None = None,
) -> ReportFormat:
    """Return the :class:`ReportFormat` for a ``--format`` value.

    Parameters
    ----------
    fmt
        The chosen format.
    stream
        Where the reports go.
    verbose
        Text format only: add raw codes and certificate details.
    thumbnails, lang
        HTML format only: ``full``/``blur``/``none``, and ``ko``/``en`` (None: the locale).

    Returns
    -------
    ReportFormat
        A fresh formatter bound to ``stream``.
    """
    match fmt:
        case OutputFormat.TABLE | OutputFormat.TEXT:
            return TextFormat(stream, verbose=verbose)
        case OutputFormat.JSON:
            return JsonFormat(stream)
        case OutputFormat.JSONL:
            return JsonLinesFormat(stream)
        case OutputFormat.CSV:
            return CsvFormat(stream)
        case OutputFormat.HTML:
            return HtmlFormat(stream, thumbnails=thumbnails, lang=lang)
        case _:
            assert_never(fmt)
