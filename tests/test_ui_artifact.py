"""What an iteration made, in the app: the live panel shows a modality's declared ``Artifact`` once an
iteration completes (Code's extracted code, highlighted, its error line marked), the iteration table shows a
pass/fail metric by its declared outcome words, and the comparison says which way each metric is better.

Through NiceGUI's simulated ``user``, against the fake Ollama server; the real browser is test_e2e_code.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from nicegui.testing import User

from llamaburn.engine.registry import Registry, load_registry
from llamaburn.plugin import Artifact, Inputs, Metric, Modality, Target, hookimpl
from llamaburn.server import register_pages
from llamaburn.service.runs import RunService
from llamaburn.storage.store import Store
from llamaburn.testing import FakeServer, Script
from llamaburn.testing.page import marked

INVALID_PYTHON = ["Here it is:\n\n```py", "thon\ndef add(a, b):\n", "    return a +\n", "```\n"]  # fence split
VALID_PYTHON = ["```python\n", "def add(a, b):\n", "    return a + b\n", "```"]


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    with FakeServer(Script(tokens=INVALID_PYTHON)) as server:
        yield server


class QueryModality(Modality):
    """A third-party modality that declares an artifact of its own keys: the app shows it without knowing it."""

    name = "query"
    label = "Query"
    available = True
    metrics = (Metric(name="rows", label="Rows", unit="", direction="higher", outcomes=("found", "none")),)
    artifact = Artifact(detail="sql", label="The query", language_detail="dialect", error_line_detail="bad_line")

    def prompt(self, inputs: Inputs, index: int) -> str:
        return f"query {index}"

    async def measure(
        self, inputs: Inputs, prompt: str, target: Target, on_text: Callable[[str], None]
    ) -> dict[str, Any]:
        on_text("SELECT")
        return {"rows": 100, "sql": "\n  SELECT *\nFROM t\nWHERE", "dialect": "sql", "bad_line": 4}


class QueryPlugin:
    @hookimpl
    def register_modalities(self, register: Callable[[Modality], None]) -> None:
        register(QueryModality())


async def open_app(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch, registry: Registry) -> User:
    monkeypatch.setenv("OLLAMA_HOST", fake.url)
    service = RunService(registry, Store())
    register_pages(service)
    await user.open("/")
    await until(lambda: str(marked(user, "backend-status").text).startswith("connected"))
    user.service = service  # type: ignore[attr-defined]
    return user


@pytest.fixture
async def app_user(user: User, fake: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    registry = load_registry(extra=[("query", QueryPlugin())])
    yield await open_app(user, fake, monkeypatch, registry)
    await user.service.aclose()  # type: ignore[attr-defined]


async def until(condition: Callable[[], bool], timeout_s: float = 15) -> None:
    """Poll ``condition``; an element not on the page yet (``marked`` raises) counts as not yet."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            if condition():
                return
        except LookupError:
            pass
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def run(user: User, tab: str, **values: Any) -> None:
    """Run the ``tab``'s modality from its form and wait until the page shows its end."""
    service: RunService = user.service  # type: ignore[attr-defined]
    started = len(service.runs)
    user.find(marker=f"tab-{tab}").click()
    with user:
        for name, value in {"iterations": 2, "warmup": 0, **values}.items():
            marked(user, f"field-{name}").value = value
    user.find(marker="run-button").click()
    await until(lambda: len(service.runs) == started + 1)
    await until(lambda: marked(user, "live-progress").text in ("Complete", "Failed"))


def shown(user: User, marker: str) -> Any:
    """The one element with ``marker``, which must be on the page and visible."""
    element = marked(user, marker)
    assert element.visible and all(ancestor.visible for ancestor in element.ancestors()), marker
    return element


async def test_a_completed_iteration_shows_its_code_highlighted_with_the_error_line_marked(app_user: User) -> None:
    await run(app_user, "code", language="python")
    assert marked(app_user, "live-progress").text == "Complete"
    code = shown(app_user, "live-artifact-code")
    assert code.content == "def add(a, b):\n    return a +\n"  # the extracted code, not the whole answer
    assert code.markdown.content.startswith("```python\n")  # highlighted as the run's language
    assert "--error-line" in code.style and code.style["--error-line"] == "2"
    assert shown(app_user, "live-artifact-label").text == "Extracted code"
    assert shown(app_user, "live-artifact-error").text == "Syntax error at line 2"
    table = marked(app_user, "live-iterations")
    assert "Syntax validity (%)" in [column["label"] for column in table.columns]  # its unit in the header
    assert [row["syntax_valid"] for row in table.rows] == ["invalid", "invalid"]


async def test_valid_code_is_shown_without_an_error_and_marked_valid(app_user: User, fake: FakeServer) -> None:
    fake.script = Script(tokens=VALID_PYTHON)
    await run(app_user, "code", language="python", iterations=1)
    code = shown(app_user, "live-artifact-code")
    assert code.content == "def add(a, b):\n    return a + b\n"
    assert "--error-line" not in code.style
    await app_user.should_not_see(marker="live-artifact-error")
    assert [row["syntax_valid"] for row in marked(app_user, "live-iterations").rows] == ["valid"]


async def test_the_language_selector_sets_the_highlighting(app_user: User, fake: FakeServer) -> None:
    fake.script = Script(tokens=["```rust\nfn add(a: i32) -> i32 {\n    a +\n}\n```"])
    await run(app_user, "code", language="rust", iterations=1)
    assert marked(app_user, "field-language").options[:3] == ["python", "javascript", "typescript"]
    code = shown(app_user, "live-artifact-code")
    assert code.markdown.content.startswith("```rust\n") and code.content.startswith("fn add")
    assert shown(app_user, "live-artifact-error").text.startswith("Syntax error at line ")


async def test_any_modality_declaring_an_artifact_shows_it_by_its_own_keys(app_user: User) -> None:
    await run(app_user, "query", iterations=1)
    assert shown(app_user, "live-artifact-label").text == "The query"
    code = shown(app_user, "live-artifact-code")
    assert code.content == "\n  SELECT *\nFROM t\nWHERE"  # exactly the text: no blank line or indent dropped
    assert code.markdown.content.startswith("```sql\n") and code.style["--error-line"] == "4"
    assert shown(app_user, "live-artifact-error").text == "Error at line 4"
    assert marked(app_user, "live-iterations").rows == [{"iteration": 1, "rows": "found"}]


async def test_a_modality_without_an_artifact_shows_none(app_user: User, fake: FakeServer) -> None:
    await run(app_user, "code", iterations=1)
    assert app_user.find(marker="live-artifact-code").elements
    fake.script = Script(tokens=4)
    await run(app_user, "text", iterations=1)
    await app_user.should_not_see(marker="live-artifact")
    await app_user.should_not_see(marker="live-artifact-code")


async def test_the_comparison_shows_syntax_validity_and_that_higher_is_better(
    app_user: User, fake: FakeServer
) -> None:
    await run(app_user, "code", language="python", iterations=1)
    fake.script = Script(tokens=VALID_PYTHON)
    await run(app_user, "code", language="python", iterations=1)
    await until(lambda: len(marked(app_user, "history-table").rows) == 2)
    rows = marked(app_user, "history-table").rows
    app_user.find(marker="history-table").trigger(
        "selection", {"added": True, "rows": rows, "keys": [r["id"] for r in rows]}
    )
    app_user.find(marker="compare-button").click()
    await until(lambda: bool(app_user.find(marker="label-avg_syntax_valid").elements))
    assert marked(app_user, "label-avg_syntax_valid").text == "Avg Syntax validity"
    assert marked(app_user, "direction-avg_syntax_valid").text == "higher"
    assert marked(app_user, "direction-avg_ttft_ms").text == "lower"
    values = {marked(app_user, f"cell-avg_syntax_valid-{i}").text for i in range(2)}
    assert values == {"100.00 %", "0.00 %"}
    winner = next(i for i in range(2) if marked(app_user, f"cell-avg_syntax_valid-{i}").text == "100.00 %")
    assert "text-positive" in marked(app_user, f"cell-avg_syntax_valid-{winner}").classes
