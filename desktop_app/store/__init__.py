"""Storage: the only package that imports SQLAlchemy or sqlite3.

One engine and ONE pool per database (``engine``): every connection, SQLAlchemy's and the hot
paths' raw ``sqlite3`` ones, is a checkout of that pool (a thread keeps its checkout between
uses). One schema, defined once as SQLAlchemy metadata (``schema``): the core tables (events,
commands, snapshots, …) and the read model's; DDL is generated from it (the FTS5 search table is
the one hand-written SQLite DDL). Hot statements are precompiled driver SQL on a pooled
connection.

``hashing`` holds the canonical bytes and hash chain, ``records`` the row format shared by
``event_store`` (SQLite) and ``memory`` (in-memory fakes). The read side has three ports, each
with its SQLite part and in-memory fake (``memory_read_model``): ``event_feed`` (the log as the
projector reads it), ``projection_target`` (+ ``read_model_rebuild``: the tables as it writes
them), ``order_queries`` (the screens' queries); ``read_model`` wires them for one database.
"""
