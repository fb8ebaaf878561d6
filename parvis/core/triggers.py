"""Row triggers that keep stored counts, written once for SQLite and PostgreSQL.

A counting trigger is two lists of statements: what a row takes away from the counts
when it goes (``minus``, reading ``OLD``) and what it adds when it comes (``plus``,
reading ``NEW``). An insert runs ``plus``, a delete ``minus``, and an update that
changes one of the ``watched`` columns runs both, so a row moving from one count to
another (a follow accepted, a post deleted) is counted once. Statements carry their
own conditions on ``OLD``/``NEW`` in their ``WHERE`` clauses, which both databases
accept in a trigger's body. docs/decisions/0011-stored-counts.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.backends.base.schema import BaseDatabaseSchemaEditor


@dataclass(frozen=True)
class CountingTrigger:
    """The statements of one table's counting trigger (see the module)."""

    name: str
    table: str
    watched: Sequence[str]
    minus: Sequence[str]
    plus: Sequence[str]

    def create(self, vendor: str) -> list[str]:
        """The statements that create the trigger on ``vendor``'s database."""
        minus, plus = "; ".join(self.minus), "; ".join(self.plus)
        columns = ", ".join(self.watched)
        if vendor == "postgresql":
            changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in self.watched)
            body = (
                f"IF TG_OP <> 'INSERT' THEN {minus}; END IF; "
                f"IF TG_OP <> 'DELETE' THEN {plus}; END IF; RETURN NULL;"
            )
            return [
                f"CREATE OR REPLACE FUNCTION {self.name}() RETURNS trigger "
                f"LANGUAGE plpgsql AS $$ BEGIN {body} END $$",
                f"CREATE TRIGGER {self.name}_write AFTER INSERT OR DELETE ON {self.table} "
                f"FOR EACH ROW EXECUTE FUNCTION {self.name}()",
                f"CREATE TRIGGER {self.name}_change AFTER UPDATE OF {columns} ON {self.table} "
                f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {self.name}()",
            ]
        if vendor == "sqlite":
            changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in self.watched)
            return [
                f"CREATE TRIGGER {self.name}_insert AFTER INSERT ON {self.table} BEGIN {plus}; END",
                f"CREATE TRIGGER {self.name}_delete AFTER DELETE ON {self.table} "
                f"BEGIN {minus}; END",
                f"CREATE TRIGGER {self.name}_change AFTER UPDATE OF {columns} ON {self.table} "
                f"WHEN {changed} BEGIN {minus}; {plus}; END",
            ]
        raise NotImplementedError(f"no counting triggers for {vendor}")

    def drop(self, vendor: str) -> list[str]:
        """The statements that remove the trigger."""
        if vendor == "postgresql":
            return [
                f"DROP TRIGGER IF EXISTS {self.name}_write ON {self.table}",
                f"DROP TRIGGER IF EXISTS {self.name}_change ON {self.table}",
                f"DROP FUNCTION IF EXISTS {self.name}()",
            ]
        return [
            f"DROP TRIGGER IF EXISTS {self.name}_{event}"
            for event in ("insert", "delete", "change")
        ]


Migrate = Callable[[object, BaseDatabaseSchemaEditor], None]


def install(triggers: Sequence[CountingTrigger]) -> tuple[Migrate, Migrate]:
    """The (forward, backward) functions of a ``RunPython`` operation that creates
    ``triggers`` on whichever database the migration runs on."""

    def forward(apps: object, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for trigger in triggers:
            for statement in trigger.create(schema_editor.connection.vendor):
                schema_editor.execute(statement, params=None)

    def backward(apps: object, schema_editor: BaseDatabaseSchemaEditor) -> None:
        for trigger in triggers:
            for statement in trigger.drop(schema_editor.connection.vendor):
                schema_editor.execute(statement, params=None)

    return forward, backward
