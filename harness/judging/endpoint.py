"""An OpenAI-compatible chat-completions endpoint as judge, over the standard library's HTTP client.

Everything it brings back is untrusted: the body is read up to `RESPONSE_MAX_BYTES`, parsed as JSON with the
harness's bounded parser, and only the answer's text and the token counts are kept. Requests that fail
transiently (HTTP 429 or 5xx, a timeout, a refused or dropped connection) are retried with exponential
backoff, honouring a `Retry-After` of at most `RETRY_AFTER_MAX_S`; other failures are final. The API key is
read from the environment variable the suite names, sent only in the Authorization header (redirects are
not followed, so it goes nowhere else), and never written anywhere: messages name the variable, not its value.
"""
from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from harness.common.errors import HarnessError
from harness.common.files import parse_json
from harness.metrics.judge import EndpointSpec

RESPONSE_MAX_BYTES = 1024 * 1024
"""The most of one response body read."""
RETRY_AFTER_MAX_S = 30.0
"""A `Retry-After` above this waits this long."""
BACKOFF_FIRST_S = 0.5
"""The first wait between attempts; it doubles each time."""
_TRANSIENT = {429, 500, 502, 503, 504}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib would send the Authorization header along, to any host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Answer:
    """One judge answer, or why there is none."""

    text: str | None
    """The answer (None: the call failed; `error` says how)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str = ""


class EndpointError(Exception):
    """A call that failed for good (after its retries, or at once for a non-transient failure)."""


class Endpoint:
    """Chat completions at `spec.base_url`, one prompt per request."""

    def __init__(self, spec: EndpointSpec, sleep: Callable[[float], None] = time.sleep):
        self.spec, self._sleep = spec, sleep
        self.url = spec.base_url.rstrip("/") + "/chat/completions"
        self._key: str | None = None
        if spec.api_key_env is not None:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise HarnessError(f"the judge's API key variable {spec.api_key_env} is not set", "judge.endpoint")
            self._key = key

    def ask(self, prompt: str, decoding: dict[str, Any], seed: int | None) -> Answer:
        """The endpoint's answer to `prompt` (an Answer with `error` when every attempt failed)."""
        body: dict[str, Any] = {"model": self.spec.model, "messages": [{"role": "user", "content": prompt}],
                                "max_tokens": decoding["max_new_tokens"]}
        body |= {"temperature": 0} if decoding.get("greedy") else {"temperature": decoding["temperature"], "seed": seed}
        data = json.dumps(body).encode()
        problem = ""
        for attempt in range(self.spec.max_attempts):
            try:
                return self._post(data)
            except _Retry as e:
                problem = str(e)
                if attempt + 1 < self.spec.max_attempts:
                    self._sleep(e.wait if e.wait is not None else BACKOFF_FIRST_S * 2 ** attempt)
            except EndpointError as e:
                return Answer(None, error=str(e))
        return Answer(None, error=f"no answer after {self.spec.max_attempts} attempts: {problem}")

    def _post(self, data: bytes) -> Answer:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=self.spec.timeout_s) as response:
                raw = response.read(RESPONSE_MAX_BYTES + 1)
        except urllib.error.HTTPError as e:
            if e.code in _TRANSIENT:
                raise _Retry(f"HTTP {e.code}", _retry_after(e.headers.get("Retry-After"))) from None
            moved = " (a redirect, which is not followed: give the final URL)" if 300 <= e.code < 400 else ""
            raise EndpointError(f"HTTP {e.code} from the judge endpoint{moved}") from None
        except (TimeoutError, socket.timeout):
            raise _Retry(f"no answer within {self.spec.timeout_s:g} s") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, (TimeoutError, socket.timeout)):
                raise _Retry(f"no answer within {self.spec.timeout_s:g} s") from None
            raise _Retry(f"cannot reach the endpoint ({e.reason})") from None
        except (ConnectionError, http.client.HTTPException) as e:
            raise _Retry(f"connection failed ({type(e).__name__})") from None
        if len(raw) > RESPONSE_MAX_BYTES:
            raise EndpointError(f"response over {RESPONSE_MAX_BYTES:,} bytes")
        return _answer(raw)


class _Retry(Exception):
    def __init__(self, message: str, wait: float | None = None):
        super().__init__(message)
        self.wait = wait


def _retry_after(value: str | None) -> float | None:
    """Seconds a `Retry-After` header asks for, capped (None: absent or a date, which backoff replaces)."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    if seconds is None or seconds != seconds or seconds < 0:
        return None
    return min(seconds, RETRY_AFTER_MAX_S)


def _answer(raw: bytes) -> Answer:
    """The answer text and token counts of a chat-completions body; EndpointError when it is not one."""
    try:
        body = parse_json(raw.decode("utf-8"), "the judge endpoint's answer")
    except (UnicodeDecodeError, HarnessError):
        raise EndpointError("the endpoint's answer is not JSON") from None
    try:
        text = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise EndpointError("the endpoint's answer has no choices[0].message.content") from None
    if not isinstance(text, str):
        raise EndpointError("the endpoint's answer content is not text")
    usage = body.get("usage") if isinstance(body, dict) else None
    usage = usage if isinstance(usage, dict) else {}
    return Answer(text, _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")))


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else 0
