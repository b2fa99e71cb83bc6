"""The ``verify`` command line (Typer + Rich).

All logic lives in ``provenance`` and ``watermark``; this package parses, renders and exits.
"""

__all__: list[str] = []
