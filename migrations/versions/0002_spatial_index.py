"""Spatial index: facility_cell, facilities by service and latitude band, kept by triggers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 18:00:00

One row per facility with service_code '' and one per (facility, service) link, keyed by
(service_code, band, longitude, facility_id) where band = floor(latitude * 10). A search reads the
rows of one service code in a box as a few contiguous key ranges (one per 0.1-degree latitude
band) holding the exact coordinates and the closed flag, so counting the facilities within a radius
never visits the facility table. The same table and SQL serve SQLite (WITHOUT ROWID) and
PostgreSQL (index-only scans of the primary key). finder/directory/spatial.py queries it.

Triggers on facility and facility_service keep it in step. A later SQLite migration that rebuilds
facility or facility_service in batch mode (copy and rename) drops their triggers with the old
table and must create them again from SQLITE_TRIGGERS.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

COLUMNS = "service_code, band, longitude, facility_id, latitude, closed"

SQLITE_TABLE = """
    CREATE TABLE facility_cell (
        service_code VARCHAR(16) NOT NULL,
        band INTEGER NOT NULL,
        longitude FLOAT NOT NULL,
        facility_id INTEGER NOT NULL,
        latitude FLOAT NOT NULL,
        closed BOOLEAN NOT NULL,
        CONSTRAINT pk_facility_cell PRIMARY KEY (service_code, band, longitude, facility_id)
    ) WITHOUT ROWID"""


def _sqlite_rows(f: str, codes: str) -> str:
    """The cell rows of facility ``f`` (a row reference) for the codes selected by ``codes``."""
    return (
        f"SELECT codes.code, CAST(floor({f}.latitude * 10) AS INTEGER), {f}.longitude, {f}.id,"
        f" {f}.latitude, {f}.status = 'closed' FROM ({codes}) AS codes"
    )


def _sqlite_forget(f: str) -> str:
    """Deletes every cell row of facility ``f`` by primary key (no index on facility_id)."""
    return (
        f"DELETE FROM facility_cell WHERE facility_id = {f}.id"
        f" AND band = CAST(floor({f}.latitude * 10) AS INTEGER) AND longitude = {f}.longitude"
        " AND service_code IN (SELECT '' UNION ALL"
        f" SELECT service_code FROM facility_service WHERE facility_id = {f}.id)"
    )


def _all_codes(f: str) -> str:
    return (
        "SELECT '' AS code UNION ALL"
        f" SELECT service_code FROM facility_service WHERE facility_id = {f}.id"
    )


def _sqlite_link_rows(link: str) -> str:
    return (
        f"SELECT {link}.service_code, CAST(floor(f.latitude * 10) AS INTEGER), f.longitude, f.id,"
        f" f.latitude, f.status = 'closed' FROM facility AS f WHERE f.id = {link}.facility_id"
    )


def _sqlite_link_forget(link: str) -> str:
    return (
        f"DELETE FROM facility_cell WHERE service_code = {link}.service_code"
        f" AND facility_id = {link}.facility_id AND (band, longitude) = (SELECT"
        " CAST(floor(latitude * 10) AS INTEGER), longitude FROM facility"
        f" WHERE id = {link}.facility_id)"
    )


SQLITE_TRIGGERS = {
    "facility_cell_facility_insert": f"""
        CREATE TRIGGER facility_cell_facility_insert AFTER INSERT ON facility BEGIN
            INSERT INTO facility_cell ({COLUMNS}) {_sqlite_rows('NEW', _all_codes('NEW'))};
        END""",
    "facility_cell_facility_update": f"""
        CREATE TRIGGER facility_cell_facility_update
        AFTER UPDATE OF id, latitude, longitude, status ON facility BEGIN
            {_sqlite_forget('OLD')};
            INSERT INTO facility_cell ({COLUMNS}) {_sqlite_rows('NEW', _all_codes('NEW'))};
        END""",
    # Before: the links (deleted by the cascade afterwards) still say which rows to delete.
    "facility_cell_facility_delete": f"""
        CREATE TRIGGER facility_cell_facility_delete BEFORE DELETE ON facility BEGIN
            {_sqlite_forget('OLD')};
        END""",
    "facility_cell_link_insert": f"""
        CREATE TRIGGER facility_cell_link_insert AFTER INSERT ON facility_service BEGIN
            INSERT INTO facility_cell ({COLUMNS}) {_sqlite_link_rows('NEW')};
        END""",
    "facility_cell_link_update": f"""
        CREATE TRIGGER facility_cell_link_update AFTER UPDATE ON facility_service BEGIN
            {_sqlite_link_forget('OLD')};
            INSERT INTO facility_cell ({COLUMNS}) {_sqlite_link_rows('NEW')};
        END""",
    "facility_cell_link_delete": f"""
        CREATE TRIGGER facility_cell_link_delete AFTER DELETE ON facility_service BEGIN
            {_sqlite_link_forget('OLD')};
        END""",
}

POSTGRES_TABLE = """
    CREATE TABLE facility_cell (
        service_code VARCHAR(16) NOT NULL,
        band INTEGER NOT NULL,
        longitude DOUBLE PRECISION NOT NULL,
        facility_id INTEGER NOT NULL,
        latitude DOUBLE PRECISION NOT NULL,
        closed BOOLEAN NOT NULL,
        CONSTRAINT pk_facility_cell PRIMARY KEY (service_code, band, longitude, facility_id)
            INCLUDE (latitude, closed)
    )"""

POSTGRES_FUNCTIONS = f"""
    CREATE FUNCTION facility_cell_facility() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM facility_cell WHERE facility_id = OLD.id
                AND band = floor(OLD.latitude * 10)::integer AND longitude = OLD.longitude
                AND service_code IN ({_all_codes('OLD')});
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        INSERT INTO facility_cell ({COLUMNS})
            SELECT codes.code, floor(NEW.latitude * 10)::integer, NEW.longitude, NEW.id,
                   NEW.latitude, NEW.status = 'closed'
            FROM ({_all_codes('NEW')}) AS codes;
        RETURN NEW;
    END $$;

    CREATE FUNCTION facility_cell_link() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM facility_cell AS c USING facility AS f
                WHERE f.id = OLD.facility_id AND c.service_code = OLD.service_code
                AND c.band = floor(f.latitude * 10)::integer AND c.longitude = f.longitude
                AND c.facility_id = f.id;
        END IF;
        IF TG_OP <> 'DELETE' THEN
            INSERT INTO facility_cell ({COLUMNS})
                SELECT NEW.service_code, floor(f.latitude * 10)::integer, f.longitude, f.id,
                       f.latitude, f.status = 'closed'
                FROM facility AS f WHERE f.id = NEW.facility_id;
        END IF;
        RETURN NULL;
    END $$;

    CREATE FUNCTION facility_cell_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_TABLE_NAME = 'facility' THEN
            DELETE FROM facility_cell;
        ELSE
            DELETE FROM facility_cell WHERE service_code <> '';
        END IF;
        RETURN NULL;
    END $$;
"""

POSTGRES_TRIGGERS = {
    "facility_cell_facility_insert": "AFTER INSERT ON facility FOR EACH ROW"
    " EXECUTE FUNCTION facility_cell_facility()",
    "facility_cell_facility_update": "AFTER UPDATE OF id, latitude, longitude, status ON facility"
    " FOR EACH ROW WHEN ((OLD.id, OLD.latitude, OLD.longitude, OLD.status)"
    " IS DISTINCT FROM (NEW.id, NEW.latitude, NEW.longitude, NEW.status))"
    " EXECUTE FUNCTION facility_cell_facility()",
    "facility_cell_facility_delete": "BEFORE DELETE ON facility FOR EACH ROW"
    " EXECUTE FUNCTION facility_cell_facility()",
    "facility_cell_facility_truncate": "AFTER TRUNCATE ON facility FOR EACH STATEMENT"
    " EXECUTE FUNCTION facility_cell_truncate()",
    "facility_cell_link_change": "AFTER INSERT OR UPDATE OR DELETE ON facility_service"
    " FOR EACH ROW EXECUTE FUNCTION facility_cell_link()",
    "facility_cell_link_truncate": "AFTER TRUNCATE ON facility_service FOR EACH STATEMENT"
    " EXECUTE FUNCTION facility_cell_truncate()",
}
POSTGRES_TRIGGER_TABLES = {
    name: "facility_service" if "_link_" in name else "facility" for name in POSTGRES_TRIGGERS
}

#: floor(latitude * 10) as an integer, for a latitude column with the given prefix.
BAND = {
    "sqlite": "CAST(floor({}latitude * 10) AS INTEGER)",
    "postgresql": "floor({}latitude * 10)::integer",
}


def backfill_sql(dialect: str) -> str:
    """Fills facility_cell from the facilities and links already there."""
    band = BAND[dialect]
    return (
        f"INSERT INTO facility_cell ({COLUMNS})"
        f" SELECT '', {band.format('')}, longitude, id, latitude, status = 'closed' FROM facility"
        f" UNION ALL SELECT fs.service_code, {band.format('f.')}, f.longitude, f.id, f.latitude,"
        " f.status = 'closed' FROM facility_service AS fs JOIN facility AS f ON f.id = fs.facility_id"
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(SQLITE_TABLE)
        op.execute(backfill_sql(dialect))
        for sql in SQLITE_TRIGGERS.values():
            op.execute(sql)
    elif dialect == "postgresql":
        op.execute(POSTGRES_TABLE)
        op.execute(backfill_sql(dialect))
        op.execute(POSTGRES_FUNCTIONS)
        for name, definition in POSTGRES_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {definition}")
    else:
        raise NotImplementedError(f"finder supports SQLite and PostgreSQL, not {dialect}")


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for name, table in POSTGRES_TRIGGER_TABLES.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for function in ("facility_cell_facility", "facility_cell_link", "facility_cell_truncate"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.execute("DROP TABLE IF EXISTS facility_cell")
