"""Server-side SVG charts for the heads' pages: plain functions from figures to SVG text.

Every chart carries a <title> and <desc> (read by screen readers through `aria-labelledby`);
the pages also show the same numbers in a table. Labels arrive translated from the caller;
the few words drawn here are translated with gettext.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from itertools import count

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

_ids = count(1)

GREEN, AMBER, RED, GREY = "#1e7e34", "#c77700", "#b00020", "#8a94a0"
SERIES_COLOURS = ("#1f5fa8", "#c77700", "#1e7e34", "#7b3fa0")


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _open(
    width: int, height: int, title: str, desc: str, css_class: str, role: str = "img"
) -> tuple[str, str]:
    """The opening <svg> with its title and description. A picture is one image to assistive
    technology ("img"); a chart with links inside is a "group", so its links stay reachable."""
    ident = f"chart{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" role="{role}" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{ident}-title {ident}-desc">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
    )
    return ident, head


def bar_chart(
    *,
    title: str,
    desc: str,
    bars: Sequence[tuple[str, int | float]],
    x_label: str,
    y_label: str,
    width: int = 480,
    height: int = 220,
) -> SafeString:
    """Vertical bars, one per (label, value), with value labels and both axis titles."""
    _ident, svg = _open(width, height, title, desc, "bar-chart")
    left, right, top, bottom = 48, 10, 14, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((value for _label, value in bars), default=0) or 1
    parts = [svg]
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'class="axis" stroke="#5b6670"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis" '
        'stroke="#5b6670"/>'
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="10">'
        f"{_number(peak)}</text>"
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="10">0</text>'
    )
    slot = plot_w / max(len(bars), 1)
    bar_w = max(min(slot * 0.7, 60), 2)
    for index, (label, value) in enumerate(bars):
        bar_h = plot_h * value / peak
        x = left + slot * index + (slot - bar_w) / 2
        y = top + plot_h - bar_h
        parts.append(
            f'<g class="bar"><title>{escape(label)}: {_number(value)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{bar_h:.1f}" '
            f'fill="{SERIES_COLOURS[0]}" data-label="{escape(label)}" '
            f'data-value="{_number(value)}"/>'
            f'<text x="{x + bar_w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
            f'font-size="10">{_number(value)}</text>'
            f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
            f'font-size="10">{escape(label)}</text></g>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'font-size="11" class="axis-label">{escape(x_label)}</text>'
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="11" '
        f'class="axis-label" transform="rotate(-90 12 {top + plot_h / 2:.1f})">'
        f"{escape(y_label)}</text></svg>"
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # None: nothing measured at that point


def line_chart(
    *,
    title: str,
    desc: str,
    labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    y_max: float = 100,
    width: int = 560,
    height: int = 240,
) -> SafeString:
    """Lines over shared x labels (e.g. weeks) on a fixed 0..y_max scale, with a legend.
    A missing value breaks the line; a lone point still shows as a dot."""
    _ident, svg = _open(width, height, title, desc, "line-chart")
    left, right, top, bottom = 48, 10, 26, 48
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [svg]
    for tick in (0, y_max / 2, y_max):
        y = top + plot_h - plot_h * tick / y_max
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            'stroke="#dde3ea"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10">'
            f"{_number(tick)}</text>"
        )
    parts.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" class="axis" '
        'stroke="#5b6670"/>'
    )
    step = plot_w / max(len(labels) - 1, 1)

    def x_at(index: int) -> float:
        return left + (step * index if len(labels) > 1 else plot_w / 2)

    label_every = max(1, math.ceil(len(labels) / 10))
    for index, label in enumerate(labels):
        if index % label_every == 0:
            parts.append(
                f'<text x="{x_at(index):.1f}" y="{top + plot_h + 14}" text-anchor="middle" '
                f'font-size="10">{escape(label)}</text>'
            )
    for number, line in enumerate(series):
        colour = SERIES_COLOURS[number % len(SERIES_COLOURS)]
        segments: list[list[str]] = [[]]
        dots = []
        for index, value in enumerate(line.values):
            if value is None:
                segments.append([])
                continue
            x, y = x_at(index), top + plot_h - plot_h * value / y_max
            segments[-1].append(f"{x:.1f},{y:.1f}")
            dots.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(line.name)}, {escape(labels[index])}: "
                f"{_number(value)}</title></circle>"
            )
        parts.append(f'<g class="series" data-series="{escape(line.name)}">')
        for points in segments:
            if len(points) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                    f'points="{" ".join(points)}"/>'
                )
        parts.extend(dots)
        parts.append("</g>")
        legend_x = left + 8 + number * 170
        parts.append(
            f'<rect x="{legend_x}" y="6" width="12" height="12" fill="{colour}"/>'
            f'<text x="{legend_x + 16}" y="16" font-size="11">{escape(line.name)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'font-size="11" class="axis-label">{escape(x_label)}</text>'
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" font-size="11" '
        f'class="axis-label" transform="rotate(-90 12 {top + plot_h / 2:.1f})">'
        f"{escape(y_label)}</text></svg>"
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def compliance_colour(percent: float | None) -> str:
    """Green at 90 % or more, amber at 75 % or more, red below, grey when nothing measured."""
    if percent is None:
        return GREY
    if percent >= 90:
        return GREEN
    if percent >= 75:
        return AMBER
    return RED


@dataclass(frozen=True)
class MapNode:
    key: int
    label: str


@dataclass(frozen=True)
class MapEdge:
    consumer: int
    provider: int
    tickets: int
    compliance_percent: float | None
    href: str
    text: str  # the edge's accessible description, e.g. "HR → IT: 12 tickets, 91 %"


def _compliance_legend(*, top: float, width: float) -> str:
    """The four compliance colours in a row, as the map and the grid use them."""
    legend = (
        # xgettext:no-python-format
        (GREEN, _("≥ 90 % resolved in time")),
        (AMBER, _("75–90 %")),
        (RED, _("below 75 %")),
        (GREY, _("nothing measured")),
    )
    parts = []
    for index, (colour, text) in enumerate(legend):
        x = 10 + index * (width - 20) / 4
        parts.append(
            f'<g class="legend"><rect x="{x:.1f}" y="{top}" width="14" height="14" '
            f'fill="{colour}"/><text x="{x + 18:.1f}" y="{top + 12}" font-size="11">'
            f"{escape(text)}</text></g>"
        )
    return "".join(parts)


def service_matrix(
    *,
    title: str,
    desc: str,
    consumers: Sequence[MapNode],
    providers: Sequence[MapNode],
    edges: Sequence[MapEdge],
    cell: int = 26,
) -> SafeString:
    """The service map as a grid for many departments: a row per consumer, a column per
    provider, each relationship a linked cell coloured by compliance and showing its ticket
    count; the busiest rows and columns first. Node-link drawings turn into a blot beyond a
    dozen departments; a grid stays readable with fifty."""
    label_w, label_h = 150, 84
    width = max(label_w + cell * max(len(providers), 1) + 70, 560)  # room for rotated heads
    height = label_h + cell * max(len(consumers), 1) + 70
    ident, svg = _open(width, height, title, desc, "service-matrix", role="group")
    column = {node.key: index for index, node in enumerate(providers)}
    row = {node.key: index for index, node in enumerate(consumers)}
    parts = [svg]
    for node in providers:  # column heads, rotated so long names fit
        x = label_w + column[node.key] * cell + cell / 2 + 4
        parts.append(
            f'<text x="{x:.1f}" y="{label_h - 6}" font-size="11" '
            f'transform="rotate(-60 {x:.1f} {label_h - 6})">{escape(node.label)}</text>'
        )
    for node in consumers:
        y = label_h + row[node.key] * cell + cell / 2 + 4
        parts.append(
            f'<text x="{label_w - 6}" y="{y:.1f}" font-size="11" text-anchor="end">'
            f"{escape(node.label)}</text>"
        )
    parts.append(
        f'<rect x="{label_w}" y="{label_h}" width="{cell * len(providers)}" '
        f'height="{cell * len(consumers)}" fill="#ffffff" stroke="#c9d1d9"/>'
    )
    for edge in edges:
        if edge.consumer not in row or edge.provider not in column:
            continue
        x = label_w + column[edge.provider] * cell
        y = label_h + row[edge.consumer] * cell
        colour = compliance_colour(edge.compliance_percent)
        # White on green and red, dark on amber and grey: 4.5:1 contrast or more.
        ink = ' class="on-dark" fill="#ffffff"' if colour in (GREEN, RED) else ' fill="#1b1f23"'
        count = f"{edge.tickets}" if edge.tickets < 1000 else f"{edge.tickets / 1000:.0f}k"
        parts.append(
            f'<a href="{escape(edge.href)}" class="cell" data-consumer="{edge.consumer}" '
            f'data-provider="{edge.provider}" data-tickets="{edge.tickets}">'
            f"<title>{escape(edge.text)}</title>"
            f'<rect x="{x + 1}" y="{y + 1}" width="{cell - 2}" height="{cell - 2}" '
            f'fill="{colour}"/><text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" '
            f'font-size="{9 if len(count) > 2 else 10}" text-anchor="middle"{ink}>'
            f"{count}</text></a>"
        )
    parts.append(_compliance_legend(top=height - 56, width=width))
    axis = _("Rows: consumer departments; columns: providers; number: tickets.")
    parts.append(f'<text x="10" y="{height - 14}" font-size="11">{escape(axis)}</text></svg>')
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def service_map(
    *,
    title: str,
    desc: str,
    nodes: Sequence[MapNode],
    edges: Sequence[MapEdge],
    size: int = 640,
) -> SafeString:
    """Departments on a circle, consumer → provider arrows (width by volume, colour by
    compliance), each arrow a link; a legend for the colours."""
    ident, svg = _open(size, size + 70, title, desc, "service-map", role="group")
    centre, radius = size / 2, size / 2 - 90
    position: dict[int, tuple[float, float]] = {}
    for index, node in enumerate(nodes):
        angle = 2 * math.pi * index / max(len(nodes), 1) - math.pi / 2
        position[node.key] = (
            centre + radius * math.cos(angle),
            centre + radius * math.sin(angle),
        )
    parts = [svg, "<defs>"]
    for colour in (GREEN, AMBER, RED, GREY):
        parts.append(
            f'<marker id="{ident}-arrow-{colour[1:]}" viewBox="0 0 10 10" refX="10" refY="5" '
            'markerWidth="6" markerHeight="6" markerUnits="userSpaceOnUse" orient="auto">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    parts.append("</defs>")
    peak = max((edge.tickets for edge in edges), default=0) or 1
    node_radius = 26
    for edge in edges:
        if edge.consumer not in position or edge.provider not in position:
            continue
        if edge.consumer == edge.provider:
            continue  # a department serving itself: listed in the table, not drawn
        (x1, y1), (x2, y2) = position[edge.consumer], position[edge.provider]
        length = math.hypot(x2 - x1, y2 - y1) or 1
        # Stop at the nodes' rims, and shift sideways so A→B and B→A do not overlap.
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        off_x, off_y = -uy * 5, ux * 5
        sx, sy = x1 + ux * node_radius + off_x, y1 + uy * node_radius + off_y
        ex, ey = x2 - ux * (node_radius + 2) + off_x, y2 - uy * (node_radius + 2) + off_y
        colour = compliance_colour(edge.compliance_percent)
        stroke = 1.5 + 8 * edge.tickets / peak
        parts.append(
            f'<a href="{escape(edge.href)}" class="edge" data-consumer="{edge.consumer}" '
            f'data-provider="{edge.provider}" data-tickets="{edge.tickets}">'
            f"<title>{escape(edge.text)}</title>"
            f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke="{colour}" '
            f'stroke-width="{stroke:.1f}" marker-end="url(#{ident}-arrow-{colour[1:]})"/></a>'
        )
    for node in nodes:
        x, y = position[node.key]
        parts.append(
            f'<g class="node" data-department="{node.key}">'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{node_radius}" fill="#e3edf8" '
            f'stroke="#1f5fa8"/><text x="{x:.1f}" y="{y + node_radius + 14:.1f}" '
            # A halo in the page colour keeps the name readable where edges cross it.
            f'text-anchor="middle" font-size="12" paint-order="stroke" stroke="#f6f8fa" '
            f'stroke-width="4" stroke-linejoin="round">{escape(node.label)}</text></g>'
        )
    parts.append(_compliance_legend(top=size + 20, width=size))
    how_to_read = _("Arrow: consumer → provider; width: number of tickets.")
    parts.append(f'<text x="10" y="{size + 58}" font-size="11">{escape(how_to_read)}</text></svg>')
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
