"""Journal stores: SQLite (embedded default) and PostgreSQL, one implementation on SQLAlchemy
Core (``sql_journal.py``) with the dialect branches kept inside it; API keys and ownership on
the same database (``sql_access.py``), and webhook endpoints and the outbox (``sql_webhooks.py``)."""

from adapters.storage.sql_access import SqlAccess
from adapters.storage.sql_journal import SqlJournal
from adapters.storage.sql_webhooks import SqlWebhooks

__all__ = ["SqlAccess", "SqlJournal", "SqlWebhooks"]
