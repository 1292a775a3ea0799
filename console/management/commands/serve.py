"""Run the whole console in the foreground: web server, Celery worker and beat.

Used by ``make run``. Migrates, makes sure the demo admin exists, loads demo
data unless ``--no-demo``, then supervises the three processes: Ctrl-C (or
SIGTERM) stops them all cleanly, and if one dies the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from console import embedded
from console.server import server_command

# Processes whose exit does not stop the console.
OPTIONAL = {"simulator"}


class Command(BaseCommand):
    help = "Serve the console with its Celery worker and beat (what `make run` runs)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--no-demo",
            dest="demo",
            action="store_false",
            default=os.environ.get("DEMO", "1") != "0",
            help="Load no demo data (also DEMO=0).",
        )
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes.")

    def handle(self, *args, host, port, demo, concurrency, **options):
        if not 0 < port < 65536:
            raise CommandError(f"PORT={port} is not a TCP port.")
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensure_demo_admin")
        var = settings.VAR_DIR
        tokens_file = var / "demo-tokens.json"
        if demo:
            # Fresh one-time tokens each start: the simulator enrols the demo
            # gateways again through the agent API, like real agents would.
            call_command("load_demo", tokens_file=str(tokens_file))

        python = sys.executable
        local = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        commands = {
            "web": server_command(host, port),
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "console",
                "worker",
                "-l",
                "INFO",
                f"--concurrency={concurrency}",
                "-n",
                "worker@%h",
                "--without-mingle",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "console",
                "beat",
                "-l",
                "INFO",
                f"--pidfile={var / 'celerybeat.pid'}",
            ],
        }
        if demo:
            # The demo fleet: 12 gateways playing through the HTTP agent API.
            commands["simulator"] = [
                python,
                "manage.py",
                "simulate_fleet",
                "--url",
                f"http://{local}:{port}",
                "--gateways",
                "12",
                "--tokens-file",
                str(tokens_file),
                "--quiet",
            ]
        processes: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in commands.items():
            # Own session: Ctrl-C reaches only this supervisor, which then
            # stops the children in order.
            processes[name] = subprocess.Popen(command, start_new_session=True)

        # "localhost", not the address: security keys (WebAuthn) are bound to
        # a domain and never work at an IP address.
        shown = "localhost" if local in ("127.0.0.1", "::1", "[::1]") else local
        url = f"http://{shown}:{port}/"
        self.stdout.write(
            self.style.SUCCESS(
                f"\nRustronaut Console is starting at {url}  (Ctrl-C stops everything)\n"
            )
        )
        exit_code = 0
        try:
            while not stopping:
                for name, proc in list(processes.items()):
                    if proc.poll() is not None and name in OPTIONAL:
                        # The demo fleet ends when no gateway is left to play
                        # (all deleted or disabled): the console goes on.
                        self.stdout.write(f"The {name} stopped (code {proc.returncode}).")
                        del processes[name]
                    elif proc.poll() is not None:
                        self.stderr.write(f"The {name} process exited with code {proc.returncode}.")
                        exit_code = 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self.stdout.write(f"\nStopping {', '.join(processes)}…")
            for proc in processes.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for proc in processes.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            # Only the Redis this command started: another console process
            # (a shell, a test run) may share one that was already running.
            if embedded.started_here and embedded.stop(var):
                self.stdout.write("Embedded Redis saved and stopped.")
            self.stdout.write("Stopped.")
        if exit_code:
            raise SystemExit(exit_code)
