"""The store: SQLAlchemy 2 tables, Alembic migrations and the repositories over them. SQLite
(WAL) in a data directory by default; PostgreSQL when the database URL says so."""
