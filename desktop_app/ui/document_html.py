"""The order document before and after a change, as an HTML table (changed rows highlighted):
the audit view's details pane and the preview before a change draw it the same way."""

from __future__ import annotations

import html

from desktop_app.application.business_summaries import DocumentDiff

_CHANGE_STYLE = {
    "added": "background:#dcfce7",
    "removed": "background:#fee2e2; text-decoration: line-through",
    "changed": "background:#fef9c3",
    "same": "",
}


def document_html(
    diff: DocumentDiff,
    first: int,
    last: int,
    *,
    before_label: str | None = None,
    after_label: str | None = None,
    title: str | None = None,
) -> str:
    """The order document before and after, as a table: changed rows highlighted. The
    columns are named by version (``first - 1`` and ``last``) unless labels are given."""
    was = before_label or (f"v{first - 1:,}" if first > 1 else "before the order")
    now = after_label or f"v{last:,}"
    heading = title or f"The order document, {was} → {now}"
    parts = [
        f"<h4>{html.escape(heading)}</h4>",
        "<table cellspacing='0' cellpadding='3' border='1' style='border-collapse:collapse'>",
        f"<tr><th></th><th>{html.escape(was)}</th><th>{html.escape(now)}</th></tr>",
    ]
    rows = [r for r in diff.header if r.before or r.after]
    for row in [*rows, *diff.lines, diff.total]:
        style = _CHANGE_STYLE[row.change]
        cell = f" style='{style}'" if style else ""
        parts.append(
            f"<tr{cell}><td nowrap><b>{html.escape(row.label)}</b></td>"
            f"<td>{html.escape(row.before) or '—'}</td>"
            f"<td>{html.escape(row.after) or '—'}</td></tr>"
        )
    parts.append("</table>")
    return "".join(parts)


__all__ = ["document_html"]
