"""The shared Order Desk store on a PostgreSQL server (issue 10), through SQLAlchemy and
psycopg 3: one engine and one pool per database, the schema from the same SQLAlchemy metadata
as the SQLite file (``store/schema.py``), append-only enforced by triggers and grants.

Modules: :mod:`.database` (engine, errors, opening), :mod:`.ddl` (tables, triggers, roles,
``init``), :mod:`.event_store` (events, commands, snapshots), :mod:`.rejections`.
"""
