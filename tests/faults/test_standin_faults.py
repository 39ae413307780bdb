"""The stand-in's fault kinds do what their docstrings say, seen from a real
client: a reset is an RST (``ConnectionResetError``), a trickle arrives in
pieces over time, a slow-down delays, a burst fails exactly ``count``
calls, and ``clear_faults()`` ends it all."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.provider import endpoint_group


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    with StandInAdobe(rate_limit=None) as server:
        yield server


def refresh_form(standin: StandInAdobe, refresh_token: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": standin.client_id,
        "client_secret": standin.client_secret,
    }


def raw_exchange(standin: StandInAdobe, path: str, timeout: float = 10) -> list[tuple[float, bytes]]:
    """GET ``path`` on a bare socket; each piece received and when (seconds from sending)."""
    host, port = standin.url.removeprefix("http://").split(":")
    pieces: list[tuple[float, bytes]] = []
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        start = time.monotonic()
        while True:
            data = sock.recv(65536)
            if not data:
                return pieces
            pieces.append((time.monotonic() - start, data))


def caused_by_reset(exc: BaseException) -> bool:
    """True when a ``ConnectionResetError`` is in ``exc``'s chain or arguments."""
    seen: list[BaseException] = [exc]
    while seen:
        current = seen.pop()
        if isinstance(current, ConnectionResetError):
            return True
        seen += [a for a in current.args if isinstance(a, BaseException)]
        seen += [e for e in (current.__cause__, current.__context__) if e is not None]
    return False


def test_endpoint_groups() -> None:
    assert endpoint_group("/ims/token/v3") == endpoint_group("/token") == "token"
    assert endpoint_group("/ims/revoke") == endpoint_group("/token/revoke") == "revoke"
    assert endpoint_group("/ims/userinfo/v2") == "userinfo"
    assert endpoint_group("/ims/keys") == endpoint_group("/ims/.well-known/openid-configuration") == "keys"
    assert endpoint_group("/ims/authorize/v2") == endpoint_group("/ims/logout/v1") == "authorize"
    assert endpoint_group("/discovery/me") == endpoint_group("/api/x/reports") == "api"


def test_reset_before_answering_is_a_connection_reset_and_nothing_happens_at_adobe(
    standin: StandInAdobe,
) -> None:
    tokens = standin.mint_token(scope="openid offline_access")
    standin.reset_connections(0, count=1, endpoints=["token"])
    with pytest.raises(requests.ConnectionError) as caught:
        requests.post(
            f"{standin.url}/ims/token/v3", data=refresh_form(standin, tokens["refresh_token"]), timeout=5
        )
    assert caused_by_reset(caught.value)
    assert [c.status for c in standin.token_calls()] == [0]  # recorded, never answered
    # The count is used up, and the refresh token was never used: it still works.
    answer = requests.post(
        f"{standin.url}/ims/token/v3", data=refresh_form(standin, tokens["refresh_token"]), timeout=5
    )
    assert answer.status_code == 200


def test_a_reset_is_an_rst_not_an_orderly_close(standin: StandInAdobe) -> None:
    standin.reset_connections(0, endpoints=["keys"])
    with pytest.raises(ConnectionResetError):
        raw_exchange(standin, "/ims/keys")


def test_reset_mid_body_cuts_a_handled_call(standin: StandInAdobe) -> None:
    tokens = standin.mint_token(scope="openid offline_access")
    standin.reset_connections(200, endpoints=["token"])
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as caught:
        requests.post(
            f"{standin.url}/ims/token/v3", data=refresh_form(standin, tokens["refresh_token"]), timeout=5
        )
    assert caused_by_reset(caught.value)
    standin.clear_faults()
    # Adobe handled it: the refresh token was rotated, and the answer with the new one lost.
    again = requests.post(
        f"{standin.url}/ims/token/v3", data=refresh_form(standin, tokens["refresh_token"]), timeout=5
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_trickled_body_comes_in_pieces_after_the_headers(standin: StandInAdobe) -> None:
    whole = requests.get(f"{standin.url}/ims/keys", timeout=5).content
    standin.trickle(64, 0.05, endpoints=["keys"])
    pieces = raw_exchange(standin, "/ims/keys")
    received = b"".join(p for _, p in pieces)
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: %d" % len(whole) in head
    assert body == whole
    assert len(pieces) >= len(whole) // 64  # one piece at a time
    assert pieces[-1][0] >= 0.05 * (len(whole) // 64 - 1)  # paced, not sent at once
    # Through requests, the same bytes (a client bounding each read waits it out).
    assert requests.get(f"{standin.url}/ims/keys", timeout=5).content == whole


def test_trickled_headers_come_a_few_bytes_at_a_time(standin: StandInAdobe) -> None:
    standin.trickle(5, 0.01, headers=True, endpoints=["keys"])
    pieces = raw_exchange(standin, "/ims/keys")
    assert pieces[0][1] == b"HTTP/"  # not even the status line at once
    received = b"".join(p for _, p in pieces)
    assert received.startswith(b"HTTP/1.1 200 OK\r\n") and b"Connection: close" in received
    standin.clear_faults()
    standin.trickle(50, 0.01, headers=True, endpoints=["keys"])
    answer = requests.get(f"{standin.url}/ims/keys", timeout=10)
    assert answer.status_code == 200 and answer.json()["keys"]


def test_slow_down_delays_back_channel_calls_only(standin: StandInAdobe) -> None:
    standin.slow_down(0.5)
    start = time.monotonic()
    assert requests.get(f"{standin.url}/ims/keys", timeout=5).status_code == 200
    assert time.monotonic() - start >= 0.5
    start = time.monotonic()
    page = requests.get(
        f"{standin.url}/ims/logout/v1",
        params={"client_id": standin.client_id},
        allow_redirects=False,
        timeout=5,
    )
    assert page.status_code == 302 and time.monotonic() - start < 0.5  # a browser's page: not slowed
    standin.clear_faults()
    start = time.monotonic()
    requests.get(f"{standin.url}/ims/keys", timeout=5)
    assert time.monotonic() - start < 0.5


def test_fail_calls_fails_exactly_count_calls_then_adobe_answers(standin: StandInAdobe) -> None:
    standin.fail_calls(503, count=3, body="busy", endpoints=["keys", "token"])
    answers = [requests.get(f"{standin.url}/ims/keys", timeout=5) for _ in range(2)]
    answers.append(requests.post(f"{standin.url}/ims/token/v3", data={"grant_type": "x"}, timeout=5))
    assert [(a.status_code, a.text) for a in answers] == [(503, "busy")] * 3
    assert [c.status for c in standin.token_calls()] == [503]
    assert requests.get(f"{standin.url}/ims/keys", timeout=5).status_code == 200


def test_lasting_faults_combine_until_cleared(standin: StandInAdobe) -> None:
    standin.slow_down(0.2, endpoints="api")
    standin.fail_calls(502, endpoints=["api"])
    for _ in range(2):
        start = time.monotonic()
        assert requests.get(f"{standin.url}/discovery/me", timeout=5).status_code == 502
        assert time.monotonic() - start >= 0.2
    standin.fail_next_api(500)
    standin.clear_faults()  # the queued one-shot fault goes too
    assert (
        requests.get(f"{standin.url}/discovery/me", timeout=5).status_code == 401
    )  # no token: a real answer


def test_one_shot_faults_can_trickle_and_reset(standin: StandInAdobe) -> None:
    standin.fail_next_token(503, "x" * 40, trickle=10, pause=0.05)
    start = time.monotonic()
    answer = requests.post(f"{standin.url}/ims/token/v3", data={"grant_type": "x"}, timeout=5)
    assert (answer.status_code, answer.text) == (503, "x" * 40) and time.monotonic() - start >= 0.15
    standin.fail_next_revoke(reset_after=0)
    with pytest.raises(requests.ConnectionError) as caught:
        requests.post(f"{standin.url}/ims/revoke", data={"token": "t"}, timeout=5)
    assert caused_by_reset(caught.value)
    # About 110 bytes of status line and headers, then 10 of the 40-byte body.
    standin.fail_next_api(500, '{"error_code":"500000","message":"a" * 9}', reset_after=120)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as cut:
        requests.get(f"{standin.url}/discovery/me", timeout=5)
    assert caused_by_reset(cut.value)


def test_bad_fault_arguments_are_refused(standin: StandInAdobe) -> None:
    with pytest.raises(ValueError, match="endpoints"):
        standin.slow_down(1, endpoints=["tokens"])
    with pytest.raises(ValueError, match="count"):
        standin.fail_calls(503, count=0)
    with pytest.raises(ValueError, match="chunk"):
        standin.trickle(0)
    assert not standin.state.conditions
