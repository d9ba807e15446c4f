"""`sodium-monitor demo` as `make demo` runs it (embedded SQLite, seeded hospital, ward
simulator over MLLP), started in a scratch folder for a browser test."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.integration.stack import CLI, free_port, interruptible, port_open, wait_for


@contextmanager
def running_demo(folder: Path, pages: list[Any], **env_extra: str) -> Iterator[str]:
    """The demo's base URL; the browser pages in `pages` are closed before it stops (an open
    live-update stream would hold the web app's shutdown)."""
    port, mllp = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SODIUM_")} | env_extra
    demo = subprocess.Popen([CLI, "demo", "--port", str(port), "--mllp-port", str(mllp),
                             "--speed", "10"], cwd=folder, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, preexec_fn=interruptible)
    try:
        wait_for(lambda: port_open(port), 60, "the demo's web app")
        yield f"http://127.0.0.1:{port}"
    finally:
        for page in pages:
            page.close()
        os.killpg(demo.pid, signal.SIGINT)
        demo.wait(timeout=30)
