"""Storage: the only package that imports SQLAlchemy or sqlite3.

One engine and ONE pool per database file (``engine``): every connection, SQLAlchemy's and the
hot paths' raw ``sqlite3`` ones, is a checkout of that pool (a thread keeps its checkout between
uses). Two files per database: the event file (events, commands, snapshots, …) and the read
model's own file beside it (``read_model_file``: the projector's tables, bound to the log), each
its own ``Database``, so the projector never holds the event file's write lock. One schema,
defined once as SQLAlchemy metadata (``schema``): the core tables and the read model's; DDL is
generated from it (the FTS5 search table is the one hand-written SQLite DDL). Hot statements
are precompiled driver SQL on a pooled connection.

``hashing`` holds the canonical bytes and hash chain, ``records`` the row format shared by
``event_store`` (SQLite) and ``memory`` (in-memory fakes). The read side has three ports, each
with its SQLite part and in-memory fake (``memory_read_model``): ``event_feed`` (the log as the
projector reads it), ``projection_target`` (+ ``read_model_rebuild``: the tables as it writes
them), ``order_queries`` (the screens' queries); ``read_model`` opens the read model's file and
wires them for one database.
"""
