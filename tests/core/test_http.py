from __future__ import annotations

import httpx
import pytest
import respx

from hub.errors import AuthError, RateLimitedError, RetriableError, VendorError
from hub.http import MAX_ATTEMPTS, HttpClient, RequestBudget, parse_retry_after

SECRET = "tok-s3cr3t-value"


@pytest.fixture
def client() -> HttpClient:
    return HttpClient("https://api.vendor.test", connector="vendor", headers={"Authorization": f"Bearer {SECRET}"}, secrets=[SECRET])


def test_429_retry_after_is_honoured(respx_mock: respx.MockRouter, client: HttpClient, no_sleep: list[float]) -> None:
    route = respx_mock.get("https://api.vendor.test/x").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(503), httpx.Response(200, json={"ok": 1})]
    )
    assert client.get("/x").json() == {"ok": 1}
    assert route.call_count == 3
    assert no_sleep[0] == 7.0 and 0 < no_sleep[1] <= 30


def test_timeouts_are_retried_then_fatal(respx_mock: respx.MockRouter, client: HttpClient) -> None:
    route = respx_mock.get("https://api.vendor.test/slow").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(RetriableError, match=r"\[vendor\] GET /slow timed out"):
        client.get("/slow")
    assert route.call_count == MAX_ATTEMPTS


def test_storm_gives_up_with_a_named_error_and_no_secret(respx_mock: respx.MockRouter, client: HttpClient) -> None:
    respx_mock.get("https://api.vendor.test/x").mock(return_value=httpx.Response(429, text=f"slow down {SECRET}"))
    with pytest.raises(RateLimitedError) as exc:
        client.get("/x", stream="contacts")
    assert "[vendor/contacts]" in str(exc.value) and SECRET not in str(exc.value)


def test_4xx_are_not_retried(respx_mock: respx.MockRouter, client: HttpClient) -> None:
    route = respx_mock.post("https://api.vendor.test/x").mock(return_value=httpx.Response(400, json={"message": "bad"}))
    with pytest.raises(VendorError, match="HTTP 400"):
        client.post("/x", json={})
    assert route.call_count == 1
    respx_mock.get("https://api.vendor.test/me").mock(return_value=httpx.Response(401, text=f"token {SECRET} refused"))
    with pytest.raises(AuthError) as exc:
        client.get("/me")
    assert SECRET not in str(exc.value)


def test_garbage_body_is_a_vendor_error(respx_mock: respx.MockRouter, client: HttpClient) -> None:
    respx_mock.get("https://api.vendor.test/x").mock(return_value=httpx.Response(200, text="<html>oops</html>"))
    resp = client.get("/x")
    with pytest.raises(VendorError, match="not JSON"):
        client.json(resp, stream="contacts")


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("soon") is None


def test_budget_paces_requests(no_sleep: list[float]) -> None:
    budget = RequestBudget(requests=5, per_seconds=1.0)
    for _ in range(5):
        budget.acquire()
    assert no_sleep == []
    budget.acquire()
    assert no_sleep and 0.15 <= no_sleep[0] <= 0.21
    shared = RequestBudget.for_limit(type("L", (), {"requests": 2, "per_seconds": 1.0})(), account="acct-1")  # type: ignore[arg-type]
    assert RequestBudget.for_limit(shared, account="acct-1") is shared  # type: ignore[arg-type]
