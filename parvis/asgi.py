"""ASGI entry point: ``granian --interface asgi parvis.asgi:application``.

Django answers HTTP; the lifespan messages start and stop the embedded task
worker (see ``PARVIS_EMBEDDED_WORKER``). The streaming API (``/api/v1/streaming``,
WebSocket and server-sent events) is an ASGI application of its own beside Django
(:mod:`parvis.api.streaming`): its connections last hours and must not hold the one
thread that runs Django's views.

Parvis's views and middleware are synchronous. Django's stock ASGI handler runs
each middleware hook of each request in a thread of its own, and gives every
request a fresh thread (so a fresh database connection): about 4 ms of overhead
per request, ten times the work of a small page. :class:`ParvisASGIHandler`
instead crosses into synchronous code once per request, on the one thread that
keeps the process's database connection open, as a WSGI worker would
(docs/decisions/0006-asgi-handler.md).
"""

import os
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parvis.settings")


class ParvisASGIHandler(ASGIHandler):
    """Django over ASGI with the middleware stack run synchronously, in one hop."""

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Parvis's Django handler serves HTTP, not {scope['type']}.")
        # No per-request ThreadSensitiveContext: synchronous work of every request
        # shares one thread, and with it one persistent database connection.
        await self.handle(scope, receive, send)

    async def get_response_async(self, request: HttpRequest) -> HttpResponse:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


def _django() -> ParvisASGIHandler:
    import django

    django.setup(set_prefix=False)
    return ParvisASGIHandler()


django_application = _django()

# Imported once Django is set up: the streaming application uses the models.
from parvis.api.streaming import app as streaming  # noqa: E402


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
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
    elif scope["type"] == "websocket" or streaming.handles(scope["path"]):
        await streaming.application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
