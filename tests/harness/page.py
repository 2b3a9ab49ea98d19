"""A simulated browser tab on the app's page (NiceGUI's ``user`` fixture), and the service behind it: what
the UI tests and the fault matrix's UI face do as a user does, and read as a user sees it."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing import User

from llamaburn.engine.runner import Run
from llamaburn.service.runs import RunService
from llamaburn.testing.page import marked
from llamaburn.ui.page import MainPage
from tests.harness.moments import until

ENDED = ("Complete", "Cancelled", "Failed")


class Page:
    """One tab: its user, the service, the page object (for its backend bar), and the form values each
    ``run`` fills unless told otherwise."""

    def __init__(self, user: User, service: RunService, main_page: MainPage, form: dict[str, Any]) -> None:
        self.user, self.service, self.main, self.form = user, service, main_page, form

    def element(self, marker: str) -> Any:
        """The one element with ``marker`` a user can act on (in the selected tab)."""
        return marked(self.user, marker)

    def text(self, marker: str) -> str:
        return str(self.element(marker).text)

    def log_lines(self) -> list[str]:
        return [label.text for label in self.element("event-log").descendants()]

    def fill(self, **values: Any) -> None:
        """Type ``values`` into the selected tab's form, by field name."""
        with self.user:
            for name, value in values.items():
                self.element(f"field-{name}").value = value

    def set_read_timeout(self, seconds: float | None) -> None:
        """Type the read timeout into the header's field, as a user does before pressing Run."""
        with self.user:
            self.element("read-timeout").value = seconds

    async def connect(self, backend: str, url: str, connected: bool = True) -> None:
        """Pick the backend and URL as a user does; wait until the header says whether it answers."""
        bar = self.main.backend_bar
        previous = bar.backend  # the page connected to its default backend when it opened
        with self.user:
            bar.url.value = url
            switch = bar.kind.value != backend
            if switch:
                bar.kind.value = backend  # its change connects
        if not switch:
            self.user.find(marker="backend-url").trigger("keydown.enter")  # one connect at a time, never two
        expected = self.service.registry.backend(backend)(url).url
        if connected:
            await until(
                lambda: (
                    bar.backend is not None
                    and bar.backend is not previous
                    and bar.backend.url == expected
                    and self.text("backend-status").startswith("connected")
                    and bar.model.value is not None
                )
            )
        else:
            await until(lambda: bar.backend is None and self.text("backend-status") == "unreachable")

    async def run(self, wait: bool = True, **values: Any) -> Run:
        """Fill the form (this page's defaults, then ``values``) and press Run; see ``press_run``."""
        self.fill(**{**self.form, **values})
        return await self.press_run(wait)

    async def press_run(self, wait: bool = True) -> Run:
        """Press Run on the form as it is; the run it started, once (with ``wait``) the page shows its end."""
        started = len(self.service.runs)
        self.user.find(marker="run-button").click()
        await until(lambda: len(self.service.runs) == started + 1)
        run = list(self.service.runs.values())[-1]
        if wait:
            await self.ended(run)
        return run

    async def ended(self, run: Run) -> None:
        """The page shows the run's end, the Run button is back, and history holds the final status."""
        await until(lambda: run.done.is_set() and self.text("live-progress") in ENDED)
        await until(lambda: self.element("run-button").enabled)
        await until(lambda: self.service.store.get_run(run.id).status != "running")

    async def history_shows(self, run: Run) -> None:
        """The history table (refreshed on a 0.25 s timer) lists the run with its stored status."""
        status = self.service.store.get_run(run.id).status
        await until(lambda: (run.id, status) in {(r["id"], r["status"]) for r in self.element("history-table").rows})

    def select_tab(self, name: str) -> None:
        self.user.find(marker=f"tab-{name}").click()
        assert self.element("type-tabs").value == name


async def open_page(user: User, service: RunService, **form: Any) -> Page:
    """Open the app's page for ``service`` in ``user``'s tab, once its header has tried its default backend.
    ``form``: the values each ``Page.run`` fills unless told otherwise."""
    pages: list[MainPage] = []

    # Defined here, in a tests.* module, so that the harness does not drop llamaburn from sys.modules after
    # the test (it does for page functions of other modules, e.g. llamaburn.server.register_pages).
    @ui.page("/")
    def index() -> None:
        pages.append(MainPage(service))

    await user.open("/")
    page = Page(user, service, pages[-1], form)
    await until(lambda: page.text("backend-status") != "not connected" and "…" not in page.text("backend-status"))
    return page

