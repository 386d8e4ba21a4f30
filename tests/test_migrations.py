"""The Alembic migrations build exactly the models' schema and go down and up again."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from finder.directory.spatial import CELL_TABLE, include_name, include_object
from finder.extensions import db
from tests.conftest import dispose, make_app


def differences(connection) -> list:
    context = MigrationContext.configure(
        connection,
        opts={"include_name": include_name, "include_object": include_object,
              "compare_type": True, "compare_server_default": True},
    )
    return compare_metadata(context, db.metadata)


def tables(connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


def cell_count(connection) -> int:
    return connection.execute(sa.text(f"SELECT count(*) FROM {CELL_TABLE}")).scalar_one()


def test_migrations_build_the_models_schema(databases):
    app = make_app(databases.new())
    try:
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                assert differences(connection) == []
                assert CELL_TABLE in tables(connection)
    finally:
        dispose(app)


CELL_TRIGGERS = {
    "sqlite": {"facility_cell_facility_insert", "facility_cell_facility_update",
               "facility_cell_facility_delete", "facility_cell_link_insert",
               "facility_cell_link_update", "facility_cell_link_delete"},
    "postgresql": {"facility_cell_facility_insert", "facility_cell_facility_update",
                   "facility_cell_facility_delete", "facility_cell_facility_truncate",
                   "facility_cell_link_change", "facility_cell_link_truncate"},
}


def triggers(connection) -> set[str]:
    if connection.dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    return set(connection.execute(sa.text(sql)).scalars())


def test_spatial_index_triggers_survive_every_migration(app):
    """A later migration that rebuilds facility or facility_service (SQLite batch mode) drops
    their triggers; the spatial index would silently go stale."""
    with app.app_context(), db.engine.connect() as connection:
        assert CELL_TRIGGERS[connection.dialect.name] <= triggers(connection)


def test_downgrade_to_base_and_upgrade_again(databases):
    app = make_app(databases.new())
    try:
        with app.app_context():
            upgrade()
            downgrade(revision="base")
            with db.engine.connect() as connection:
                assert tables(connection) <= {"alembic_version"}
            upgrade()
            with db.engine.connect() as connection:
                assert differences(connection) == []
                assert CELL_TABLE in tables(connection)
    finally:
        dispose(app)


def test_spatial_index_is_backfilled_and_then_kept(databases):
    """Facilities that exist before migration 0002 get their cell rows; later ones by trigger."""
    app = make_app(databases.new())
    now = datetime.now(UTC)

    def add_facility(connection, facility_id: int) -> None:
        connection.execute(
            sa.text(
                "INSERT INTO facility (id, slug, name1, city, state, latitude, longitude,"
                " geo_precision, status, data_source, created_at, updated_at) VALUES (:id,"
                " :slug, 'A', 'B', 'VA', 38.03, -78.48, 'rooftop', 'active', 't', :now, :now)"
            ),
            {"id": facility_id, "slug": f"f{facility_id}", "now": now},
        )
        connection.execute(
            sa.text("INSERT INTO facility_service (facility_id, service_code) VALUES (:id, 'BU')"),
            {"id": facility_id},
        )

    try:
        with app.app_context():
            upgrade(revision="0001")
            with db.engine.begin() as connection:
                connection.execute(sa.text(
                    "INSERT INTO service_category (code, name, plain_name, position)"
                    " VALUES ('OM', 'OM', 'OM', 1)"))
                connection.execute(sa.text(
                    "INSERT INTO service (code, category_code, label, plain_label, position,"
                    " confirmed) VALUES ('BU', 'OM', 'BU', 'BU', 1, true)"))
                add_facility(connection, 1)
            upgrade()
            with db.engine.begin() as connection:
                assert cell_count(connection) == 2
                add_facility(connection, 2)
                assert cell_count(connection) == 4
            downgrade(revision="0001")
            with db.engine.begin() as connection:
                assert CELL_TABLE not in tables(connection)
                add_facility(connection, 3)  # no trigger left behind
            upgrade()
            with db.engine.connect() as connection:
                assert cell_count(connection) == 6
    finally:
        dispose(app)


def test_answer_times_are_moved_from_receipts_onto_legs(databases):
    """Migration 0007 fills ``call_attempt.answered_at`` from the "answered" status receipts."""
    app = make_app(databases.new())
    started = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    answered = datetime(2026, 11, 20, 15, 0, 12, tzinfo=UTC)
    try:
        with app.app_context():
            upgrade(revision="0006")
            with db.engine.begin() as connection:
                connection.execute(sa.text(
                    "INSERT INTO call (id, call_sid, to_number, state_signal, status, started_at)"
                    " VALUES (1, 'CA1', '+18885550101', 'none', 'completed', :at)"),
                    {"at": started})
                for attempt_id, leg_sid in ((1, "CL1"), (2, "CL2"), (3, None)):
                    connection.execute(sa.text(
                        "INSERT INTO call_attempt (id, call_id, attempt_number, destination_kind,"
                        " dialed_number, status, leg_sid, started_at, expires_at) VALUES (:id, 1,"
                        " :id, 'samhsa', '+18006624357', 'completed', :leg, :at, :at)"),
                        {"id": attempt_id, "leg": leg_sid, "at": started})
                for sid, step, at in (("CL1", "status:attempt=1:ringing", started),
                                      ("CL1", "status:attempt=1:in-progress", answered),
                                      ("CL1", "status:attempt=1:completed", answered),
                                      ("CL2", "status:attempt=2:ringing", started)):
                    connection.execute(sa.text(
                        "INSERT INTO webhook_receipt (call_sid, step, response, created_at)"
                        " VALUES (:sid, :step, '', :at)"), {"sid": sid, "step": step, "at": at})
            upgrade()
            with db.engine.connect() as connection:
                rows = dict(connection.execute(sa.text(
                    "SELECT id, answered_at FROM call_attempt ORDER BY id")).all())
            # SQLite hands back the stored text, PostgreSQL a datetime.
            first = rows[1] if isinstance(rows[1], datetime) else datetime.fromisoformat(rows[1])
            assert first.replace(tzinfo=UTC) == answered
            assert rows[2] is None and rows[3] is None
    finally:
        dispose(app)
