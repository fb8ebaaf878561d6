"""The one shape of every federation error: ``{"error": "…"}``, as Mastodon answers."""

from django.http import JsonResponse


def refuse(status: int, reason: str) -> JsonResponse:
    """An error response naming what is wrong."""
    return JsonResponse({"error": reason}, status=status)
