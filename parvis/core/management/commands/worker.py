from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from parvis.core.tasks import make_worker


class Command(BaseCommand):
    help = "Run a background task worker (for deployments with several processes)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            help="Queue to serve (repeatable; default: every queue).",
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Seconds to wait when no task is due."
        )
        parser.add_argument("--once", action="store_true", help="Run the tasks due now, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        worker = make_worker(
            queues=options["queues"], interval=options["interval"], once=options["once"]
        )
        worker.configure_signals()
        worker.run()
        self.stdout.write(f"{worker._run_tasks} task(s) run.")
