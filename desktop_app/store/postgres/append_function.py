"""The append as ONE server-side function: ``order_desk_append_v1`` (made by ``init``).

An append used to be two pipelined round trips inside a transaction (BEGIN + the append lock +
the head read; then the claims, the command record, the events and COMMIT), with the append
lock held while the client computed the hash chain in between. The function does the same
steps, in the same order and with the same checks, inside the server, so an append is one
statement in autocommit (one round trip) and the lock is held only for the server's own work:

1. ``pg_advisory_xact_lock(APPEND_LOCK_KEY)`` first, as before: appends commit one after
   another in position order (gap-free reading, see ``event_store``). The function is
   VOLATILE, so under READ COMMITTED every statement after the lock takes a fresh snapshot
   and sees the previous append's commit; any other isolation level is refused.
2. A recorded command id wins over every other check: its first result comes back
   (``recorded``), nothing is written. Else the stream's version must be the expected one
   (``conflict`` with the current version otherwise, nothing written).
3. The hash chain is extended with the IDENTICAL format: the client sends each event's
   canonical text without its position and version (``hashing.row_hash_parts``), the server
   hashes ``prev_hash || head || position || tail || version || '}'`` as UTF-8 with sha256 —
   the bytes ``hashing.row_hash`` hashes (``verify`` recomputes every hash in Python).
4. Unique-key claims: ``INSERT … ON CONFLICT DO NOTHING``, then the holder is read; another
   holder raises SQLSTATE ``OD002`` (detail: the holder; hint: the claim's index), which
   rolls the whole statement back.
5. The command record and the events are inserted (the authorship and NOTIFY triggers fire
   as for any insert), and ``appended`` comes back with the version and positions.

Its statements run on generic plans: the store calls it on its "hot" connections, whose
session sets ``plan_cache_mode = force_generic_plan`` (``PostgresDatabase.hot``). Each is a
lookup by key, and without that setting the server may plan them afresh on every call while
the tables have no statistics yet (a new database), which cost more than running them. The
setting is not attached to the function itself: a function with a ``SET`` clause saves and
restores the setting around every call, which the server pays on every append.

The body runs as few statements as it can (each costs an executor start on every call): the
command record is inserted in the same statement as the events (a data-modifying ``WITH``),
and the row that comes back is the OUT columns with ``RETURN NEXT`` (no query to run).

SECURITY INVOKER: it runs with the caller's rights, so the grants stay the guard (the clerk
role may insert history, an auditor may not even execute it), and ``session_user`` — the
role that logged in — is what the authorship trigger records.
"""

from __future__ import annotations

import struct
from typing import Any

from psycopg.adapt import Dumper
from psycopg.pq import Format

from desktop_app.store.hashing import GENESIS_HASH
from desktop_app.store.postgres.ddl import APPEND_LOCK_KEY

NAME = "order_desk_append_v1"
"""The function's name; a later, different function gets a new name (old clients keep
calling theirs while an office upgrades)."""

ARGUMENTS = "text, bigint, text, text, text, text[], text[]"
SIGNATURE = f"{NAME}({ARGUMENTS})"
"""For ``to_regprocedure``, GRANT and REVOKE."""

CLAIM_TAKEN_SQLSTATE = "OD002"
"""Raised by the function when another owner holds a claimed unique key."""

CALL = (
    "SELECT outcome, version, first_position, last_position, stream_id, fingerprint "  # noqa: S608
    f"FROM {NAME}(%s::text, %s::bigint, %s::text, %s::text, %s::text, %b::text[], %b::text[])"
)
"""One append (autocommit): stream, expected version, command id, fingerprint, recorded_at,
then the events as ONE flat array of :data:`EVENT_FIELDS` texts per event (id, type name,
schema version, payload, metadata, hash head, hash tail) and the claims as one flat array of
:data:`CLAIM_FIELDS` per claim (namespace, key, owner). Two arrays rather than ten: each array
parameter costs the client its own dumping work. In binary (``%b``): the text format would
quote and escape every JSON text with a regular expression, on the client's CPU."""

EVENT_FIELDS = 7
CLAIM_FIELDS = 3

DDL = f"""CREATE OR REPLACE FUNCTION {NAME}(
    p_stream text, p_expected bigint, p_command text, p_fingerprint text, p_recorded_at text,
    p_events text[], p_claims text[])
RETURNS TABLE (outcome text, version bigint, first_position bigint, last_position bigint,
               stream_id text, fingerprint text)
LANGUAGE plpgsql VOLATILE SECURITY INVOKER AS $fn$
#variable_conflict use_column
DECLARE
  v_count int := coalesce(cardinality(p_events), 0) / {EVENT_FIELDS};
  v_claims int := coalesce(cardinality(p_claims), 0) / {CLAIM_FIELDS};
  v_at int;
  v_current bigint;
  v_head bigint;
  v_hash text;
  v_prev text[] := '{{}}';
  v_hashes text[] := '{{}}';
  v_holder text;
  v_found boolean;
  v_rec_stream text;
  v_rec_version bigint;
  v_rec_first bigint;
  v_rec_last bigint;
  v_rec_fingerprint text;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION '{NAME} needs READ COMMITTED (a fresh snapshot after the append lock)';
  END IF;
  IF v_count = 0 THEN
    RAISE EXCEPTION 'append needs at least one event';
  END IF;
  PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
  -- One statement after the lock (fresh snapshot): the stream's version, the chain head and
  -- the command record when the id was used before.
  SELECT v.current, h.position, h.hash, c.command_id IS NOT NULL, c.stream_id, c.version,
         c.first_position, c.last_position, c.fingerprint
    INTO v_current, v_head, v_hash, v_found, v_rec_stream, v_rec_version, v_rec_first,
         v_rec_last, v_rec_fingerprint
    FROM (SELECT coalesce(max(e.version), 0) AS current FROM events AS e
          WHERE e.stream_id = p_stream) AS v
    LEFT JOIN LATERAL (SELECT e.position, e.hash FROM events AS e
                       ORDER BY e.position DESC LIMIT 1) AS h ON true
    LEFT JOIN commands AS c ON c.command_id = p_command;
  IF v_found THEN
    outcome := 'recorded'; version := v_rec_version; first_position := v_rec_first;
    last_position := v_rec_last; stream_id := v_rec_stream; fingerprint := v_rec_fingerprint;
    RETURN NEXT;
    RETURN;
  END IF;
  IF v_current <> p_expected THEN
    outcome := 'conflict'; version := v_current;
    RETURN NEXT;
    RETURN;
  END IF;
  v_head := coalesce(v_head, 0);
  v_hash := coalesce(v_hash, '{GENESIS_HASH}');
  FOR i IN 1..v_count LOOP
    v_at := (i - 1) * {EVENT_FIELDS};
    v_prev := v_prev || v_hash;
    v_hash := encode(sha256(convert_to(
      v_hash || p_events[v_at + 6] || (v_head + i)::text || p_events[v_at + 7]
        || (v_current + i)::text || '}}', 'UTF8')), 'hex');
    v_hashes := v_hashes || v_hash;
  END LOOP;
  FOR i IN 1..v_claims LOOP
    v_at := (i - 1) * {CLAIM_FIELDS};
    INSERT INTO unique_keys (namespace, key, owner_id)
      VALUES (p_claims[v_at + 1], p_claims[v_at + 2], p_claims[v_at + 3])
      ON CONFLICT (namespace, key) DO NOTHING;
    SELECT u.owner_id INTO v_holder FROM unique_keys AS u
      WHERE u.namespace = p_claims[v_at + 1] AND u.key = p_claims[v_at + 2];
    IF v_holder IS DISTINCT FROM p_claims[v_at + 3] THEN
      RAISE EXCEPTION 'unique key taken' USING ERRCODE = '{CLAIM_TAKEN_SQLSTATE}',
        DETAIL = coalesce(v_holder, ''), HINT = i::text;
    END IF;
  END LOOP;
  -- The command record and the events in ONE statement (one executor start, not two).
  WITH c AS (
    INSERT INTO commands
      (command_id, stream_id, version, first_position, last_position, fingerprint)
    SELECT p_command, p_stream, v_current + v_count, v_head + 1, v_head + v_count,
           p_fingerprint
    WHERE p_command IS NOT NULL)
  INSERT INTO events (position, stream_id, version, event_id, type_name, schema_version,
                      payload, metadata, recorded_at, prev_hash, hash)
    SELECT v_head + i, p_stream, v_current + i, p_events[(i - 1) * {EVENT_FIELDS} + 1],
           p_events[(i - 1) * {EVENT_FIELDS} + 2],
           p_events[(i - 1) * {EVENT_FIELDS} + 3]::bigint,
           p_events[(i - 1) * {EVENT_FIELDS} + 4], p_events[(i - 1) * {EVENT_FIELDS} + 5],
           p_recorded_at, v_prev[i], v_hashes[i]
    FROM generate_series(1, v_count) AS i
    ORDER BY i;
  -- The OUT columns and RETURN NEXT: no query to run for the one row that comes back.
  outcome := 'appended'; version := v_current + v_count; first_position := v_head + 1;
  last_position := v_head + v_count;
  RETURN NEXT;
END $fn$"""  # noqa: S608 (constants only: names, the lock key, the genesis hash)
"""``CREATE OR REPLACE``: ``init`` makes it, and makes it again on a database made by an
older Order Desk (idempotent)."""


def grants(clerk: str) -> list[str]:
    """Only the clerk role may call it (``clerk`` already quoted); PUBLIC's default EXECUTE
    is taken away, so an auditor is refused before the function even starts."""
    return [
        f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {clerk}",
    ]


class TextArray(list[str]):
    """The call's flat ``text[]`` arguments, dumped by :class:`TextArrayDumper` where that is
    registered (``PostgresDatabase.hot``); anywhere else psycopg dumps it as any list."""


_TEXT_OID = 25
_TEXT_ARRAY_OID = 1009
_EMPTY = struct.pack("!iii", 0, 0, _TEXT_OID)
_HEADER = struct.Struct("!iiiii")
_LENGTH = struct.Struct("!i")


class TextArrayDumper(Dumper):
    """A list of texts in PostgreSQL's binary ``text[]`` format (one dimension, no NULLs),
    built in one pass. psycopg's general list dumper first looks at the elements to choose
    their type and dumper, on every call; here they are texts by construction. The bytes
    are those the server's ``array_recv`` reads; a NUL or a text the connection's encoding
    cannot hold is refused by the server (``DataError``), as psycopg's own dumper refuses it."""

    format = Format.BINARY
    oid = _TEXT_ARRAY_OID

    def __init__(self, cls: type, context: Any = None) -> None:
        super().__init__(cls, context)
        info = getattr(self.connection, "info", None)
        self._encoding = "utf-8" if info is None else info.encoding

    def dump(self, obj: Any) -> bytes:
        """The array's bytes."""
        if not obj:
            return _EMPTY
        encoding = self._encoding
        length = _LENGTH.pack
        parts = [_HEADER.pack(1, 0, _TEXT_OID, len(obj), 1)]
        add = parts.append
        for item in obj:
            data = item.encode(encoding)
            add(length(len(data)))
            add(data)
        return b"".join(parts)
