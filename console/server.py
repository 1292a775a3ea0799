"""How the console is served: the one command line for ``manage.py serve``,
the browser tests and the benchmarks (the Dockerfile spells the same).

uvicorn, chosen over daphne by bench/live.py's figures (docs/decisions.md,
"Live console: fan-out in the process"): both serve ``console.asgi`` (pages,
agent API, websockets); with many open tabs uvicorn spends less per websocket
frame (daphne's twisted-on-asyncio reactor registers and unregisters a writer
for every write). Websockets through uvicorn's sans-I/O implementation over
the ``websockets`` package (its older one is deprecated); no ASGI lifespan
(Django does not use it). uvicorn runs on uvloop and parses HTTP with
httptools when they are installed, which pyproject.toml pins (docs/decisions.md,
"Live console: uvloop and httptools").
"""

from __future__ import annotations

import sys

APPLICATION = "console.asgi:application"


def server_command(
    host: str, port: int, *, access_log: bool = True, application: str = APPLICATION
) -> list[str]:
    command = [sys.executable, "-m", "uvicorn", application, "--host", host, "--port", str(port)]
    command += ["--ws", "websockets-sansio", "--lifespan", "off"]
    if not access_log:
        command.append("--no-access-log")
    return command
