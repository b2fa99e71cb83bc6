"""Self-contained HTML reports for ``verify check`` and for monitoring cases.

Templates ship in the package (``templates/``); pages carry their CSS and script inline and
load nothing from the network. See :mod:`provenance.render.html` (check reports),
:mod:`provenance.render.case` (case pages), :mod:`provenance.render.messages` (the English
and Korean UI strings) and :mod:`provenance.render.thumbnails`.
"""

from provenance.render.case import (
    CaseUrl,
    Evidence,
    Visit,
    case_url_from_dict,
    render_case_page,
)
from provenance.render.html import (
    CSP_CASE,
    CSP_CHECK,
    HtmlCheckReport,
    link_target,
    render_check_report,
)
from provenance.render.messages import MESSAGES, Lang, default_lang
from provenance.render.thumbnails import Thumbnails, file_thumbnail

__all__ = [
    "CSP_CASE",
    "CSP_CHECK",
    "MESSAGES",
    "CaseUrl",
    "Evidence",
    "HtmlCheckReport",
    "Lang",
    "Thumbnails",
    "Visit",
    "case_url_from_dict",
    "default_lang",
    "file_thumbnail",
    "link_target",
    "render_case_page",
    "render_check_report",
]
