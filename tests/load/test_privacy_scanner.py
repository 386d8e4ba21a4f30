"""The load run's privacy scanner finds a caller's number however it is written, and only it."""

from __future__ import annotations

import io
import zipfile

import pytest

from benchmarks.privacy_check import Scanner, Sources, written_forms

CALLER = "+15125550123"
OTHER = "+12125550188"


@pytest.mark.parametrize("form", written_forms(CALLER))
def test_every_written_form_of_a_caller_number_is_found(form):
    found = Scanner([CALLER, OTHER]).scan("log", f"2026-11-21 20:23:31 INFO from={form}; ok")

    assert [f.number for f in found] == ["5125550123"]
    shown = found[0].excerpt.replace(" ", "")
    assert "512" not in shown and "555" not in shown  # the report masks all but the last four
    assert "0123" in shown


def test_url_encoded_forms_are_found():
    text = "POST /voice/incoming From=%2B1%20%28512%29%20555-0123&To=%2B18885550102"

    assert [f.number for f in Scanner([CALLER]).scan("access log", text)] == ["5125550123"]


def test_last_four_other_numbers_and_hashes_are_not_leaks():
    text = ("caller_last_four 0123 | caller_hash 9f8e512555012aa3 | to +18885550102 | "
            "advertiser (212) 555-0188 | at 2026-11-21 20:23:31.512555+00 | id 51255501")

    assert Scanner([CALLER]).scan("database", text) == []
    assert Scanner([CALLER]).self_test() == []


def test_zip_members_are_scanned_one_by_one():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("phones.csv", "id,number\n1,512-555-0123\n")
        writer.writestr("locations.csv", "id,name\n1,Example\n")
    sources = Sources()
    sources.add("export.zip", archive.getvalue())

    assert sorted(sources.texts) == ["export.zip :: locations.csv", "export.zip :: phones.csv"]
    found = Scanner([CALLER]).scan("phones", sources.texts["export.zip :: phones.csv"])
    assert [f.number for f in found] == ["5125550123"]
