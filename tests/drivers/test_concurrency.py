"""Concurrent calls on one mcis driver, as the workflow makes them (drivers.batch runs up to 20
per-VM calls at once; a driver runs up to 8 in its threads). Libcloud keeps a request's response
on its shared connection object (`LibcloudConnection.response`, read back by `getresponse()`),
and mcis shares one Libcloud NodeDriver per region between its threads, so two calls at once can
read each other's answer. The test holds two calls between their request and the read of its
response (a barrier in the mock's `getresponse`), the interleaving threads meet by chance."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.drivers.conftest import Cloud

MEET_TIMEOUT = 2.0
"""How long a call waits for the other at the read of its response; a driver whose calls on
one Libcloud connection never overlap makes it wait this once, then go on alone."""


SIGN_IN = re.compile(r"/oauth2/token|/v2\.0/tokens")
"""Sign-in requests (Azure fetches a token before each call), on connections of their own."""


def _meeting_getresponse(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`getresponse` that waits, the first time only, for a second call to reach it too (the
    read of a cloud API answer, not of a sign-in)."""
    meeting = threading.Barrier(2, timeout=MEET_TIMEOUT)

    def getresponse(self: Any) -> Any:
        signing_in = SIGN_IN.search(str(self.response.request.url))
        if not signing_in and not meeting.broken:
            try:
                meeting.wait()
            except threading.BrokenBarrierError:
                pass
            finally:
                meeting.abort()  # once: later reads go on at once
        return original(self)

    return getresponse


async def test_two_calls_at_once_each_read_their_own_answer(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, driver = cloud.case, cloud.driver
    cloud.mock.phase = "running"
    assert await driver.get_vm(case.region, case.vm_id) is not None  # signed in, connected
    http: Any = case.http
    monkeypatch.setattr(http, "getresponse", _meeting_getresponse(http.getresponse))
    vm, specs = await asyncio.gather(
        driver.get_vm(case.region, case.vm_id),
        driver.specs(case.region),
        return_exceptions=True,
    )
    assert not isinstance(vm, BaseException) and vm is not None and vm.csp_id == case.vm_id
    assert not isinstance(specs, BaseException) and case.spec in {s.name for s in specs}
