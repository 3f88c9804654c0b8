"""PDF reports: the machinery (`app.reports.pdf`) that renders a report template to A4 PDF.

Reports themselves live with the area whose figures they print (the district's supervision report in
app/district/report.py); they import from here:

    from app.reports import pdf_response, render_pdf
"""
from .pdf import (
    BASE_TEMPLATE,
    PDF_MIMETYPE,
    REPORT_ORIGIN,
    ResourceRefused,
    StaticOnlyFetcher,
    collector_paused,
    css_string,
    generated_at_text,
    page_margin_css,
    pdf_response,
    printable_svg,
    render_html,
    render_pdf,
)

__all__ = [
    "BASE_TEMPLATE",
    "PDF_MIMETYPE",
    "REPORT_ORIGIN",
    "ResourceRefused",
    "StaticOnlyFetcher",
    "collector_paused",
    "css_string",
    "generated_at_text",
    "page_margin_css",
    "pdf_response",
    "printable_svg",
    "render_html",
    "render_pdf",
]
