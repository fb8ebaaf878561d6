import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from granian.constants import Interfaces
from granian.server import Server


class Command(BaseCommand):
    help = "Serve Parvis over HTTP (ASGI, granian), with the embedded task worker by default."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on.")
        parser.add_argument("--port", type=int, default=8000, help="Port to listen on.")
        parser.add_argument("--workers", type=int, default=1, help="Web worker processes.")
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Do not run the embedded task worker (separate `parvis worker`).",
        )
        parser.add_argument("--access-log", action="store_true", help="Log every request.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["no_worker"]:
            # Granian's workers may be forked from this process (settings already
            # loaded) or spawned (settings read again): cover both.
            os.environ["PARVIS_EMBEDDED_WORKER"] = "false"
            settings.PARVIS_EMBEDDED_WORKER = False
        call_command("collectstatic", interactive=False, verbosity=0)
        routes, mounts = ["/static"], [Path(settings.STATIC_ROOT)]
        if settings.PARVIS_SERVE_MEDIA:
            Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
            routes.append("/media")
            mounts.append(Path(settings.MEDIA_ROOT))
        self.stdout.write(f"Parvis on http://{options['host']}:{options['port']}/")
        Server(
            "parvis.asgi:application",
            address=options["host"],
            port=options["port"],
            interface=Interfaces.ASGI,
            workers=options["workers"],
            log_access=options["access_log"],
            static_path_route=routes,
            static_path_mount=mounts,
        ).serve()
