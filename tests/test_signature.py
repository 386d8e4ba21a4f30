"""Twilio signatures: unsigned or tampered webhooks get 403 and change nothing; CSRF exemptions."""

from __future__ import annotations

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

from finder.calls.signature import is_signed
from finder.calls.twiml import FALLBACK_TWIML
from finder.extensions import csrf
from tests.conftest import dispose, make_app
from tests.voice_helpers import (
    NOW,
    build_pool,
    call_params,
    count_rows,
    dialed_number,
    dials,
    new_call_sid,
    post,
    signature,
    twiml,
)

TOKEN = "test-token-for-signatures"


def _request_signed(app: Flask, path: str, params: dict, sign_url: str, sign_params: dict,
                    token: str = TOKEN, method: str = "POST", headers: dict | None = None):
    headers = dict(headers or {})
    headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(
        sign_url, sign_params)
    return app.test_request_context(path, method=method, data=params if method == "POST"
                                    else None, headers=headers)


@pytest.fixture(scope="module")
def bare_app():
    return make_app("sqlite://", TWILIO_AUTH_TOKEN=TOKEN)


PARAMS = {"CallSid": "CA123", "From": "+15125550142", "To": "+18885550101", "Digits": "1"}


def test_a_valid_signature_over_url_and_form_passes(bare_app):
    url = "http://localhost/voice/gather?step=zip"
    with _request_signed(bare_app, "/voice/gather?step=zip", PARAMS, url, PARAMS) as ctx:
        assert is_signed(ctx.request, TOKEN)


@pytest.mark.parametrize(
    ("sign_url", "sign_params", "token"),
    [
        ("http://localhost/voice/gather?step=zip", {**PARAMS, "Digits": "2"}, TOKEN),  # tampered
        ("http://localhost/voice/gather?step=other", PARAMS, TOKEN),  # another URL
        ("https://localhost/voice/gather?step=zip", PARAMS, TOKEN),  # another scheme
        ("http://localhost/voice/gather?step=zip", PARAMS, "another-token"),
        ("http://localhost/voice/gather?step=zip", {k: v for k, v in PARAMS.items()
                                                    if k != "Digits"}, TOKEN),  # field added
    ],
)
def test_anything_altered_fails(bare_app, sign_url, sign_params, token):
    with _request_signed(bare_app, "/voice/gather?step=zip", PARAMS, sign_url, sign_params,
                         token) as ctx:
        assert not is_signed(ctx.request, TOKEN)


def test_a_missing_header_or_token_fails(bare_app):
    with bare_app.test_request_context("/voice/incoming", method="POST", data=PARAMS) as ctx:
        assert not is_signed(ctx.request, TOKEN)
    url = "http://localhost/voice/incoming"
    with _request_signed(bare_app, "/voice/incoming", PARAMS, url, PARAMS, token="") as ctx:
        assert not is_signed(ctx.request, "")
        assert not is_signed(ctx.request, None)


def test_a_get_is_signed_on_its_url_with_the_query(bare_app):
    path = "/voice/fallback?CallSid=CA123&ErrorCode=11200"
    with _request_signed(bare_app, path, {}, "http://localhost" + path, {}, method="GET") as ctx:
        assert is_signed(ctx.request, TOKEN)
    with _request_signed(bare_app, "/voice/fallback?CallSid=CA999&ErrorCode=11200", {},
                         "http://localhost" + path, {}, method="GET") as ctx:
        assert not is_signed(ctx.request, TOKEN)


def test_a_signature_over_the_default_port_also_passes(bare_app):
    # Twilio has signed both with and without an explicit :443/:80; the validator accepts both.
    with _request_signed(bare_app, "/voice/incoming", PARAMS, "http://localhost:80/voice/incoming",
                         PARAMS) as ctx:
        assert is_signed(ctx.request, TOKEN)


ENDPOINTS = [
    "/voice/incoming",
    "/voice/dial-result?attempt=1",
    "/voice/gather?step=facility-unanswered",
    "/voice/gather?step=zip",
    "/voice/status",
    "/voice/status?attempt=1",
    "/voice/fallback",
]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_unsigned_and_tampered_requests_get_403_and_change_nothing(app, path):
    app.config["CLOCK"] = lambda: NOW
    pool = build_pool(app)
    client = app.test_client()
    sid = new_call_sid()
    params = call_params(sid, pool.helpline_number, Digits="1", DialCallStatus="busy")
    before = count_rows(app)
    unsigned = client.post(path, data=params)
    forged = client.post(path, data=params, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"})
    tampered = client.post(path, data={**params, "To": pool.facility_number}, headers={
        "X-Twilio-Signature": signature(app, "http://localhost" + path, params)})
    wrong_url = post(client, path, params, base="https://evil.example")
    for response in (unsigned, forged, tampered, wrong_url):
        assert response.status_code == 403
        assert b"Dial" not in response.get_data()
    assert count_rows(app) == before


def test_a_signed_request_on_the_same_route_does_change_things(app):
    # The counterpart of the test above: the same request, signed, is acted on.
    app.config["CLOCK"] = lambda: NOW
    pool = build_pool(app)
    before = count_rows(app)
    post(app.test_client(), "/voice/incoming", call_params(new_call_sid(), pool.helpline_number))
    after = count_rows(app)
    assert after["call"] == before["call"] + 1
    assert after["webhook_receipt"] == before["webhook_receipt"] + 1


def test_behind_a_tls_proxy_the_public_url_is_validated(app):
    pool = build_pool(app, advertisers=1)
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    public = "https://finder.example.org"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "finder.example.org",
                 "X-Forwarded-For": "203.0.113.9"}
    proxied = make_app(url, PROXY_FIX_HOPS=1, CLOCK=lambda: NOW)
    direct = make_app(url, PROXY_FIX_HOPS=0, CLOCK=lambda: NOW)
    params = call_params(new_call_sid(), pool.helpline_number)
    # Without ProxyFix the app sees http://localhost and the public signature fails.
    refused = post(direct.test_client(), "/voice/incoming", params, base=public,
                   headers=forwarded)
    assert refused.status_code == 403
    root = twiml(post(proxied.test_client(), "/voice/incoming", params, base=public,
                      headers=forwarded))
    assert dialed_number(dials(root)[0]) == pool.advertiser_phones[0]
    dispose(proxied)
    dispose(direct)


def test_the_fallback_refuses_unsigned_requests_even_without_a_database(bare_app):
    client = bare_app.test_client()
    assert client.post("/voice/fallback", data=PARAMS).status_code == 403
    signed = client.post("/voice/fallback", data=PARAMS, headers={
        "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
            "http://localhost/voice/fallback", PARAMS)})
    assert signed.status_code == 200 and signed.get_data(as_text=True) == FALLBACK_TWIML


def test_no_token_configured_refuses_every_webhook():
    app = make_app("sqlite://", TWILIO_AUTH_TOKEN="")
    response = app.test_client().post("/voice/fallback", data=PARAMS, headers={
        "X-Twilio-Signature": RequestValidator("").compute_signature(
            "http://localhost/voice/fallback", PARAMS)})
    assert response.status_code == 403


def test_only_the_voice_blueprint_is_csrf_exempt():
    app = make_app("sqlite://", TWILIO_AUTH_TOKEN=TOKEN)
    assert {bp.name for bp in csrf._exempt_blueprints} == {"voice"}
    assert not csrf._exempt_views

    @app.post("/probe-form")
    def probe_form():
        return "accepted"

    client = app.test_client()
    assert app.config["WTF_CSRF_ENABLED"]
    assert client.post("/probe-form", data={"x": "1"}).status_code == 400
    signed = client.post("/voice/fallback", data=PARAMS, headers={
        "X-Twilio-Signature": RequestValidator(TOKEN).compute_signature(
            "http://localhost/voice/fallback", PARAMS)})
    assert signed.status_code == 200
