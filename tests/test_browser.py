"""The notebooks in a real browser: JupyterLab on 127.0.0.1, driven by Debian's Chromium.

A JupyterLab server (random port and token, its own settings, a copy of the notebooks so
nothing is saved into the checkout) serves the notebooks; Playwright drives the Chromium
that ``which chromium`` names (browsers cannot be downloaded here). A test opens a
notebook, runs every cell, checks what the page renders — widgets included — clicks
widget buttons and checks the page again. Screenshots of every cell go to
``$CHAN_NB_ARTIFACTS`` (default ``out/browser/`` in the project, which git ignores).

Skips with a reason when Chromium or Playwright is missing, unless
``CHAN_NB_REQUIRE_BROWSER=1`` (CI sets it after installing Chromium), where that fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: JupyterLab user settings: render every cell (screenshots of off-screen cells), no news.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def _unavailable(reason: str) -> None:
    if os.environ.get("CHAN_NB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (CHAN_NB_REQUIRE_BROWSER=1: the browser test must run here)")
    pytest.skip(reason)


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        _unavailable(
            "Chromium is not installed: the real-browser test needs Debian's chromium "
            "(apt-get install -y chromium); Playwright's own browsers cannot be downloaded here"
        )
        raise AssertionError  # unreachable: skip/fail raise
    return found


def artifacts_dir() -> Path:
    path = Path(os.environ.get("CHAN_NB_ARTIFACTS", PROJECT_ROOT / "out" / "browser"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Lab:
    """A running JupyterLab server serving a copy of the notebooks."""

    def __init__(self, base: Path) -> None:
        self.root = base / "root"
        shutil.copytree(NOTEBOOK_DIR, self.root / "notebooks")
        settings = base / "settings"
        for name, values in LAB_SETTINGS.items():
            target = settings / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAN_NB_")}
        env.update(
            CHAN_NB_NODE_URL=f"ws://127.0.0.1:{free_port()}/channel",  # notebook 5: no node
            JUPYTER_CONFIG_DIR=str(base / "config"),
            JUPYTER_RUNTIME_DIR=str(base / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(settings),
            JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
        )
        self.log = (base / "jupyterlab.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=",
                "--LabApp.extension_manager=readonly",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={base / 'workspaces'}",
            ],
            cwd=self.root,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.log_path = base / "jupyterlab.log"
        self._wait_ready(timeout=90)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        status = f"{self.url}/api/status?token={self.token}"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"JupyterLab exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(status, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"JupyterLab did not answer:\n{self.log_path.read_text()[-3000:]}")

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/notebooks/{name}?token={self.token}&reset"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    chromium_path()  # no server when there is no browser to look at it
    server = Lab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install playwright)")
        raise
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


class NotebookPage:
    """One notebook open in JupyterLab, with the steps a tutorial reader takes."""

    def __init__(
        self, browser: Any, lab: Lab, name: str, shots: Path, width: int = 1400, tag: str = ""
    ) -> None:
        self.name = name
        self.shots = shots
        self.tag = tag  # in screenshot names: a dark or narrow pass does not overwrite
        self.page = browser.new_page(viewport={"width": width, "height": 1000})
        self.page.set_default_timeout(60_000)
        self.page.goto(lab.notebook_url(name))
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached")
        self.page.wait_for_function("() => window.jupyterapp !== undefined")
        self.wait_kernel_idle()

    def wait_kernel_idle(self, timeout: float = 90_000) -> None:
        self.page.wait_for_function(
            """() => {
                const panel = window.jupyterapp.shell.currentWidget;
                const kernel = panel && panel.sessionContext && panel.sessionContext.session
                    && panel.sessionContext.session.kernel;
                return kernel && kernel.status === 'idle';
            }""",
            timeout=timeout,
        )

    def run_all(self, timeout: float = 180_000) -> None:
        """Run every cell (as Run ▸ Run All Cells does) and wait until all have run."""
        self.page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        self.page.wait_for_function(
            """() => {
                const prompts = [...document.querySelectorAll(
                    '.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')];
                return prompts.length > 0
                    && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
            }""",
            timeout=timeout,
        )
        self.wait_kernel_idle()

    def errors(self) -> list[str]:
        rendered = self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']"
        )
        return [rendered.nth(i).inner_text()[:2000] for i in range(rendered.count())]

    def screenshot(self, label: str) -> Path:
        path = self.shots / f"{Path(self.name).stem}{self.tag}--{label}.png"
        self.page.screenshot(path=str(path))
        return path

    def screenshot_cells(self) -> list[Path]:
        """One picture per cell, so a person can read the notebook as rendered."""
        cells = self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
        paths = []
        for i in range(cells.count()):
            path = self.shots / f"{Path(self.name).stem}{self.tag}--cell{i:02d}.png"
            cells.nth(i).screenshot(path=str(path))
            paths.append(path)
        return paths

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def open_notebook(browser: Any, lab: Lab) -> Iterator[Any]:
    opened: list[NotebookPage] = []
    shots = artifacts_dir()

    def opener(name: str, width: int = 1400, tag: str = "") -> NotebookPage:
        notebook = NotebookPage(browser, lab, name, shots, width, tag)
        opened.append(notebook)
        return notebook

    yield opener
    for notebook in opened:
        notebook.close()


def test_analysis_notebook_renders_tables_diagrams_and_a_working_stepper(
    open_notebook: Any,
) -> None:
    nb = open_notebook("03_analysing_recordings.ipynb")
    nb.run_all()
    assert nb.errors() == []
    page = nb.page
    # pandas tables, a Mermaid ladder drawn as SVG, matplotlib figures
    assert page.locator(".jp-RenderedHTMLCommon table.dataframe").count() >= 8
    mermaid = page.locator(".jp-RenderedMermaid img").first  # JupyterLab draws it as an SVG image
    mermaid.wait_for()
    drawn = urllib.parse.unquote(mermaid.get_attribute("src") or "")
    assert drawn.startswith("data:image/svg+xml")
    assert "existing_fsm_id" in drawn
    assert "more × reconnect by responder" in drawn
    assert page.locator(".jp-RenderedImage img").count() >= 2
    # the replay stepper is a live widget: it starts at record 47 and steps on a click
    stepper = page.locator(".chan-nb-replay")
    stepper.wait_for()
    header = stepper.locator(".chan-nb-step")
    assert re.search(r"record 47 of 86", header.inner_text())
    assert "conflict" in header.inner_text()
    stepper.scroll_into_view_if_needed()
    nb.screenshot("stepper-at-47")
    stepper.get_by_role("button", name="forward ▶").click()
    page.wait_for_function(
        "() => /record 48 of 86/.test(document.querySelector('.chan-nb-step').textContent)"
    )
    stepper.locator("select").select_option("errors and conflicts")
    stepper.get_by_role("button", name="forward ▶").click()
    page.wait_for_function(
        "() => /#53 responder\\[2\\]/.test(document.querySelector('.chan-nb-step').textContent)"
    )
    assert "Missing field: existing_fsm_id" in header.inner_text()
    assert stepper.locator("svg.chan-nb-ladder").count() == 1
    nb.screenshot("stepper-at-53")
    assert len(nb.screenshot_cells()) > 10


def test_quickstart_panel_opens_transfers_disconnects_and_reconnects(open_notebook: Any) -> None:
    from playwright.sync_api import expect

    nb = open_notebook("01_quickstart.ipynb")
    nb.run_all()
    assert nb.errors() == []
    page = nb.page
    panel = page.locator(".chan-nb-panel")
    panel.wait_for()
    panel.scroll_into_view_if_needed()
    nb.screenshot("panel-fresh")
    card = {role: panel.locator(f".chan-nb-role-{role}") for role in ("initiator", "responder")}

    def wait_text(locator: Any, pattern: str) -> None:
        """Wait until the element's text matches: widgets redraw by replacing their HTML,
        so the locator is resolved afresh until the kernel's answer is drawn."""
        expect(locator).to_have_text(re.compile(pattern), timeout=60_000)

    def balances(role: str) -> list[int]:
        cells = card[role].locator(".chan-nb-balance")
        return [int(cells.nth(i).inner_text().replace(",", "")) for i in range(cells.count())]

    panel.get_by_role("button", name="open", exact=True).click()
    for role in card:
        wait_text(card[role].locator(".chan-nb-round"), r"^1$")
        wait_text(card[role].locator(".chan-nb-status"), r"^open$")
        assert balances(role) == [69_999_999_999_999, 40_000_000_000_001]
    nb.screenshot("panel-open")

    panel.locator(".chan-nb-amount input").fill("250")
    panel.get_by_role("button", name="transfer", exact=True).click()
    for role in card:
        wait_text(card[role].locator(".chan-nb-round"), r"^2$")
    assert balances("responder") == [69_999_999_999_749, 40_000_000_000_251]
    nb.screenshot("panel-transfer")

    # the responder (the panel's default "who") goes away: a transfer meets a conflict
    panel.get_by_role("button", name="disconnect", exact=True).click()
    wait_text(card["responder"].locator(".chan-nb-status").locator(".."), "no socket")
    panel.get_by_role("button", name="transfer", exact=True).click()
    wait_text(panel.locator(".chan-nb-notice").first, "conflict")
    assert "channel stays at round 2" in panel.locator(".chan-nb-notice").first.inner_text()
    nb.screenshot("panel-conflict")

    panel.get_by_role("button", name="reconnect", exact=True).click()
    wait_text(card["responder"].locator(".chan-nb-status").locator(".."), "socket open")
    wait_text(panel.locator(".chan-nb-notice").first, "responder is back on fsm ba_")
    panel.get_by_role("button", name="transfer", exact=True).click()
    for role in card:
        wait_text(card[role].locator(".chan-nb-round"), r"^3$")
    assert balances("initiator") == [69_999_999_999_499, 40_000_000_000_501]
    assert balances("responder") == [69_999_999_999_499, 40_000_000_000_501]
    rows = panel.locator(".chan-nb-frames tbody tr")
    assert rows.count() == 12
    assert "channels.update" in panel.locator(".chan-nb-frames").inner_text()
    nb.screenshot("panel-reconnected")
    nb.screenshot_cells()


@pytest.mark.parametrize(
    "name", ["02_seed_session_reproduced.ipynb", "04_conflicts_and_reconnects.ipynb",
             "05_real_node.ipynb"],
)  # fmt: skip
def test_other_notebooks_render_without_errors(open_notebook: Any, name: str) -> None:
    nb = open_notebook(name)
    nb.run_all()
    assert nb.errors() == []
    outputs = nb.page.locator(".jp-OutputArea-output")
    assert outputs.count() >= 3
    text = nb.page.locator(".jp-NotebookPanel .jp-Notebook").inner_text()
    assert "Traceback" not in text
    if name != "05_real_node.ipynb":  # every ladder drawn as a picture, none left as text
        nb.page.locator(".jp-RenderedMermaid img").first.wait_for()  # drawn asynchronously
        assert nb.page.locator(".jp-RenderedMermaid.jp-mod-warning").count() == 0
    assert len(nb.screenshot_cells()) >= 5


#: The contrast of an element's text with what is painted behind it (WCAG's formula),
#: compositing translucent backgrounds up the tree. Returns [ratio, background luminance].
CONTRAST_JS = """(el) => {
    const rgba = c => { const v = c.match(/[\\d.]+/g).map(Number); if (v.length === 3) v.push(1);
                        return v; };
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
        const bg = rgba(getComputedStyle(node).backgroundColor);
        if (bg[3] > 0) layers.push(bg);
        if (bg[3] >= 1) break;
    }
    let base = [255, 255, 255];
    for (let i = layers.length - 1; i >= 0; i--) {
        const [r, g, b, a] = layers[i];
        base = [r * a + base[0] * (1 - a), g * a + base[1] * (1 - a), b * a + base[2] * (1 - a)];
    }
    const lum = ([r, g, b]) => {
        const f = v => {
            v /= 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const fg = lum(rgba(getComputedStyle(el).color)), bg = lum(base);
    return [(Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05), bg];
}"""


def contrast(locator: Any) -> tuple[float, float]:
    ratio, background = locator.evaluate(CONTRAST_JS)
    return float(ratio), float(background)


def set_theme(page: Any, name: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', "
                  f"{{theme: '{name}'}})")  # fmt: skip
    light = "true" if "Light" in name else "false"
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")


def test_dark_theme_keeps_every_text_readable(open_notebook: Any) -> None:
    from playwright.sync_api import expect

    nb = open_notebook("01_quickstart.ipynb", tag="-dark")
    set_theme(nb.page, "JupyterLab Dark")
    try:
        nb.run_all()
        assert nb.errors() == []
        panel = nb.page.locator(".chan-nb-panel")
        panel.wait_for()
        panel.get_by_role("button", name="open", exact=True).click()
        expect(panel.locator(".chan-nb-role-initiator .chan-nb-status")).to_have_text(
            "open", timeout=60_000
        )
        panel.get_by_role("button", name="disconnect", exact=True).click()
        expect(panel.locator(".chan-nb-role-responder")).to_contain_text(
            "no socket", timeout=60_000
        )
        panel.get_by_role("button", name="transfer", exact=True).click()
        marked = panel.locator(".chan-nb-frames tr.chan-nb-marked td").first
        marked.wait_for(timeout=60_000)  # the conflict's row, highlighted
        panel.scroll_into_view_if_needed()
        nb.screenshot("panel-conflict")
        for what, locator in (
            ("conflict row", marked),
            ("card", panel.locator(".chan-nb-role-initiator td").first),
            ("notice", panel.locator(".chan-nb-notice").first),
        ):
            ratio, background = contrast(locator)
            assert background < 0.2, f"{what}: not on a dark background ({background:.2f})"
            assert ratio >= 4.5, f"{what}: contrast {ratio:.1f} in the dark theme"

        stepper_nb = open_notebook("03_analysing_recordings.ipynb", tag="-dark")
        stepper_nb.run_all()
        assert stepper_nb.errors() == []
        stepper = stepper_nb.page.locator(".chan-nb-replay")
        stepper.wait_for()
        stepper.scroll_into_view_if_needed()
        stepper_nb.screenshot("stepper")
        for what, locator in (
            ("record JSON", stepper.locator("pre.chan-nb-pre").first),
            ("balances", stepper.locator(".chan-nb-balances td").first),
            ("header", stepper.locator(".chan-nb-step")),
        ):
            ratio, background = contrast(locator)
            assert background < 0.2, f"{what}: not on a dark background ({background:.2f})"
            assert ratio >= 4.5, f"{what}: contrast {ratio:.1f} in the dark theme"
        cards = stepper_nb.page.locator(".chan-nb-card")
        assert cards.count() >= 1  # the SessionLog / audit cards
        ratio, _ = contrast(cards.first.locator("td").first)
        assert ratio >= 4.5
    finally:
        set_theme(nb.page, "JupyterLab Light")


CUT_LABELS_JS = """(root) => [...root.querySelectorAll('.widget-button, .widget-toggle-button')]
    .filter(b => b.offsetParent !== null && b.scrollWidth > b.clientWidth + 1)
    .map(b => b.textContent)"""


def test_a_narrow_window_reflows_the_stepper_and_keeps_labels_whole(open_notebook: Any) -> None:
    nb = open_notebook("03_analysing_recordings.ipynb", width=900, tag="-900px")
    nb.run_all()
    assert nb.errors() == []
    stepper = nb.page.locator(".chan-nb-replay")
    stepper.wait_for()
    stepper.scroll_into_view_if_needed()
    nb.screenshot("stepper")
    assert stepper.evaluate(CUT_LABELS_JS) == []
    table = stepper.locator(".chan-nb-balances")
    box, frame = table.bounding_box(), stepper.bounding_box()
    assert box is not None and frame is not None
    assert box["x"] + box["width"] <= frame["x"] + frame["width"] + 1, "balances clipped"
    ladder = stepper.locator(".chan-nb-stage > .widget-html").bounding_box()
    side = stepper.locator(".chan-nb-stage > .widget-vbox").bounding_box()
    assert ladder is not None and side is not None
    assert side["y"] >= ladder["y"] + ladder["height"] - 1, "ladder and record not stacked"

    quick = open_notebook("01_quickstart.ipynb", width=900, tag="-900px")
    quick.run_all()
    panel = quick.page.locator(".chan-nb-panel")
    panel.wait_for()
    panel.locator(".chan-nb-signing").get_by_role("button", name="manual").click()
    approve = panel.locator(".chan-nb-approve-responder")
    approve.wait_for()
    panel.scroll_into_view_if_needed()
    quick.screenshot("panel")
    assert panel.evaluate(CUT_LABELS_JS) == []
    # "signing" and "who" sit on the line of their buttons
    for name in ("signing", "who"):
        control = panel.locator(f".chan-nb-{name}")
        label = control.locator(".widget-label").bounding_box()
        button = control.locator(".widget-toggle-button").first.bounding_box()
        assert label is not None and button is not None
        middle = label["y"] + label["height"] / 2
        assert abs(middle - (button["y"] + button["height"] / 2)) <= 3, name
