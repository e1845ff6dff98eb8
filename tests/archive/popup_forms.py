"""What a browser sends back from a pop-up: the hidden fields it was rendered with (the request key, the round
shown, the selection), and the messages an answer shows."""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from django.db import connection

from archive.services import sign_page_key

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "modal"}
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
MESSAGE = re.compile(r'<div class="message message-[a-z]+" role="[a-z]+">(.*?)</div>', re.S)


def hidden_fields(response) -> dict[str, Any]:
    """The hidden inputs of a rendered pop-up (CSRF token aside): a value, or a list for a repeated name."""
    fields: dict[str, Any] = {}
    for name, value in HIDDEN.findall(response.content.decode()):
        if name == "csrfmiddlewaretoken":
            continue
        value = html.unescape(value)
        if name in fields:
            fields[name] = [*fields[name], value] if isinstance(fields[name], list) else [fields[name], value]
        else:
            fields[name] = value
    return fields


def opened(client, url: str, params: dict | None = None) -> dict[str, Any]:
    """Open a pop-up as the page does (htmx GET) and return the hidden fields its form will post."""
    response = client.get(url, params or {}, **HTMX)
    assert response.status_code == 200, response.content[:500]
    return hidden_fields(response)


def signed_key(url: str) -> str:
    """A fresh request key for the pop-up at `url`, as its GET would make one."""
    return sign_page_key(urlsplit(url).path)


def shown_messages(response) -> list[str]:
    return [html.unescape(text.strip()) for text in MESSAGE.findall(response.content.decode())]


class InThread:
    """Run `call` on a thread of its own (so on a database connection of its own); `result()` waits for it."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def run() -> None:
            try:
                self._value = call()
            except BaseException as exc:  # noqa: BLE001 - re-raised by result()
                self._error = exc
            finally:
                connection.close()

        self._thread = threading.Thread(target=run)
        self._thread.start()

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 60) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the request did not finish"
        if self._error is not None:
            raise self._error
        return self._value
