"""The ``verify`` command line (Typer + Rich). All logic lives in ``provenance`` and ``watermark``."""

__all__: list[str] = []
