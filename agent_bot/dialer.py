"""The calling role: places calls as a customer, N in all with at most C at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from agent_bot.admission import load_samples
from agent_bot.call import Call
from agent_bot.calloptions import CallOptions
from agent_bot.endings import CallEnd
from agent_bot.ice import per_call_options
from agent_bot.report import CallReport
from agent_bot.routing import route_to_calls
from agent_bot.signaling import SignalingClient, SignalingError
from signaling_server.protocol import Event

logger = logging.getLogger(__name__)

LAG_PERIOD = 0.1


@dataclass
class DialPlan:
    """How many calls to place, how fast, and for how long."""

    calls: int = 1
    concurrency: int = 1
    ramp: float | None = None
    """Calls started per second at most; None: as fast as concurrency allows."""
    duration: float | None = None
    """Seconds each call lasts once connected; None: until the source ends."""
    agent_offers: bool = False
    name: str = "agent-bot-caller"
    answer_timeout: float = 60.0
    """Seconds to wait for an agent to accept (ringing or queued)."""


class DialObserver(Protocol):
    """Follows a dialer's calls (progress display, QA capture and verdicts)."""

    def placing(self, index: int) -> None:
        """Call number `index` is about to be requested."""

    def answered(self, call: Call) -> None:
        """An agent accepted; media not set up yet (taps can still be added)."""

    def finished(self, report: CallReport) -> None:
        """A call ended, or failed before it was answered."""


class Dialer:
    """Places the calls of a `DialPlan` through the signaling server."""

    def __init__(
        self,
        server_urls: list[str],
        options: CallOptions,
        plan: DialPlan,
        *,
        observer: DialObserver | None = None,
        on_call_end: Callable[[CallReport], None] | None = None,
    ) -> None:
        self.server_urls = server_urls
        self.options = options
        self.plan = plan
        self.observer = observer
        self.on_call_end = on_call_end
        """Called with each call's report when it ends or fails (the metrics)."""
        self._stopping = asyncio.Event()
        self._calls: set[Call] = set()

    async def run(self) -> list[CallReport]:
        """Place every call; return their reports in the order they were started."""
        limit = asyncio.Semaphore(self.plan.concurrency)
        interval = 1.0 / self.plan.ramp if self.plan.ramp else 0.0

        async def one(index: int) -> CallReport:
            async with limit:
                if self.observer is not None:
                    self.observer.placing(index)
                report = await self._place(index)
            if report.connected and report.error is None and not report.audio_both_ways:
                report.error = (
                    "no audio received" if report.frames_received == 0 else "no audio sent"
                )
            if self.observer is not None:
                self.observer.finished(report)
            if self.on_call_end is not None:
                self.on_call_end(report)
            return report

        lag = asyncio.create_task(self._track_lag())
        tasks = []
        for index in range(self.plan.calls):
            if self._stopping.is_set():
                break
            tasks.append(asyncio.create_task(one(index)))
            if interval and index + 1 < self.plan.calls:
                await asyncio.sleep(interval)
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            lag.cancel()

    @property
    def calls_in_progress(self) -> int:
        """Calls answered and not yet over."""
        return len(self._calls)

    async def stop(self) -> None:
        """Start no more calls and hang up those in progress."""
        self._stopping.set()
        await asyncio.gather(*(call.hangup() for call in list(self._calls)))

    async def _track_lag(self) -> None:
        """Keep each call's worst event-loop lag (`CallReport.loop_lag_ms`)."""
        async for sample in load_samples(LAG_PERIOD):
            for call in self._calls:
                call.report.loop_lag_ms = max(call.report.loop_lag_ms, sample.lag_ms)

    async def _place(self, index: int) -> CallReport:
        offerer = "agent" if self.plan.agent_offers else "customer"
        name = f"{self.plan.name}-{index + 1}"
        signaling = SignalingClient(self.server_urls, {"role": "customer", "name": name})
        accepted: asyncio.Future[Call] = asyncio.get_running_loop().create_future()
        calls: dict[str, Call] = {}
        report = CallReport(call_id=f"unplaced-{index + 1}", role="customer", offerer=offerer)

        async def on_accepted(data: dict[str, Any]) -> None:
            call_id = str(data.get("callId"))
            call = Call(
                call_id,
                signaling,
                per_call_options(self.options, call_id, data.get("iceServers")),
                role="customer",
                peer_id=str(data.get("agentId")),
                offerer=offerer,
            )
            call.report.peer_name = data.get("agentName")
            call.report.times.requested = report.times.requested
            call.report.mark("accepted")
            calls[call.call_id] = call
            if self.observer is not None:
                self.observer.answered(call)
            if not accepted.done():
                accepted.set_result(call)

        async def on_ended(data: dict[str, Any]) -> None:
            call = calls.get(str(data.get("callId")))
            reason = str(data.get("reason", "hangup"))
            if call is not None:
                await call.end(reason, notify=False)
            elif not accepted.done():
                accepted.set_exception(SignalingError("call-ended", reason))

        async def on_queued(data: dict[str, Any]) -> None:
            logger.info("call=%s queued at position %s", data.get("callId"), data.get("position"))

        signaling.on(Event.CALL_ACCEPTED, on_accepted)
        signaling.on(Event.CALL_ENDED, on_ended)
        signaling.on(Event.CALL_QUEUED, on_queued)
        route_to_calls(signaling, calls)
        try:
            await signaling.connect()
            report.mark("requested")
            ack = await signaling.request(Event.CALL_REQUEST, {"offerer": offerer})
            report.call_id = str(ack["callId"])
            logger.info("call=%s requested: %s", report.call_id, ack.get("status"))
            call = await asyncio.wait_for(accepted, self.plan.answer_timeout)
        except (SignalingError, TimeoutError) as exc:
            report.error = str(exc) if isinstance(exc, SignalingError) else "no agent answered"
            report.end_reason = CallEnd.ERROR
            report.mark("ended")
            logger.warning(
                "call=%s failed before it was answered: %s", report.call_id, report.error
            )
            await signaling.close()
            return report
        self._calls.add(call)
        try:
            if offerer == "customer":
                await call.attempt(call.send_offer())
            await self._hold(call)
            if not call.ended.is_set():
                await call.hangup()
        finally:
            self._calls.discard(call)
            await signaling.close()
        return call.report

    async def _hold(self, call: Call) -> None:
        """Wait until the call ends, the plan's duration passes, or the source runs out."""
        waits: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(event.wait())
            for event in (call.ended, call.source_ended, self._stopping)
        ]
        if self.plan.duration is not None:
            waits.append(asyncio.ensure_future(self._after_connect(call, self.plan.duration)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits:
                waiter.cancel()

    @staticmethod
    async def _after_connect(call: Call, seconds: float) -> None:
        await call.connected.wait()
        await asyncio.sleep(seconds)
