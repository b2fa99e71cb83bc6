"""check() never raises, whatever the bytes: truncations and byte flips of signed files."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance import check_bytes
from provenance.report import Verdict

_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_SETTINGS
@given(
    which=st.sampled_from(["jpeg_es256", "png", "webp", "mp4", "publish"]),
    cut=st.floats(min_value=0.0, max_value=1.0),
)
def test_truncated_signed_files(signed, which, cut):
    data = getattr(signed, which).read_bytes()
    part = data[: int(len(data) * cut)]
    report = check_bytes(part, name=f"cut.{which}")
    assert isinstance(report.verdict, Verdict)
    if report.verdict is Verdict.ERROR:
        assert report.error is not None and report.error.message
    report.to_dict()


@_SETTINGS
@given(
    which=st.sampled_from(["jpeg_es256", "png", "webp", "mp4", "publish"]),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(1, 255)), min_size=1, max_size=8),
)
def test_flipped_bytes(signed, which, flips):
    data = bytearray(getattr(signed, which).read_bytes())
    for where, mask in flips:
        data[min(len(data) - 1, int(len(data) * where))] ^= mask
    report = check_bytes(bytes(data), name=f"flip.{which}")
    assert report.verdict is not Verdict.TRUSTED or report.failures == ()
    report.to_dict()


@_SETTINGS
@given(data=st.binary(min_size=1, max_size=512))
def test_arbitrary_bytes(data):
    report = check_bytes(data, name="blob")
    assert report.verdict in (Verdict.ERROR, Verdict.NO_CREDENTIALS)
