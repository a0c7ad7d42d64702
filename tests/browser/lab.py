"""Start and stop what the browser tests need: Chromium, JupyterLab, a static file server.

Every start is paired with a stop in a `finally`, so a failing test leaves no server behind.
Facts these rely on are in ../shared/STACK.md (Chromium flags, JupyterLab options, pitfalls).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's binary; /usr/bin/chromium is a shell wrapper
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
IMPORT_CELL = "from tinylm import notebook as nb"  # what the chapters write
DEFAULT_PANEL_CELL = "nb.training_panel()"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str):
    """Missing browser pieces skip a developer's run but fail CI, where they must exist."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, so this is an error, not a skip)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str:
    path = os.environ.get("TINYLM_CHROMIUM", CHROMIUM)
    if not Path(path).is_file():
        skip_or_fail(f"no Chromium at {path}: `apt-get install -y --no-install-recommends "
                     "chromium` (or set TINYLM_CHROMIUM)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        skip_or_fail("Python package playwright is not installed (pip install playwright; "
                     "never `playwright install`: the tests use the system Chromium)")
    return path


@contextlib.contextmanager
def chromium():
    """The system Chromium under Playwright; one per test module (the sync API allows only one
    Playwright at a time in a thread)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser):
    """A fresh page (own cookies, 1400x1000) that records console errors; closed on exit."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        yield page
    finally:
        context.close()


def artifacts_dir(tmp_path_factory) -> Path:
    folder = os.environ.get("TINYLM_ARTIFACTS")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("browser-artifacts")


@contextlib.contextmanager
def screenshot_on_failure(page, artifacts: Path, name: str):
    """On any failure inside, save a full-page screenshot and say where it is."""
    try:
        yield
    except BaseException:
        shot = artifacts / f"{name}-{time.strftime('%H%M%S')}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot), full_page=True)
            print(f"\n[browser test] screenshot of the failure: {shot}")
        if getattr(page, "console_errors", None):
            print("[browser test] console errors:\n  " + "\n  ".join(page.console_errors[-10:]))
        raise


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None, timeout: float, log: Path | None = None):
    """Until something listens on 127.0.0.1:port (raw socket: no HTTP client needed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {proc.returncode} before listening:\n{tail}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout:.0f} s")


def chapter_panel_cell(chapter: Path = ROOT / "chapters" / "04_size.ipynb") -> str:
    """The chapter's one-line panel cell if it is a plain call (literal arguments only),
    else the default call: the test must not depend on the chapter's other cells."""
    if not chapter.exists():
        return DEFAULT_PANEL_CELL
    for cell in json.loads(chapter.read_text()).get("cells", []):
        source = "".join(cell.get("source", "")).strip()
        if cell.get("cell_type") != "code" or "training_panel(" not in source:
            continue
        try:
            call = ast.parse(source, mode="eval").body
        except SyntaxError:
            continue
        if (isinstance(call, ast.Call) and ast.unparse(call.func) == "nb.training_panel"
                and not call.args
                and all(isinstance(k.value, ast.Constant) for k in call.keywords)):
            return source
    return DEFAULT_PANEL_CELL


def write_notebook(path: Path, cells: list[str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@contextlib.contextmanager
def jupyter_lab(root: Path, log: Path, quick: bool = True):
    """JupyterLab serving `root` on a free port, isolated config; yields the base URL.

    Kernels run in sessions of their own (jupyter_client), so after stopping the server any
    kernel still running from this server's runtime folder is ended by its PID.
    """
    port = free_port()
    home = root.parent / f"{root.name}-jupyter"
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    runtime = home / "runtime"
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(runtime),
           "IPYTHONDIR": str(home / "ipython"), "MPLBACKEND": "Agg",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if quick:
        env["TINYLM_QUICK"] = "1"
    else:
        env.pop("TINYLM_QUICK", None)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=",
           "--ServerApp.port_retries=0", "--LabApp.expose_app_in_browser=True",
           f"--ServerApp.root_dir={root}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for_port(port, proc, 60, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        for pid in _pids_mentioning(str(runtime)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the server shuts its kernels down), then SIGKILL if it hangs."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
    return pids


def open_notebook(page, base_url: str, name: str) -> None:
    """Open `name` in a fresh workspace and wait until its kernel is connected and idle
    (running cells earlier pops up a "Select Kernel" dialog)."""
    page.goto(f"{base_url}/lab/workspaces/t{uuid.uuid4().hex[:10]}/tree/{name}")
    page.wait_for_function("""() => {
        const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const k = w && w.sessionContext && w.sessionContext.session
                  && w.sessionContext.session.kernel;
        return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
    }""", timeout=90_000)


def run_all_cells(page) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")


def set_slider(page, slider, value) -> None:
    """Type a value into a slider's editable readout, as a student can."""
    readout = slider.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(str(value))
    page.keyboard.press("Enter")


@contextlib.contextmanager
def static_server(folder: Path):
    """Serve `folder` on 127.0.0.1 from a thread; yields the base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

