"""Compute the daily SLA figures and open-ticket counts from every ticket (slas/figures.py).

Run after an upgrade that brings them, after loading tickets in bulk outside the services, or
after changing TIME_ZONE; until then metrics are computed from the tickets (slower, same counts).
Safe while the service desk is in use.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand

from slas import figures


class Command(BaseCommand):
    help = (
        "Rebuild the daily SLA figures (dashboards, metrics/sla) and the open-ticket counts from "
        "the tickets, printing progress. Safe to run while tickets are being written."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        rows = figures.rebuild(say=lambda line: self.stdout.write(line))
        self.stdout.write(
            self.style.SUCCESS(
                f"SLA figures rebuilt: {rows:,} day rows in {time.monotonic() - started:.1f}s"
            )
        )
