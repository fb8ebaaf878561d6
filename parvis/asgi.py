"""ASGI entry point: ``granian --interface asgi parvis.asgi:application``.

Django answers HTTP; the lifespan messages start and stop the embedded task
worker (see ``PARVIS_EMBEDDED_WORKER``).
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parvis.settings")

django_application = get_asgi_application()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        from asgiref.sync import sync_to_async

        from parvis.core import embedded

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await sync_to_async(embedded.start, thread_sensitive=False)()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await sync_to_async(embedded.stop, thread_sensitive=False)()
                await send({"type": "lifespan.shutdown.complete"})
                return
    else:
        await django_application(scope, receive, send)
