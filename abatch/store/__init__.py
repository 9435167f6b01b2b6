"""The SQLite store (aiosqlite, WAL, migrations, one writer) and the state directory lock."""
