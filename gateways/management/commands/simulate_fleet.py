"""Play a fleet of gateways against a running console, through the agent API.

The engine is ``gateways.simulator``; this command reads the arguments and the
tokens file, runs it on asyncio and stops it cleanly on Ctrl-C or SIGTERM (a
second Ctrl-C stops at once, without waiting for pending events).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from gateways.simulator import FleetSimulator, format_summary, load_enrolments


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


def non_negative_float(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Simulate gateways against a console through the agent API: enrolment, heartbeats "
        "with metrics and tunnel states, config pulls and security events."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url", default="http://127.0.0.1:8000", help="The console's base URL."
        )
        parser.add_argument(
            "--gateways", type=int, default=50, help="How many gateways to play (default 50)."
        )
        parser.add_argument(
            "--tokens-file",
            required=True,
            help='JSON list of {"gateway": NAME, "token": ENROLMENT_TOKEN}, one per gateway.',
        )
        parser.add_argument(
            "--duration",
            type=positive_float,
            default=None,
            help="Stop after this many seconds (default: run until Ctrl-C).",
        )
        parser.add_argument(
            "--rate-events",
            type=non_negative_float,
            default=0.5,
            help="Background security events per second across the fleet (default 0.5); "
            "bursts come on top. 0 sends none.",
        )
        parser.add_argument("--seed", type=int, default=None, help="Make the run reproducible.")
        parser.add_argument(
            "--quiet", action="store_true", help="No progress lines, only the final summary."
        )

    def handle(self, *args, url, gateways, tokens_file, duration, rate_events, seed, quiet, **o):
        if gateways < 1:
            raise CommandError("--gateways must be at least 1.")
        try:
            enrolments = load_enrolments(tokens_file)
        except ValueError as exc:
            raise CommandError(f"--tokens-file {exc}") from exc
        if not enrolments:
            raise CommandError(f"--tokens-file {tokens_file}: holds no gateway.")
        if len(enrolments) < gateways:
            self.stdout.write(
                self.style.WARNING(
                    f"The tokens file has {len(enrolments)} gateways, fewer than --gateways "
                    f"{gateways}: simulating only those {len(enrolments)}."
                )
            )
        enrolments = enrolments[:gateways]
        # httpx logs every request at INFO: thousands of lines a minute here.
        logging.getLogger("httpx").setLevel(logging.WARNING)

        try:
            simulator = FleetSimulator(
                url,
                enrolments,
                duration=duration,
                rate_events=rate_events,
                seed=seed,
                quiet=quiet,
                out=self._write_line,
            )
        except ValueError as exc:
            raise CommandError(f"--url {exc}") from exc
        if not quiet:
            until = f"for {duration:g}s" if duration else "until Ctrl-C"
            self._write_line(
                f"Simulating {len(enrolments)} gateways against {url} {until}, "
                f"{rate_events:g} background events/s."
            )
        try:
            summary = asyncio.run(self._run(simulator))
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.stderr.write("Stopped at once: pending events were not flushed.")
            for line in format_summary(simulator.summary()):
                self._write_line(line)
            raise SystemExit(130) from None
        if summary["gateways"]["enrolled"] == 0:
            raise CommandError("No gateway could enrol (see the reasons above).")

    def _write_line(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    async def _run(self, simulator: FleetSimulator) -> dict:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        main = asyncio.current_task()
        assert main is not None

        def on_signal(signum: int) -> None:
            if stop.is_set():  # the second one: no more waiting
                main.cancel()
                return
            self.stderr.write(
                f"\n{signal.Signals(signum).name}: stopping, flushing pending events "
                "(again to stop at once)…"
            )
            stop.set()

        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, on_signal, signum)
        try:
            return await simulator.run(stop)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
