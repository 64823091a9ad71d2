"""The Postgres adapter: SQLAlchemy Core on psycopg 3, Alembic migrations, unit of work with inbox and outbox.

Import from the modules: ``engine``, ``unit_of_work``, ``outbox`` and ``migrations``.
"""
