"""Check that Twilio's signatures validate through the proxy: two requests to /voice/fallback.

    .venv/bin/python deploy/check_signature.py https://finder.example.org

It sends a POST signed with TWILIO_AUTH_TOKEN (read from the environment or ``.env``) for the URL
given, as Twilio would for a number whose webhooks point there, then the same POST unsigned.
Expected: 200 with TwiML for the signed one, 403 for the other. /voice/fallback reads no
database and records nothing, so this is safe on a live site. Exits 0 when both answers are right.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

from twilio.request_validator import RequestValidator

#: A made-up call: the fallback ignores the fields, but the signature covers them.
PARAMS = {"CallSid": "CA" + "0" * 32, "AccountSid": "AC" + "0" * 32, "CallStatus": "ringing",
          "Direction": "inbound", "ApiVersion": "2010-04-01"}
PATH = "/voice/fallback"


def post(url: str, params: dict, headers: dict, context: ssl.SSLContext | None) -> tuple[int, str]:
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=15, context=context) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def is_twiml(text: str) -> bool:
    try:
        return ET.fromstring(text).tag == "Response"
    except ET.ParseError:
        return False


def check(base_url: str, token: str, context: ssl.SSLContext | None = None) -> list[str]:
    """The problems found (an empty list when the signed request passes and the other fails)."""
    url = base_url.rstrip("/") + PATH
    signature = RequestValidator(token).compute_signature(url, PARAMS)
    problems = []
    status, text = post(url, PARAMS, {"X-Twilio-Signature": signature}, context)
    if status != 200 or not is_twiml(text):
        problems.append(
            f"signed POST {url} answered {status}, not 200 with TwiML. A 403 means the app "
            "rebuilt a different URL than the one signed (check PROXY_FIX_HOPS and the proxy's "
            "X-Forwarded-Proto, -Host and -Port headers) or TWILIO_AUTH_TOKEN differs.")
    status, _ = post(url, PARAMS, {}, context)
    if status != 403:
        problems.append(f"unsigned POST {url} answered {status}, not 403.")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url",
                        help="the public URL Twilio is given, e.g. https://finder.example.org")
    parser.add_argument("--cafile",
                        help="a CA certificate to trust instead of the system's (for staging)")
    args = parser.parse_args(argv)
    try:
        from dotenv import load_dotenv
    except ImportError:
        pass
    else:
        load_dotenv(Path.cwd() / ".env", override=False)
    token = os.environ.get("TWILIO_AUTH_TOKEN")
    if not token:
        print("TWILIO_AUTH_TOKEN is not set (in the environment or .env).", file=sys.stderr)
        return 2
    context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
    try:
        problems = check(args.base_url, token, context)
    except (urllib.error.URLError, OSError) as error:
        print(f"Could not reach {args.base_url}: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print(f"OK: {args.base_url.rstrip('/')}{PATH} accepts a signed request and refuses an "
              "unsigned one.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
