"""The routing configuration's version token, changed by triggers whenever a pool or an
advertiser changes.

Each process caches the pools it routes with (``finder.calls.routing_config``) under the token it
read; a step that reads another token reloads them. The token is random (not a counter), so a
database restored from a backup, or rebuilt, can never show a token a process cached for other
contents.

SQLite drops a table's triggers when a batch migration rebuilds the table: a later migration that
alters ``advertiser`` or ``advertiser_pool`` with ``batch_alter_table`` must create them again
(``tests/test_routing_config.py`` checks that every change still changes the token).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 23:30:00

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

#: The tables whose rows make up the cached routing configuration.
WATCHED = ('advertiser_pool', 'advertiser')
SQLITE_EVENTS = ('insert', 'update', 'delete')


def upgrade():
    version = op.create_table(
        'routing_config_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_config_version')),
    )
    op.bulk_insert(version, [{'id': 1, 'token': secrets.token_hex(16)}])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE FUNCTION finder_routing_config_changed() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE routing_config_version "
            "SET token = md5(random()::text || clock_timestamp()::text); "
            "RETURN NULL; END $$"
        )
        for table in WATCHED:
            op.execute(
                f"CREATE TRIGGER {table}_changes_routing_config "
                f"AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION finder_routing_config_changed()"
            )
        return
    for table in WATCHED:
        for event in SQLITE_EVENTS:
            op.execute(
                f"CREATE TRIGGER {table}_{event}_changes_routing_config "
                f"AFTER {event.upper()} ON {table} BEGIN "
                f"UPDATE routing_config_version SET token = lower(hex(randomblob(16))); END"
            )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for table in WATCHED:
            op.execute(f"DROP TRIGGER {table}_changes_routing_config ON {table}")
        op.execute("DROP FUNCTION finder_routing_config_changed()")
    else:
        for table in WATCHED:
            for event in SQLITE_EVENTS:
                op.execute(f"DROP TRIGGER {table}_{event}_changes_routing_config")
    op.drop_table('routing_config_version')
