"""Robust keyed frequency-domain watermark for images and video frames (numpy/scipy only)."""

__all__: list[str] = []
