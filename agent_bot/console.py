"""The `--manual` console: the person at the desk accepts, rejects and hangs up calls.

Commands, one per line on standard input (the call id may be left out when only one call
fits): `accept [ID]`, `reject [ID]`, `hangup [ID]`, `hold [ID]`, `resume [ID]`, `mute [ID]`,
`unmute [ID]`, `transfer [ID] NAME|queue`, `away`, `ready`, `calls`, `help`. The desk
(`agent-bot desk`) drives the same `Agent` methods from its keys.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from agent_bot.agent import Agent
from agent_bot.signaling import SignalingError
from signaling_server.protocol import AgentState

HELP = (
    "commands: accept [ID] | reject [ID] | hangup [ID] | hold [ID] | resume [ID] | mute [ID]"
    " | unmute [ID] | transfer [ID] NAME|queue | away | ready | calls | help"
)
STATES = {"away": AgentState.AWAY, "ready": AgentState.AVAILABLE}


class Console:
    """Reads commands for an `Agent` and prints what happens."""

    def __init__(self, agent: Agent, out: TextIO = sys.stdout) -> None:
        self.agent = agent
        self.out = out
        agent.on_ringing = self._ringing

    async def run(self, reader: asyncio.StreamReader) -> None:
        """Serve commands until end of input."""
        self.say(HELP)
        while line := await reader.readline():
            await self.execute(line.decode(errors="replace"))

    async def execute(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        try:
            await self._execute(words[0].lower(), words[1:])
        except SignalingError as exc:
            self.say(f"refused: {exc}")

    async def _execute(self, command: str, args: list[str]) -> None:
        target = args[0] if args else None
        if command in STATES:
            await self.agent.set_state(STATES[command])
            self.say(f"state {self.agent.presence.state}")
        elif command in ("hold", "resume", "mute", "unmute", "transfer"):
            await self._in_call(command, args)
        elif command == "accept":
            call_id = self._pick(target, self.agent.ringing, "ringing")
            if call_id is not None:
                call = await self.agent.accept(call_id)
                self.say(f"accepted {call_id}" if call else f"could not accept {call_id}")
        elif command == "reject":
            call_id = self._pick(target, self.agent.ringing, "ringing")
            if call_id is not None:
                await self.agent.reject(call_id)
                self.say(f"rejected {call_id}")
        elif command == "hangup":
            call_id = self._pick(target, self.agent.calls, "in progress")
            if call_id is not None:
                await self.agent.calls[call_id].hangup()
                self.say(f"hung up {call_id}")
        elif command == "calls":
            for call_id, data in self.agent.ringing.items():
                self.say(f"ringing  {call_id}  from {data.get('customerName')}")
            for call_id, call in self.agent.calls.items():
                self.say(f"active   {call_id}  with {call.report.peer_name}")
        else:
            self.say(HELP)

    async def _in_call(self, command: str, args: list[str]) -> None:
        """hold / resume / mute / unmute [ID]; transfer [ID] NAME."""
        if command == "transfer":
            if not args:
                self.say("transfer [ID] NAME|queue")
                return
            args, to = args[:-1], args[-1]
        call_id = self._pick(args[0] if args else None, self.agent.calls, "in progress")
        if call_id is None:
            return
        if command == "transfer":
            await self.agent.transfer(call_id, to)
            self.say(f"transferring {call_id} to {to}")
        elif command in ("hold", "resume"):
            await self.agent.hold(call_id, command == "hold")
            self.say(f"{'held' if command == 'hold' else 'resumed'} {call_id}")
        else:
            self.agent.mute(call_id, command == "mute")
            self.say(f"{command}d {call_id}")

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _ringing(self, data: dict[str, Any]) -> None:
        self.say(f"ringing  {data.get('callId')}  from {data.get('customerName')}: accept/reject?")

    def _pick(self, target: str | None, calls: dict[str, Any], state: str) -> str | None:
        """The call `target` names (an id or its prefix), or the only one; None after a message."""
        matches = [call_id for call_id in calls if target is None or call_id.startswith(target)]
        if len(matches) == 1:
            return matches[0]
        self.say(f"no call {state}" if not matches else f"{len(matches)} calls {state}: give an id")
        return None


async def stdin_reader() -> asyncio.StreamReader:
    """Standard input as an asyncio stream."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader
