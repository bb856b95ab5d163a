"""Load a large, realistic company into a benchmark database (PostgreSQL COPY, minutes for 1M).

    python manage.py generate_dataset --tickets 1000000 --departments 50 --users 5000

Departments serving each other, their people, a catalog, SLA policies on China's calendar and two
years of tickets (20 % still open) with timelines, comments (some internal), fired escalations of
the open ones and ratings. Refuses a database whose name lacks "bench" unless --force; the
database must be migrated and empty of departments and tickets (or --reset, which empties it).
See bench/README.md.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from bench import dataset


def _count(text: str) -> int:
    text = text.lower().replace("_", "").replace(",", "")
    factor = 1
    if text.endswith("k"):
        text, factor = text[:-1], 1000
    elif text.endswith("m"):
        text, factor = text[:-1], 1_000_000
    return int(float(text) * factor)


class Command(BaseCommand):
    help = "Load a realistic company of a chosen size into a benchmark database (COPY)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=_count, default=10_000, help="e.g. 10k, 1m")
        parser.add_argument("--departments", type=int, default=50)
        parser.add_argument("--users", type=_count, default=5_000)
        parser.add_argument("--comments-per-ticket", type=float, default=2.0)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--keep-indexes",
            action="store_true",
            help="keep the secondary indexes during the load (default: drop, rebuild after)",
        )
        parser.add_argument("--chunk", type=int, default=dataset.CHUNK, help="tickets per COPY")
        parser.add_argument("--reset", action="store_true", help="empty the database first")
        parser.add_argument(
            "--force", action="store_true", help="allow a database whose name lacks 'bench'"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = connection.settings_dict["NAME"]
        if connection.vendor != "postgresql":
            raise CommandError("generate_dataset needs PostgreSQL (it loads with COPY)")
        try:
            dataset.check_target(name, force=options["force"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        if not 1 <= options["tickets"] <= 9_999_999:
            raise CommandError("--tickets must be between 1 and 9,999,999")
        if options["departments"] < 3:
            raise CommandError("--departments must be at least 3")
        if options["users"] < 3 * options["departments"]:
            raise CommandError("--users must be at least 3 per department")
        if options["reset"]:
            with connection.cursor() as cursor:
                dataset.reset(cursor)
            self.stdout.write(f"emptied {name}")
        try:
            info = dataset.generate(
                dataset.DatasetOptions(
                    tickets=options["tickets"],
                    departments=options["departments"],
                    users=options["users"],
                    comments_per_ticket=options["comments_per_ticket"],
                    seed=options["seed"],
                    keep_indexes=options["keep_indexes"],
                    chunk=options["chunk"],
                ),
                say=lambda line: self.stdout.write(line),
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            self.style.SUCCESS(
                f"{name}: {info['counts']['tickets']:,} tickets in "
                f"{info['timings']['total_s']:.1f}s; every account's password is "
                f"{dataset.BENCH_PASSWORD!r}"
            )
        )
