"""Server-wide state shared by the domain apps."""

from django.db import models
from django.utils import timezone


class Clock(models.Model):
    """When a family of public pages last changed (``server``, ``directory``…).

    Conditional GETs of pages that aggregate many accounts compare against one
    row instead of scanning the tables they list.
    """

    name = models.CharField(max_length=32, primary_key=True)
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} @ {self.at.isoformat()}"

    @classmethod
    def tick(cls, *names: str) -> None:
        """Record a change now for each clock in ``names``."""
        now = timezone.now()
        for name in names:
            updated = cls.objects.filter(name=name).update(at=now)
            if not updated:
                cls.objects.update_or_create(name=name, defaults={"at": now})

    @classmethod
    def read(cls, name: str):
        """The time of the last change recorded for ``name`` (the epoch if none)."""
        row = cls.objects.filter(name=name).values_list("at", flat=True).first()
        return row or timezone.datetime(2000, 1, 1, tzinfo=timezone.get_current_timezone())
