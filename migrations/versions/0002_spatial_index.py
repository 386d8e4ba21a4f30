"""Spatial index: an R*Tree on SQLite, a cube/earthdistance GiST index on PostgreSQL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 18:00:00

SQLite keeps ``facility_rtree`` in step with ``facility`` through triggers. A later migration that
rebuilds ``facility`` in batch mode (copy and rename) drops those triggers with the old table, so it
must create them again (``SQLITE_TRIGGERS`` below is the SQL to repeat).
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

# The R*Tree stores 32-bit floats rounded outwards; searches filter on the exact columns afterwards.
SQLITE_RTREE = (
    "CREATE VIRTUAL TABLE facility_rtree USING rtree(id, min_lat, max_lat, min_lon, max_lon)"
)
SQLITE_BACKFILL = (
    "INSERT INTO facility_rtree (id, min_lat, max_lat, min_lon, max_lon) "
    "SELECT id, latitude, latitude, longitude, longitude FROM facility"
)
SQLITE_TRIGGERS = {
    "facility_rtree_insert": """
        CREATE TRIGGER facility_rtree_insert AFTER INSERT ON facility BEGIN
            INSERT INTO facility_rtree (id, min_lat, max_lat, min_lon, max_lon)
            VALUES (NEW.id, NEW.latitude, NEW.latitude, NEW.longitude, NEW.longitude);
        END""",
    # An id change moves the entry too, hence the delete and insert.
    "facility_rtree_update": """
        CREATE TRIGGER facility_rtree_update AFTER UPDATE OF id, latitude, longitude ON facility
        BEGIN
            DELETE FROM facility_rtree WHERE id = OLD.id;
            INSERT INTO facility_rtree (id, min_lat, max_lat, min_lon, max_lon)
            VALUES (NEW.id, NEW.latitude, NEW.latitude, NEW.longitude, NEW.longitude);
        END""",
    "facility_rtree_delete": """
        CREATE TRIGGER facility_rtree_delete AFTER DELETE ON facility BEGIN
            DELETE FROM facility_rtree WHERE id = OLD.id;
        END""",
}

POSTGRES_INDEX = (
    "CREATE INDEX ix_facility_earth ON facility USING gist (ll_to_earth(latitude, longitude))"
)


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(SQLITE_RTREE)
        op.execute(SQLITE_BACKFILL)
        for sql in SQLITE_TRIGGERS.values():
            op.execute(sql)
    elif dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS cube")
        op.execute("CREATE EXTENSION IF NOT EXISTS earthdistance")
        op.execute(POSTGRES_INDEX)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS facility_rtree")
    elif dialect == "postgresql":
        # The extensions stay: they hold no data and other objects may depend on them.
        op.execute("DROP INDEX IF EXISTS ix_facility_earth")
