"""One small JSON-over-HTTP POST for the agents' OpenAI-compatible backends (the prompt agent and the judges).

Credentials stay with the configured origin: a redirect would re-send the request, `Authorization` header
included, to another address, so redirects are refused with a one-line error naming both URLs. Every request has a
timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request

from .errors import BackendError


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would re-send the request, Authorization header included, to another address: refuse it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


class EndpointDown(Exception):
    """The endpoint did not answer (connection refused, timeout, broken reply); `reason` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def post_json(url: str, body: dict, timeout: float, what: str) -> dict:
    """POST `body` as JSON to `url` (with $OPENAI_API_KEY as a bearer token, if set) and return the JSON reply.

    A redirect raises a one-line BackendError (`what` names the endpoint, e.g. "prompt endpoint"); an HTTP error
    status is re-raised as urllib's HTTPError for the caller's own message; no answer raises EndpointDown.
    """
    headers = {"Content-Type": "application/json"}
    if os.environ.get("OPENAI_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.build_opener(RefuseRedirects).open(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise BackendError(f"{what} {url} redirects (HTTP {exc.code}) to {exc.headers.get('Location')}; "
                               f"redirects are not followed, so the API key goes nowhere else: set the base URL "
                               f"to the server's own address") from None
        raise
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        raise EndpointDown(getattr(exc, "reason", exc)) from None
