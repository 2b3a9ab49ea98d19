"""Shareable reports of stored runs: one self-contained HTML file, or Markdown for an issue.

The CLI (``llamaburn report``), the API (``GET /api/report``) and the UI ("Download report") are faces over
``build_report`` and ``render``; nothing here imports a face, NiceGUI or FastAPI.
"""

from llamaburn.report.document import Report, build_report
from llamaburn.report.render import FORMATS, MEDIA_TYPES, Format, filename, render

__all__ = ["FORMATS", "MEDIA_TYPES", "Format", "Report", "build_report", "filename", "render"]
