"""Every panel and flow of the app, through NiceGUI's simulated `user`, against the fake Ollama server, twice:
over a real loopback socket, and mocked by respx at the httpx layer (the same protocol fixture, in-process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Literal

import httpx
import pytest
import respx
from nicegui import ui
from nicegui.testing import User
from pydantic import Field

from llamaburn.engine.registry import Registry, load_registry
from llamaburn.plugin import Inputs, Metric, Modality, Target, hookimpl
from llamaburn.server import register_pages
from llamaburn.service.compare import compare
from llamaburn.service.request import RunRequest
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import DEFAULT_MODEL, FakeServer, Script
from llamaburn.testing.page import marked

OTHER_MODEL = "qwen3:4b"


@pytest.fixture(params=["socket", "respx"])
def fake(request: pytest.FixtureRequest) -> Iterator[FakeServer]:
    server = FakeServer(Script(tokens=20, ttft_s=0.01, tokens_per_s=400), models=[DEFAULT_MODEL, OTHER_MODEL])
    if request.param == "socket":
        with server:
            yield server
        return
    with respx.mock(assert_all_called=False) as router:  # the server is never started: no socket listens
        server.respx_routes(router)
        router.route().mock(side_effect=httpx.ConnectError)  # nothing else listens: Hugging Face, other ports
        yield server


class CountInputs(Inputs):
    words: int = Field(3, ge=1, description="Words to count.")


class CountModality(Modality):
    """A second runnable modality with metrics of its own, measured without the server: its numbers follow
    from its form, so a test knows which tab's form a run used."""

    name = "count"
    label = "Count"
    available = True
    inputs = CountInputs
    metrics = (
        Metric(name="words_per_s", label="Words/s", unit="w/s", direction="higher"),
        Metric(name="wait_ms", label="Wait", unit="ms", direction="lower"),
        Metric(name="words", label="Words", unit="", direction="higher"),
    )

    def prompt(self, inputs: Inputs, index: int) -> str:
        assert isinstance(inputs, CountInputs)
        return f"count to {inputs.words}"

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        assert isinstance(inputs, CountInputs)
        on_text(" ".join(str(word) for word in range(1, inputs.words + 1)))
        return {"words_per_s": inputs.words * 10.0, "wait_ms": 100.0 / inputs.words, "words": inputs.words}


class CountPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(CountModality())


async def open_app(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> User:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    service = RunService(registry, Store())
    register_pages(service)
    await user.open("/")
    await until(lambda: text(user, "backend-status").startswith("connected"))
    user.service = service  # type: ignore[attr-defined]
    return user


@pytest.fixture
async def app_user(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    yield await open_app(user, fake, monkeypatch, load_registry())
    await user.service.aclose()  # type: ignore[attr-defined]


@pytest.fixture
async def count_user(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    """The app with a second runnable tab, Count, registered as a third-party plugin is."""
    yield await open_app(user, fake, monkeypatch, load_registry(extra=[("count", CountPlugin())]))
    await user.service.aclose()  # type: ignore[attr-defined]


def element(user: User, marker: str) -> Any:
    return marked(user, marker)


def text(user: User, marker: str) -> str:
    return str(element(user, marker).text)


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    """Poll ``condition``; an element not on the page yet (``find`` raises) counts as not yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            if condition():
                return
        except AssertionError:
            pass
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def set_inputs(user: User, **values: Any) -> None:
    with user:
        for name, value in values.items():
            element(user, f"field-{name}").value = value


async def run(user: User, **values: Any) -> None:
    """Start a run from the form and wait until the page shows its end."""
    service: RunService = user.service  # type: ignore[attr-defined]
    started = len(service.runs)
    set_inputs(user, **{"iterations": 2, "warmup": 0, **values})
    user.find(marker="run-button").click()
    await until(lambda: len(service.runs) == started + 1)
    await until(
        lambda: (
            list(service.runs.values())[-1].status in ("completed", "cancelled", "failed")
            and text(user, "live-progress") in ("Complete", "Cancelled", "Failed")
        )
    )


async def test_six_type_tabs_with_text_first_and_those_not_built_coming_soon(app_user: User) -> None:
    tabs = [e for e in app_user.find(ui.tab).elements]
    assert [t.props["name"] for t in sorted(tabs, key=lambda t: t.id)] == [
        "text",
        "image",
        "audio",
        "video",
        "graphics3d",
        "code",
    ]
    assert element(app_user, "type-tabs").value == "text"
    for name in ("image", "audio", "video", "graphics3d"):
        await app_user.should_see(marker=f"soon-{name}")
    await app_user.should_see(marker="field-language")  # Code works: its form, not "Coming Soon"
    await app_user.should_see(marker="run-button")
    app_user.find(marker="tab-audio").click()
    await app_user.should_see("Audio benchmarks: Coming Soon")
    await app_user.should_see("Will measure: Real-time factor, Word error rate, Latency to first word")


async def test_header_connects_lists_models_and_shows_model_info(app_user: User) -> None:
    assert element(app_user, "backend-select").value == "ollama"
    assert text(app_user, "backend-status") == "connected · 2 models"
    model = element(app_user, "model-select")
    assert model.options == [DEFAULT_MODEL, OTHER_MODEL] and model.value == DEFAULT_MODEL
    await until(lambda: bool(app_user.find(marker="info-quantization").elements))
    for marker, expected in (
        ("info-parameter_size", "Size: "),
        ("info-quantization", "Quant: Q4_K_M"),
        ("info-family", "Family: "),
        ("info-format", "Format: gguf"),
    ):
        assert text(app_user, marker).startswith(expected)
    assert "-" not in text(app_user, "info-parameter_size")


async def test_unreachable_backend_is_reported_and_nothing_freezes(app_user: User) -> None:
    with app_user:
        element(app_user, "backend-select").value = "openai"
        element(app_user, "backend-url").value = "http://127.0.0.1:9"
    app_user.find(marker="backend-url").trigger("keydown.enter")
    await until(lambda: text(app_user, "backend-status") == "unreachable")
    await app_user.should_see("is not reachable")
    assert any("is not reachable" in line.text for line in element(app_user, "event-log").descendants())


async def test_run_streams_live_text_and_shows_results_and_history(app_user: User) -> None:
    await run(app_user, iterations=3, warmup=1)
    assert text(app_user, "live-progress") == "Complete"
    assert text(app_user, "live-text") == "".join(f"t{i} " for i in range(20))
    log_lines = [label.text for label in element(app_user, "event-log").descendants()]
    assert "warmup 1/1" in log_lines and "iteration 3/3 started" in log_lines
    assert any(line.startswith("iteration 2 complete: TPS ") for line in log_lines)
    assert [row["iteration"] for row in element(app_user, "live-iterations").rows] == [1, 2, 3]
    assert text(app_user, "result-tps").endswith("tok/s") and text(app_user, "result-ttft_ms").endswith("ms")
    chart = element(app_user, "results-chart").options
    assert len(chart["series"][0]["data"]) == 3 and all(v > 0 for v in chart["series"][0]["data"])
    await until(lambda: [r["status"] for r in element(app_user, "history-table").rows] == ["completed"])
    row = element(app_user, "history-table").rows[0]
    assert row["model"] == DEFAULT_MODEL and row["date"].startswith("Today")
    assert row["metric"] == "TPS (tok/s)" and row["value"] > 0  # the text modality's headline metric


async def test_invalid_config_is_refused_with_a_clear_message(app_user: User) -> None:
    set_inputs(app_user, iterations=0)
    app_user.find(marker="run-button").click()
    await app_user.should_see("iterations: Input should be greater than or equal to 1 (got 0)")
    set_inputs(app_user, iterations=1, prompts="   ")
    assert app_user.service.store.count_runs() == 0  # type: ignore[attr-defined]


async def test_cancel_mid_run_keeps_completed_iterations(app_user: User, fake: FakeServer) -> None:
    fake.script = Script(tokens=200, tokens_per_s=100)
    set_inputs(app_user, iterations=5, warmup=0)
    app_user.find(marker="run-button").click()
    await until(lambda: len(element(app_user, "live-iterations").rows) == 1)
    await until(lambda: text(app_user, "live-progress") == "Iteration 2/5")
    app_user.find(marker="cancel-button").click()
    await until(lambda: text(app_user, "live-progress") == "Cancelled", timeout_s=2)
    await until(lambda: [r["status"] for r in element(app_user, "history-table").rows] == ["cancelled"])
    [stored] = app_user.service.store.list_runs()  # type: ignore[attr-defined]
    assert len(app_user.service.store.iterations(stored.id)) == 1  # type: ignore[attr-defined]
    assert element(app_user, "run-button").enabled


async def test_history_survives_reload_then_delete_and_clear(app_user: User) -> None:
    await run(app_user)
    await run(app_user)
    await until(lambda: len(element(app_user, "history-table").rows) == 2)
    await app_user.open("/")
    await until(lambda: len(element(app_user, "history-table").rows) == 2)
    table = element(app_user, "history-table")
    first = table.rows[0]
    app_user.find(marker="history-table").trigger("selection", {"added": True, "rows": [first], "keys": [first["id"]]})
    app_user.find(marker="history-delete").click()
    await until(
        lambda: (
            [r["id"] for r in element(app_user, "history-table").rows] != [first["id"]]
            and len(element(app_user, "history-table").rows) == 1
        )
    )
    app_user.find(marker="history-clear").click()
    await app_user.should_see("Delete every run in history? This cannot be undone.")
    app_user.find(marker="confirm-clear").click()
    await until(lambda: element(app_user, "history-table").rows == [])
    assert app_user.service.store.count_runs() == 0  # type: ignore[attr-defined]


async def test_compare_two_models_shows_the_engine_table_and_charts(app_user: User, fake: FakeServer) -> None:
    await run(app_user)
    fake.script = Script(tokens=20, ttft_s=0.05, tokens_per_s=200)
    with app_user:
        element(app_user, "model-select").value = OTHER_MODEL
    await run(app_user)
    await until(lambda: len(element(app_user, "history-table").rows) == 2)
    rows = element(app_user, "history-table").rows
    assert not element(app_user, "compare-button").enabled
    app_user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
    )
    assert element(app_user, "compare-button").enabled
    app_user.find(marker="compare-button").click()
    await app_user.should_see(f"Comparison: {OTHER_MODEL} vs {DEFAULT_MODEL}")
    runs = [app_user.service.store.get_run(r["id"]) for r in rows]  # type: ignore[attr-defined]
    expected = compare(runs, load_registry().modality("text").metrics)
    tps = next(row for row in expected.rows if row.key == "avg_tps")
    assert tps.diff_pct[1] is not None
    assert text(app_user, "diff-avg_tps-1") == f"{tps.diff_pct[1]:+.1f}%"
    assert tps.winner == 1  # the first model streamed at 400 tok/s, the second at 200
    await app_user.should_see(marker="winner-avg_tps")
    assert "text-positive" in element(app_user, "cell-avg_tps-1").classes
    ttft = next(row for row in expected.rows if row.key == "avg_ttft_ms")
    assert ttft.winner == 1 and "text-positive" in element(app_user, "cell-avg_ttft_ms-1").classes
    assert text(app_user, "cell-quantization-0") == text(app_user, "cell-quantization-1") == "Q4_K_M"
    assert text(app_user, "cell-parameter_size-0") != "-"
    bars = element(app_user, "comparison-chart-0").options
    assert [s["name"].split(" ")[0] for s in bars["series"]] == [OTHER_MODEL, DEFAULT_MODEL]
    trend = element(app_user, "trend-chart").options
    assert len(trend["series"][0]["data"]) == 1


async def test_a_run_outlives_its_tab_and_a_second_tab_sees_shared_history(
    app_user: User, create_user: Callable[[], User], fake: FakeServer
) -> None:
    fake.script = Script(tokens=30, tokens_per_s=150)
    set_inputs(app_user, iterations=2, warmup=0)
    app_user.find(marker="run-button").click()
    await until(lambda: text(app_user, "live-progress").startswith("Iteration"))
    other = create_user()
    await other.open("/")
    assert text(other, "live-progress") == "Idle"  # another tab does not follow a run it did not start
    await app_user.open("/")  # the first tab navigates away from its run
    service: RunService = app_user.service  # type: ignore[attr-defined]
    await until(lambda: [r.status for r in service.store.list_runs()] == ["completed"])
    await until(lambda: [r["status"] for r in element(other, "history-table").rows] == ["completed"])


async def test_plugins_dialog_lists_plugins_with_their_origin(app_user: User) -> None:
    app_user.find(marker="plugins-button").click()
    rows = element(app_user, "plugins-table").rows
    text_row = next(row for row in rows if row["name"] == "text")
    assert (text_row["kind"], text_row["distribution"], text_row["status"]) == ("modality", "llamaburn", "available")
    assert sum(row["status"] == "coming soon" for row in rows) == 4
    assert {row["name"] for row in rows if row["kind"] == "backend"} == {"ollama", "openai", "embedded"}


async def test_failure_mid_stream_is_notified_logged_and_kept_in_history(app_user: User, fake: FakeServer) -> None:
    fake.script = Script(tokens=30, drop_after=5)
    await run(app_user, iterations=2)
    assert text(app_user, "live-progress") == "Failed"
    await app_user.should_see("closed the connection mid-stream")
    log_lines = [label.text for label in element(app_user, "event-log").descendants()]
    assert any(line.startswith("error: ") and "mid-stream" in line for line in log_lines)
    await until(lambda: [r["status"] for r in element(app_user, "history-table").rows] == ["failed"])
    assert element(app_user, "run-button").enabled  # the app is ready for the next run


async def test_model_output_is_rendered_as_text_never_as_html(app_user: User, fake: FakeServer) -> None:
    fake.script = Script(tokens=["<script>alert(1)</script>", "<b>bold</b>"])
    await run(app_user, iterations=1)
    assert text(app_user, "live-text") == "<script>alert(1)</script><b>bold</b>"
    await app_user.should_not_see(ui.html)  # text lands in a label, which the browser escapes


async def test_a_run_started_over_the_api_shows_in_an_idle_page(app_user: User, fake: FakeServer) -> None:
    service: RunService = app_user.service  # type: ignore[attr-defined]
    checked = RunRequest(inputs={"iterations": 2, "warmup": 0}, backend="ollama", url=fake.url, model=DEFAULT_MODEL)
    run = await service.start(checked, announce=True)  # as POST /api/benchmark does
    await until(lambda: text(app_user, "live-progress") == "Complete")
    assert text(app_user, "live-text") == "".join(f"t{i} " for i in range(20))
    assert any(f"run {run.id[:8]} started over the API" in line.text
               for line in element(app_user, "event-log").descendants())
    await until(lambda: [r["status"] for r in element(app_user, "history-table").rows] == ["completed"])


def form_field(user: User, tab: str, name: str) -> Any:
    """The ``name`` input of one tab's form: with two runnable tabs, both forms have ``iterations``."""
    [found] = [
        field
        for field in user.find(marker=f"field-{name}").elements
        if any(isinstance(a, ui.tab_panel) and a.props["name"] == tab for a in field.ancestors())
    ]
    return found


def select_tab(user: User, name: str) -> None:
    user.find(marker=f"tab-{name}").click()
    assert element(user, "type-tabs").value == name


async def run_selected(user: User) -> Any:
    """Press Run and wait for the page to show the end of the run it started; return that run."""
    service: RunService = user.service  # type: ignore[attr-defined]
    started = len(service.runs)
    user.find(marker="run-button").click()
    await until(lambda: len(service.runs) == started + 1)
    run = list(service.runs.values())[-1]
    await until(lambda: run.done.is_set() and text(user, "live-progress") == "Complete")
    await until(lambda: element(user, "run-button").enabled)
    return run


async def test_run_and_cancel_act_on_the_selected_tab(count_user: User) -> None:
    assert element(count_user, "type-tabs").value == "text"
    select_tab(count_user, "count")
    with count_user:
        element(count_user, "field-words").value = 7
    counted = await run_selected(count_user)
    assert (counted.modality.name, counted.inputs.words) == ("count", 7)  # the selected tab's form
    assert text(count_user, "live-text") == "1 2 3 4 5 6 7"
    select_tab(count_user, "text")
    with count_user:
        element(count_user, "field-prompts").value = "Name a colour."
    chatted = await run_selected(count_user)
    assert chatted.modality.name == "text" and chatted.inputs.prompts == ["Name a colour."]
    select_tab(count_user, "image")
    assert not element(count_user, "run-button").enabled  # a Coming Soon tab has nothing to run
    select_tab(count_user, "count")
    assert element(count_user, "run-button").enabled and not element(count_user, "cancel-button").enabled


async def test_cancel_stops_a_run_started_from_a_second_runnable_tab(count_user: User, fake: FakeServer) -> None:
    fake.script = Script(tokens=200, tokens_per_s=100)
    select_tab(count_user, "count")
    select_tab(count_user, "text")  # back to text after visiting another runnable tab
    with count_user:
        form_field(count_user, "text", "iterations").value = 3
        form_field(count_user, "text", "warmup").value = 0
    count_user.find(marker="run-button").click()
    await until(lambda: text(count_user, "live-progress") == "Iteration 1/3")
    assert element(count_user, "cancel-button").enabled and not element(count_user, "run-button").enabled
    count_user.find(marker="cancel-button").click()
    await until(lambda: text(count_user, "live-progress") == "Cancelled")
    [run] = count_user.service.runs.values()  # type: ignore[attr-defined]
    assert (run.modality.name, run.status) == ("text", "cancelled")


async def test_a_plugin_modality_shows_its_own_metrics_in_results_live_history_and_comparison(
    count_user: User,
) -> None:
    select_tab(count_user, "count")
    for words in (4, 8):
        with count_user:
            element(count_user, "field-words").value = words
        await run_selected(count_user)
    # Results: a card per declared metric, with its label and unit; none of text's.
    assert text(count_user, "result-words_per_s") == "80.0 w/s"
    assert text(count_user, "result-wait_ms") == "12.5 ms" and text(count_user, "result-words") == "8.0"
    await count_user.should_see("Avg Words/s")
    await count_user.should_not_see(marker="result-tps")
    chart = element(count_user, "results-chart").options
    assert [s["name"] for s in chart["series"]] == ["Words/s", "Wait"]
    assert chart["series"][0]["data"] == [80.0] * 5
    # Live: the iteration table's columns are the modality's metrics.
    live = element(count_user, "live-iterations")
    assert [c["label"] for c in live.columns] == ["#", "Words/s", "Wait", "Words"]
    assert live.rows[0] == {"iteration": 1, "words_per_s": "80.0 w/s", "wait_ms": "12.5 ms", "words": "8"}
    log_lines = [label.text for label in element(count_user, "event-log").descendants()]
    assert "iteration 5 complete: Words/s 80.0 w/s | Wait 12.5 ms | Words 8" in log_lines
    # History: the headline (first) metric.
    await until(lambda: [r["status"] for r in element(count_user, "history-table").rows] == ["completed"] * 2)
    rows = element(count_user, "history-table").rows
    assert [(r["metric"], r["value"]) for r in rows] == [("Words/s (w/s)", 80.0), ("Words/s (w/s)", 40.0)]
    # Comparison: its metrics, winners by their directions, its charts and trend.
    count_user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
    )
    count_user.find(marker="compare-button").click()
    await until(lambda: bool(count_user.find(marker="label-avg_words_per_s").elements))
    assert text(count_user, "label-avg_words_per_s") == "Avg Words/s"
    assert text(count_user, "cell-avg_words_per_s-0") == "80.00 w/s"
    assert text(count_user, "diff-avg_words_per_s-1") == "-50.0%"
    assert "text-positive" in element(count_user, "cell-avg_words_per_s-0").classes  # higher is better
    assert "text-positive" in element(count_user, "cell-avg_wait_ms-0").classes  # lower is better: 12.5 < 25
    assert "text-positive" in element(count_user, "cell-avg_words-0").classes
    await count_user.should_not_see(marker="cell-avg_tps-0")
    titles = [element(count_user, f"comparison-chart-{i}").options["title"]["text"] for i in range(3)]
    assert titles == ["Words/s (w/s)", "Wait (ms)", "Words"]
    assert element(count_user, "trend-metric").options == {
        "words_per_s": "Words/s (w/s)", "wait_ms": "Wait (ms)", "words": "Words"}
    trend = element(count_user, "trend-chart").options
    assert trend["series"][0]["name"] == "Words/s (w/s)" and trend["series"][0]["data"] == [40.0, 80.0]



async def test_an_api_key_reaches_the_server_and_is_stored_masked(app_user: User, fake: FakeServer) -> None:
    key = "sk-test-4f9c2a"
    await app_user.should_not_see(marker="backend-api-key")  # Ollama takes no key
    with app_user:
        element(app_user, "backend-select").value = "openai"
    await app_user.should_see(marker="backend-api-key")
    with app_user:
        element(app_user, "backend-url").value = fake.url
        element(app_user, "backend-api-key").value = key
    app_user.find(marker="backend-api-key").trigger("keydown.enter")
    await until(lambda: text(app_user, "backend-status") == "connected · 2 models")
    assert element(app_user, "backend-api-key").props["type"] == "password"
    await run(app_user, iterations=1)
    assert text(app_user, "live-progress") == "Complete"
    sent = [r for r in fake.requests if r.path in ("/v1/models", "/v1/chat/completions")]
    assert {r.path for r in sent} == {"/v1/models", "/v1/chat/completions"}
    assert all(r.headers["authorization"] == f"Bearer {key}" for r in sent)
    [stored] = app_user.service.store.list_runs()  # type: ignore[attr-defined]
    assert stored.backend == "openai" and stored.config["api_key"] == "***"
    assert key not in stored.model_dump_json() and all(key not in label.text for label in
                                                       element(app_user, "event-log").descendants())


class DialInputs(Inputs):
    steps: int = Field(4, ge=1, le=9, title="Steps", description="How many steps.")
    mode: Literal["a", "b"] = Field("a", description="Which way.")
    strict: bool = Field(False, description="Refuse loose answers.")
    sizes: list[float] = Field(default_factory=lambda: [1.5, 2.0], description="Sizes, one per line.")
    note: str = Field("", json_schema_extra={"multiline": True}, description="A free note.")


class DialModality(CountModality):
    name = "dial"
    label = "Dial"
    inputs = DialInputs


class DialPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(DialModality())


async def test_a_new_plugin_field_shows_in_the_form_with_no_ui_edit(
    user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dial_user = await open_app(user, fake, monkeypatch, load_registry(extra=[("dial", DialPlugin())]))
    select_tab(dial_user, "dial")
    steps = element(dial_user, "field-steps")
    assert isinstance(steps, ui.number) and (steps.props["min"], steps.props["max"]) == (1, 9)
    mode = element(dial_user, "field-mode")
    assert isinstance(mode, ui.select) and mode.options == ["a", "b"] and mode.value == "a"
    assert isinstance(element(dial_user, "field-strict"), ui.switch)
    assert element(dial_user, "field-sizes").value == "1.5\n2.0"
    assert isinstance(element(dial_user, "field-note"), ui.textarea)
    await until(lambda: bool(dial_user.find(marker="info-quantization").elements))  # the header is done
    await dial_user.service.aclose()  # type: ignore[attr-defined]
