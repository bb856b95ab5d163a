"""Server-side SVG for survey results: the SERVQUAL gap chart (perception − expectation).

Same conventions as `slas.charts`: plain functions from figures to SVG text, a <title> and
<desc> read through `aria-labelledby`, and the page shows the same numbers in a table.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

_ids = count(1)

NEGATIVE, POSITIVE, ZERO_LINE, GRID = "#b00020", "#1e7e34", "#5b6670", "#dde3ea"
# A gap is at most 6 points either way on a 1–7 scale.
MAX_GAP = 6


@dataclass(frozen=True)
class GapBar:
    label: str
    gap: float | None  # None: withheld (too few respondents) or nothing answered


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def gap_chart(
    *,
    title: str,
    desc: str,
    bars: Sequence[GapBar],
    width: int = 560,
    label_width: int = 130,
    row_height: int = 30,
) -> SafeString:
    """Horizontal bars around a zero line, one row per dimension: red to the left where the
    service falls short of expectations, green to the right where it exceeds them."""
    ident = f"gapchart{next(_ids)}"
    top, bottom, right = 10, 34, 48
    height = top + bottom + row_height * max(len(bars), 1)
    known = [abs(bar.gap) for bar in bars if bar.gap is not None]
    # Symmetric scale rounded up to a whole point so small gaps stay readable.
    scale = min(MAX_GAP, max(1, math.ceil(max(known, default=0) or 1)))
    plot_left = label_width
    plot_w = width - plot_left - right
    zero_x = plot_left + plot_w / 2

    def x_at(value: float) -> float:
        return zero_x + (plot_w / 2) * value / scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart gap-chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    ]
    plot_bottom = height - bottom
    for tick in range(-scale, scale + 1):
        x = x_at(tick)
        tick_text = "0" if tick == 0 else f"{tick:+d}".replace("-", "−")
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{plot_bottom}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{plot_bottom + 13}" text-anchor="middle" font-size="11">'
            f"{tick_text}</text>"
        )
    for index, bar in enumerate(bars):
        y = top + row_height * index
        middle = y + row_height / 2
        parts.append(
            f'<g class="gap-bar"><text x="{plot_left - 8}" y="{middle + 4:.1f}" '
            f'text-anchor="end" font-size="13">{escape(bar.label)}</text>'
        )
        if bar.gap is None:
            parts.append(
                f"<title>{escape(bar.label)}: {escape(_('not shown'))}</title>"
                f'<text x="{zero_x + 6:.1f}" y="{middle + 4:.1f}" font-size="11" '
                f'fill="#5b6670">{escape(_("not shown"))}</text></g>'
            )
            continue
        end = x_at(bar.gap)
        left, bar_w = min(zero_x, end), abs(end - zero_x)
        colour = NEGATIVE if bar.gap < 0 else POSITIVE
        text = _signed(bar.gap)
        text_x, anchor = (end - 4, "end") if bar.gap < 0 else (end + 4, "start")
        parts.append(
            f"<title>{escape(bar.label)}: {text}</title>"
            f'<rect x="{left:.1f}" y="{y + 6}" width="{max(bar_w, 1):.1f}" '
            f'height="{row_height - 12}" fill="{colour}" data-label="{escape(bar.label)}" '
            f'data-gap="{bar.gap:.2f}"/>'
            f'<text x="{text_x:.1f}" y="{middle + 4:.1f}" text-anchor="{anchor}" '
            f'font-size="12">{text}</text></g>'
        )
    parts.append(
        f'<line x1="{zero_x:.1f}" y1="{top}" x2="{zero_x:.1f}" y2="{plot_bottom}" '
        f'stroke="{ZERO_LINE}" stroke-width="1.5"/>'
        f'<text x="{zero_x:.1f}" y="{height - 4}" text-anchor="middle" font-size="11" '
        f'class="axis-label">{escape(_("Gap (perception − expectation)"))}</text></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
