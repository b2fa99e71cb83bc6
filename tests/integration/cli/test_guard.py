"""Whatever escapes a command becomes one line and a documented exit code, never a traceback."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from provenance.errors import CertificateError, InputFileError
from verify_cli.exit_codes import ExitCode
from verify_cli.guard import guarded


def _app(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def boom(verbose: bool = typer.Option(False, "--verbose")) -> None:
        raise exc

    app.registered_commands[0].callback = guarded(app.registered_commands[0].callback)
    return app


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (
            InputFileError("no such file", detail={"path": "a.jpg"}),
            ExitCode.INPUT_ERROR,
            "verify: a.jpg: no such file",
        ),
        (CertificateError("the certificate has expired"), ExitCode.USAGE, "verify: the cert"),
        (RuntimeError("kaboom"), ExitCode.INTERNAL, "verify: "),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED, "verify: interrupted"),
    ],
)
def test_escaping_errors_become_one_line(exc: BaseException, code: int, line: str) -> None:
    res = CliRunner().invoke(_app(exc), [])
    assert res.exit_code == code
    assert res.output.startswith(line) and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_verbose_shows_the_traceback_of_a_bug() -> None:
    res = CliRunner().invoke(_app(RuntimeError("kaboom")), ["--verbose"])
    assert res.exit_code == ExitCode.INTERNAL and "Traceback" in res.output


def test_every_verify_command_is_guarded() -> None:
    from verify_cli.app import app

    def walk(group: typer.Typer) -> list[object]:
        out = [c.callback for c in group.registered_commands]
        for info in group.registered_groups:
            if info.typer_instance is not None:
                out += walk(info.typer_instance)
        return out

    callbacks = walk(app)
    assert callbacks and all(hasattr(cb, "__wrapped__") for cb in callbacks)


@pytest.mark.parametrize(
    ("path", "message", "line"),
    [
        ("a.db", "no such file", "verify: a.db: no such file"),
        ("a.db", "a.db is not a bank", "verify: a.db: is not a bank"),
        ("a.db", "a.db: damaged", "verify: a.db: damaged"),
        (None, "no such bank: a.db", "verify: no such bank: a.db"),
    ],
)
def test_problem_line_names_the_path_once(path: str | None, message: str, line: str) -> None:
    from verify_cli.guard import problem_line

    assert problem_line(path, message) == line
