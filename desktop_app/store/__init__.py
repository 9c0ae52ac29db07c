"""Storage: the only package that imports SQLAlchemy or sqlite3.

``engine`` opens the file (pragmas, BEGIN IMMEDIATE, opening rules, error translation),
``schema`` holds the tables, ``hashing`` the canonical bytes and hash chain, ``records`` the
row format shared by ``event_store`` (SQLite) and ``memory`` (in-memory fakes).
"""
