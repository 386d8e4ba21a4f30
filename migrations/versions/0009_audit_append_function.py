"""PostgreSQL: append audit rows with one statement (``finder_audit_append``).

A routing step used to write its audit rows in three round trips: take the chain lock, read the
chain's last row, insert. The function does the three inside the server. It takes the same
advisory lock (``locks.CHAIN_KEY``) and computes each row's hash exactly as
``audit.compute_hash`` does: SHA-256 of the previous row's hash, the row's id, call id, attempt
number (``None`` when absent, as Python's ``str`` writes it), kind, payload and creation time
(the text ``audit`` formats), joined by ``|``. ``audit.verify`` recomputes the chain in Python.
SQLite appends in Python as before (it has no server round trips to save).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 23:50:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

#: ``finder.calls.locks.CHAIN_KEY``: the audit chain's advisory lock.
CHAIN_KEY = 0x66696E646572
GENESIS = "0" * 64


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(f"""
CREATE FUNCTION finder_audit_append(call_ids integer[], attempt_numbers integer[], kinds text[],
                                    payloads text[], created timestamptz[], stamps text[])
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    last_id integer;
    prev text;
    row_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_KEY});
    -- After the lock, in a statement of its own: sees the last row its previous holder wrote.
    SELECT a.id, a.row_hash INTO last_id, prev FROM routing_audit a ORDER BY a.id DESC LIMIT 1;
    last_id := coalesce(last_id, 0);
    prev := coalesce(prev, '{GENESIS}');
    FOR i IN 1 .. coalesce(array_length(kinds, 1), 0) LOOP
        last_id := last_id + 1;
        row_hash := encode(sha256(convert_to(concat_ws('|', prev, last_id::text,
            coalesce(call_ids[i]::text, 'None'), coalesce(attempt_numbers[i]::text, 'None'),
            kinds[i], payloads[i], stamps[i]), 'UTF8')), 'hex');
        INSERT INTO routing_audit (id, call_id, attempt_number, kind, payload, prev_hash,
                                   row_hash, created_at)
        VALUES (last_id, call_ids[i], attempt_numbers[i], kinds[i], payloads[i], prev,
                row_hash, created[i]);
        prev := row_hash;
    END LOOP;
    RETURN last_id;
END $$
""")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("DROP FUNCTION finder_audit_append(integer[], integer[], text[], text[], "
               "timestamptz[], text[])")
