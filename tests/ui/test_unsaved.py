"""A run the history database stopped taking: the page says, under the run, which file holds it and the
``llamaburn import`` command that stores it, as the service's notice words it."""

from __future__ import annotations

from typing import Any

import pytest

from llamaburn.errors import StoreError
from llamaburn.storage import recorder
from llamaburn.storage.data_dir import data_dir
from tests.harness.moments import until
from tests.harness.page import Page


def fail(*_: Any) -> None:
    raise StoreError("history database postgresql://team/history failed: OperationalError: server closed")


async def test_a_run_history_did_not_take_is_named_on_the_page(
    page: Page, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(recorder, "PATIENCE_S", 0)  # no 10 s of asking again after the run ends
    store = page.service.store
    store.add_iteration = store.import_runs = fail  # type: ignore[method-assign]  # gone once the run is created
    await page.user.should_not_see(marker="unsaved-notice")
    run = await page.run(wait=False)
    await until(lambda: page.text("unsaved-notice") != "")  # found once it shows
    await until(lambda: page.text("live-progress") == "Complete" and page.element("run-button").enabled)
    path = data_dir() / "unsaved" / f"{run.id}.json"
    notice = page.text("unsaved-notice")
    assert run.status == "completed" and path.exists()
    assert notice.startswith("the history database did not take the run (history database postgresql://team")
    assert notice.endswith(f"it is saved in {path}: store it with `llamaburn import {path}` once the database answers")
    assert page.user.notify.contains(notice) and f"error: {notice}" in page.log_lines()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [f"run {run.id}: {notice}"]
    caplog.clear()  # the service's log line for the operator, expected here (the user fixture fails on ERROR)

    del store.add_iteration, store.import_runs  # the store answers again: the next run is stored, no notice
    again = await page.run()
    assert again.status == "completed" and store.get_run(again.id).status == "completed"
    await page.user.should_not_see(marker="unsaved-notice")
