"""Journal stores: SQLite (embedded default) and PostgreSQL, one implementation on SQLAlchemy
Core (``sql_journal.py``) with the dialect branches kept inside it."""

from adapters.storage.sql_journal import SqlJournal

__all__ = ["SqlJournal"]
