"""One small JSON-over-HTTP POST for the agents' OpenAI-compatible backends (the prompt agent and the judges).

Credentials stay with the configured origin: a redirect would re-send the request, `Authorization` header
included, to another address, so redirects are refused with a one-line error naming both URLs. Every request has an
overall deadline (a server that trickles its answer a byte at a time gets no more than `timeout` seconds in all) and
a reply is at most `MAX_REPLY` bytes of JSON object; a reply too large, too deeply nested or not an object is an error
the caller turns into one line naming the URL.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.error
import urllib.request

from .errors import BackendError


class RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would re-send the request, Authorization header included, to another address: refuse it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


MAX_REPLY = 16 * 2**20  # bytes: a chat answer is a few kB; more is a wrong endpoint or a hostile one


class _TooMuch(Exception):
    """A reply over MAX_REPLY."""


class EndpointDown(Exception):
    """The endpoint did not answer (connection refused, timeout, broken reply); `reason` says why."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def post_json(url: str, body: dict, timeout: float, what: str) -> dict:
    """POST `body` as JSON to `url` (with $OPENAI_API_KEY as a bearer token, if set) and return the JSON reply.

    A redirect raises a one-line BackendError (`what` names the endpoint, e.g. "prompt endpoint"); an HTTP error
    status is re-raised as urllib's HTTPError for the caller's own message; no answer, or none complete within
    `timeout` seconds in all, raises EndpointDown; a reply larger than `MAX_REPLY`, not JSON, nested too deeply or
    not a JSON object raises ValueError.
    """
    deadline = time.monotonic() + timeout
    headers = {"Content-Type": "application/json"}
    if os.environ.get("OPENAI_API_KEY"):
        headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.build_opener(RefuseRedirects).open(request, timeout=timeout) as response:
            reply = _read_reply(response, deadline, timeout)
    except _TooMuch as exc:
        raise BackendError(f"{what} {url} sent {exc}; point the base URL at an OpenAI-compatible chat endpoint") from None
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise BackendError(f"{what} {url} redirects (HTTP {exc.code}) to {exc.headers.get('Location')}; "
                               f"redirects are not followed, so the API key goes nowhere else: set the base URL "
                               f"to the server's own address") from None
        raise
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        raise EndpointDown(getattr(exc, "reason", exc)) from None
    try:
        data = json.loads(reply.decode("utf-8"))
    except RecursionError:
        raise BackendError(f"{what} {url} sent a reply nested too deeply to read; point the base URL at an "
                           f"OpenAI-compatible chat endpoint") from None
    if not isinstance(data, dict):
        raise ValueError("a reply that is not a JSON object")
    return data


def _read_reply(response, deadline: float, timeout: float) -> bytes:
    """The body, read as it arrives, within the overall deadline and the size cap."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no complete answer within {timeout:g} s")
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_REPLY:
            raise _TooMuch(f"a reply over {MAX_REPLY // 2**20} MiB")
        chunks.append(chunk)

