"""The ``parvis`` command: Django's management commands with Parvis settings.

``parvis serve``, ``parvis worker``, ``parvis demo`` and ``parvis createstaff``
are Parvis commands; ``parvis migrate``, ``parvis check`` and every other Django
command work as with ``django-admin``.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "parvis.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["parvis", *sys.argv[1:]])


if __name__ == "__main__":
    main()
