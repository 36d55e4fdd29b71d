"""The run report: a self-contained HTML page with plotly charts, and a CloudFormation snippet.

Everything here but ``publish`` is pure: a RunResult and the search traces in, strings out.
"""

from rightsizing.report.html import render_html
from rightsizing.report.snippet import endpoint_snippet

__all__ = ["endpoint_snippet", "render_html"]
