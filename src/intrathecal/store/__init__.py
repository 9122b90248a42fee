"""Clinic records: SQLAlchemy 2 models, Alembic migrations, repositories and the audit log.

SQLite file by default, PostgreSQL when ``DATABASE_URL`` says so. Programs, refills, every other
clinical record and the audit log are append-only: a change is a new row that names the one it
replaces, never an UPDATE; the database refuses UPDATE and DELETE on them (triggers of migrations
0006 and 0015).
"""
