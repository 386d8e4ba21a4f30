"""``flask seed`` in production loads the directory without the fictional demo pool and numbers."""

from __future__ import annotations

import sqlalchemy as sa

from finder.calls.demo import FACILITY_NUMBERS, HELPLINE_NUMBER, demo_facilities
from finder.calls.models import TrackingNumber
from finder.directory.models import Facility
from finder.extensions import db
from tests.conftest import dispose
from tests.production_helpers import production_app


def test_production_seed_leaves_out_the_demo_unless_asked(databases, migrated_template,
                                                          monkeypatch):
    app = production_app(monkeypatch, databases.new(template=migrated_template))
    try:
        runner = app.test_cli_runner()
        result = runner.invoke(args=["seed"])
        assert result.exit_code == 0, result.output
        assert "Demo call routing: not added" in result.output
        with app.app_context():
            assert db.session.execute(sa.select(sa.func.count(Facility.id))).scalar_one() > 14_000
            assert db.session.execute(sa.select(TrackingNumber)).first() is None
            slugs = [facility.slug for facility in demo_facilities(db.session)]
        assert len(slugs) == len(FACILITY_NUMBERS)
        client = app.test_client()
        # The real facilities the demo would number show only their own phones.
        for slug in slugs:
            page = client.get(f"/facilities/{slug}", base_url="https://localhost")
            assert page.status_code == 200
            assert "555-01" not in page.get_data(as_text=True)

        result = runner.invoke(args=["seed", "--quiet", "--demo"])
        assert result.exit_code == 0, result.output
        with app.app_context():
            numbers = set(db.session.execute(sa.select(TrackingNumber.number)).scalars())
        assert numbers == {HELPLINE_NUMBER, *FACILITY_NUMBERS}
        page = client.get(f"/facilities/{slugs[0]}", base_url="https://localhost")
        assert "(434) 555-0101" in page.get_data(as_text=True)
    finally:
        dispose(app)
