"""``llmspell web`` in headless Chromium (Debian's ``chromium`` and ``chromedriver``, driven
by Selenium): every page over a sqlite store holding 10,000 sessions and one session with
10,000 journal entries. Each page's load time is printed (not asserted: budgets belong to the
benchmarks), paging is followed by clicking, read-only views are checked with JavaScript off,
the live timeline with it on, and a screenshot of each page is saved under the test's tmp dir
(the paths are printed)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from backends import make_backend
from llmspell import Runtime
from llmspell.journal import Draft

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ENTRIES = 10_000
SESSIONS = 10_000
SECRET = "sk-proj-Zq3xW9mT2vB8nK4pL7rJ1sYd"

pytestmark = [pytest.mark.slow]


def _missing() -> str | None:
    if shutil.which(CHROMIUM) is None or shutil.which(CHROMEDRIVER) is None:
        return (f"no {CHROMIUM} / {CHROMEDRIVER}: install Debian's packages with "
                "'apt-get install -y chromium chromium-driver'")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is not installed (it is in the 'dev' extra)"
    return None


def _browser(javascript: bool = True) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--disable-gpu", "--window-size=1400,1000"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _fill(rt: Runtime) -> str:
    """10,000 sessions, the newest with 10,000 journal entries: LLM and tool calls with
    request, response, latency and tokens, state writes (with values) and artifacts."""
    for start in range(0, SESSIONS - 1, 500):
        for i in range(start, min(start + 500, SESSIONS - 1)):
            rt.sessions.create(f"batch-{i:05d}", tags=["bulk", "even" if i % 2 == 0 else "odd"])
    s = rt.sessions.create("big-run", tags=["demo"], metadata={"api_key": SECRET})
    with rt.sessions.current(s.id):
        for i in range(100):
            rt.state.save(f"session:{s.id}", "progress", {"step": i, "done": i / 100})
        rt.artifacts.store(s.id, "summary.md", "# Summary\n\nTen thousand entries.\n")
        rt.artifacts.store(s.id, "result.json", {"rows": 3, "token": SECRET})
    drafts: list[Draft] = []
    made = rt.sessions.journal.count(s.id)
    for i in range(ENTRIES - made):
        if i % 4 == 0:
            drafts.append(Draft("llm.call", {
                "agent": "writer", "provider": "scripted", "model": "demo",
                "request": {"messages": [{"role": "user", "content": f"part {i}"}]},
                "response": {"text": f"answer {i}"}, "usage": {"total_tokens": 40 + i % 7},
                "latency_ms": 12.5 + i % 5}, f"c{i}"))
        elif i % 4 == 1:
            drafts.append(Draft("tool.call", {"tool": "calculator", "params": {"x": i},
                                              "result": {"value": i * 2}, "latency_ms": 0.4},
                                f"c{i - 1}"))
        else:
            drafts.append(Draft("event", {"name": "progress", "i": i}))
        if len(drafts) == 500:
            rt.sessions.append_entries(s.id, drafts)
            drafts = []
    if drafts:
        rt.sessions.append_entries(s.id, drafts)
    assert rt.sessions.journal.count(s.id) == ENTRIES
    return str(s.id)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if reason := _missing():
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("web-big")
    with make_backend("sqlite", directory) as place:
        rt = place.runtime(session__max_active_sessions=2 * SESSIONS)
        started = time.perf_counter()
        sid = _fill(rt)
        print(f"\nfilled {SESSIONS} sessions and {ENTRIES} journal entries in "
              f"{time.perf_counter() - started:.1f} s")
        yield rt, sid, directory


def _load(driver: Any, url: str) -> float:
    """Seconds from navigation start to the load event, as the browser measured it."""
    driver.get(url)
    timing = driver.execute_script(
        "const t = performance.getEntriesByType('navigation')[0];"
        "return [t.startTime, t.loadEventEnd];")
    return float(timing[1] - timing[0]) / 1000


def _until(driver: Any, check: Any) -> Any:
    """Wait (up to 10 s) until ``check(driver)`` is truthy, reading again when the page it
    read was replaced meanwhile: a click or a submit navigates, and elements found before the
    new page arrived go stale."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 10, poll_frequency=0.05,
                         ignored_exceptions=(StaleElementReferenceException,)).until(check)


def _first_row_id(driver: Any, table: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")[0].get_attribute("id")


def _state_at(driver: Any, seq: int) -> None:
    """Ask the state page for ``seq`` through its seq box, and wait for that page."""
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.ID, "seq-box")
    box.clear()
    box.send_keys(str(seq))
    box.submit()
    _until(driver, lambda d: d.find_element(By.TAG_NAME, "h1").text.startswith(
        f"State at seq {seq}"))


def _shot(driver: Any, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"  screenshot {path}")


def test_every_page_in_chromium_at_10k(big: Any, serve: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rt, sid, _ = big
    base = serve(rt, allow_actions=True)
    last = rt.sessions.journal.last_seq(sid)
    pages = {
        "sessions": "/sessions",
        "sessions-filtered": "/sessions?status=active&tag=odd&name=batch-0",
        "session": f"/sessions/{sid}",
        "timeline": f"/sessions/{sid}/timeline",
        "timeline-last-page": f"/sessions/{sid}/timeline?before={last + 1}",
        "timeline-calls": f"/sessions/{sid}/timeline?kind=llm,tool&after=5000",
        "state-latest": f"/sessions/{sid}/state",
        "state-at-150": f"/sessions/{sid}/state?seq=150",
        "artifacts": f"/sessions/{sid}/artifacts",
        "artifact-text": f"/sessions/{sid}/artifact?name=summary.md",
        "artifact-json": f"/sessions/{sid}/artifact?name=result.json",
        "store": "/store",
    }
    driver = _browser()
    try:
        print(f"\npage load times ({SESSIONS} sessions, {ENTRIES} journal entries, sqlite):")
        for name, path in pages.items():
            seconds = _load(driver, base + path)
            size = len(driver.page_source.encode())
            print(f"  {name:20s} {seconds * 1000:7.1f} ms  {size / 1024:6.1f} KiB  {path}")
            _shot(driver, tmp_path / "screens", name)
            assert "Not shown" not in driver.page_source, name
            assert SECRET not in driver.page_source, name
        # Paging by clicking: the timeline's next page starts where the first ended.
        driver.get(base + f"/sessions/{sid}/timeline")
        rows = driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
        assert len(rows) == 50 and rows[0].get_attribute("id") == "seq-1"
        driver.find_element(By.CSS_SELECTOR, ".pager a[rel=next]").click()
        _until(driver, lambda d: _first_row_id(d, "timeline") == "seq-51")
        rows = driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")
        assert rows[-1].get_attribute("id") == "seq-100"
        driver.find_element(By.CSS_SELECTOR, ".pager a[rel=prev]").click()
        _until(driver, lambda d: _first_row_id(d, "timeline") == "seq-1")
        # An LLM call expands to its request and response.
        driver.get(base + f"/sessions/{sid}/timeline?kind=llm&limit=5")
        call = driver.find_element(By.CSS_SELECTOR, "tr.k-llm details.call")
        call.find_element(By.TAG_NAME, "summary").click()
        assert "answer" in call.text and "request" in call.text
        _shot(driver, tmp_path / "screens", "timeline-call-expanded")
        # The session list pages through all 10k, 50 at a time.
        driver.get(base + "/sessions")
        first = driver.find_element(By.CSS_SELECTOR, "#sessions tbody tr td a").text
        driver.find_element(By.CSS_SELECTOR, ".pager a[rel=next]").click()
        _until(driver, lambda d: "Showing 51–100" in d.page_source)
        second = driver.find_element(By.CSS_SELECTOR, "#sessions tbody tr td a").text
        assert first == "big-run" and second != first
        # The slider (JavaScript) moves the state page.
        driver.get(base + f"/sessions/{sid}/state?seq=150")
        _state_at(driver, 40)
        assert driver.find_element(By.ID, "seq-slider").is_displayed()
    finally:
        driver.quit()


def test_read_only_views_work_without_javascript(big: Any, serve: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rt, _, _ = big
    base = serve(rt)
    driver = _browser(javascript=False)
    try:
        driver.get(base + "/sessions")
        name = driver.find_element(By.NAME, "name")
        name.send_keys("big-")
        name.submit()
        _until(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 1)
        rows = driver.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")
        assert "big-run" in rows[0].text
        rows[0].find_element(By.TAG_NAME, "a").click()
        driver.find_element(By.LINK_TEXT, "Timeline").click()
        assert len(driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")) == 50
        assert "live updates need JavaScript" not in driver.page_source  # not on page 1
        driver.find_element(By.CSS_SELECTOR, ".pager a[rel=next]").click()
        _until(driver, lambda d: _first_row_id(d, "timeline") == "seq-51")
        kinds = driver.find_element(By.NAME, "kind")
        kinds.send_keys("llm")
        kinds.submit()
        _until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "tr.k-llm details.call"))
        call = driver.find_element(By.CSS_SELECTOR, "tr.k-llm details.call")
        call.find_element(By.TAG_NAME, "summary").click()
        assert "answer" in call.text
        driver.find_element(By.LINK_TEXT, "State").click()
        assert not driver.find_element(By.ID, "seq-slider").is_displayed()
        _state_at(driver, 120)
        assert "progress" in driver.find_element(By.ID, "state").text
        _shot(driver, tmp_path / "screens", "state-no-javascript")
        driver.find_element(By.LINK_TEXT, "Artifacts").click()
        driver.find_element(By.LINK_TEXT, "summary.md").click()
        assert "Ten thousand entries." in driver.find_element(By.ID, "preview").text
        _shot(driver, tmp_path / "screens", "artifact-no-javascript")
    finally:
        driver.quit()


def test_live_timeline_shows_new_entries(big: Any, serve: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    rt, _, _ = big
    s = rt.sessions.create("live-run")
    base = serve(rt, poll_seconds=0.1)
    driver = _browser()
    try:
        driver.get(base + f"/sessions/{s.id}/timeline")
        WebDriverWait(driver, 10).until(
            lambda d: d.find_element(By.ID, "live-state").text == "live")
        rt.sessions.journal.append(s.id, "tool.call", {"tool": "calculator",
                                                       "params": {"x": 2}, "result": 4,
                                                       "latency_ms": 3.0, "api_key": SECRET})
        seq = rt.sessions.journal.last_seq(s.id)
        row = WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, f"seq-{seq}"))
        assert "tool.call" in row.text and "k-tool" in row.get_attribute("class")
        row.find_element(By.TAG_NAME, "summary").click()
        headings = [h.text for h in row.find_elements(By.TAG_NAME, "h4")]
        assert headings == ["params", "result", "other fields"]
        assert driver.find_element(By.ID, "last-seq").text == str(seq)
        assert SECRET not in driver.page_source
        _shot(driver, tmp_path / "screens", "timeline-live")
    finally:
        driver.quit()
