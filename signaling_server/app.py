"""The server: Socket.IO glue (auth, validation, rate limit, emits) and the HTTP routes.

Everything that decides who talks to whom is in `pairing.py`; this module only translates
between Socket.IO and it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web
from redis.asyncio import Redis

from signaling_server.auth import Authenticator
from signaling_server.config import Settings
from signaling_server.controlevents import CONTROL_EVENTS, Operation
from signaling_server.membership import Membership
from signaling_server.metrics import Metrics
from signaling_server.origins import OriginPolicy
from signaling_server.outcome import Outcome
from signaling_server.pairing import Pairing
from signaling_server.protocol import (
    MAX_MESSAGE_BYTES,
    RELAYED,
    AgentAuth,
    CallRef,
    CallRequest,
    ErrorCode,
    Event,
    Hangup,
    ProtocolError,
    Role,
    error_ack,
    ok_ack,
    parse,
)
from signaling_server.ratelimit import TokenBucket
from signaling_server.stores.memory import MemoryStore
from signaling_server.stores.redis import NodeRegistry, RedisStore
from signaling_server.turn import TurnMinter

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
NAMESPACE = "/"

Ack = dict[str, Any]
ICE_SERVER_EVENTS = (Event.INCOMING_CALL, Event.CALL_ACCEPTED)
"""Events that carry `iceServers` for the call they announce."""
Handler = Callable[["Session", Any], Awaitable[dict[str, Any]]]


@dataclass
class Session:
    """One authenticated Socket.IO connection."""

    sid: str
    role: Role
    name: str
    bucket: TokenBucket


class SocketServer(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio's server; a packet it cannot decode is dropped with one log line.

    (python-socketio would log a traceback for each, e.g. `42["offer"` with broken JSON.)
    """

    def __init__(self, on_malformed: Callable[[], None], **options: Any) -> None:
        super().__init__(**options)
        self._on_malformed = on_malformed

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            self._on_malformed()
            log.info("malformed Socket.IO packet on %s dropped: %s: %.80s", eio_sid,
                     type(exc).__name__, exc)  # fmt: skip


class SignalingServer:
    """Socket.IO + HTTP on one aiohttp application."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.auth = Authenticator(settings)
        self.origins = OriginPolicy(settings.allowed_origins)
        # async_handlers=False: a connection's events are handled one after the other, in the
        # order sent (an offer is relayed before the candidates that follow it).
        options: dict[str, Any] = {
            "async_mode": "aiohttp",
            "max_http_buffer_size": MAX_MESSAGE_BYTES,
            "async_handlers": False,
            "cors_allowed_origins": self.origins.socketio_option(),
        }
        # with Redis: this node's heartbeat and clients, so others can clean up after a crash
        self.nodes: NodeRegistry | None = None
        self.membership: Membership | None = None
        if settings.redis_url is None:
            self.pairing = Pairing(MemoryStore())
        else:
            # Several nodes: emits go through Redis pub/sub; long-polling would need sticky
            # sessions, so WebSocket only; wall-clock times order the shared queue.
            redis = Redis.from_url(settings.redis_url)
            self.pairing = Pairing(RedisStore(redis), clock=time.time)
            self.nodes = NodeRegistry(redis, settings.node_ttl)
            self.membership = Membership(self.nodes, settings.node_ttl, self)
            options["client_manager"] = socketio.AsyncRedisManager(settings.redis_url)
            options["transports"] = ["websocket"]
        self.sio = SocketServer(self.metrics.malformed.inc, **options)
        self._sessions: dict[str, Session] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        handlers: dict[Event, Handler] = {
            Event.CALL_REQUEST: self._call_request,
            Event.CALL_ACCEPT: self._call_accept,
            Event.CALL_REJECT: self._call_reject,
            Event.HANGUP: self._hangup,
            Event.CALL_CONNECTED: self._call_connected,
        }
        for control, operation in CONTROL_EVENTS.items():  # v1.1: state, hold, transfer
            handlers[control] = partial(self._control, operation)
        for event in RELAYED:
            handlers[Event(event)] = partial(self._relay, Event(event))
        for event, handler in handlers.items():
            self.sio.on(event, partial(self._dispatch, event, handler))
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("*", self._unknown)

    def app(self) -> web.Application:
        """The aiohttp application: Socket.IO at /socket.io/, the page, config, health, metrics."""
        app = web.Application(middlewares=[self.origins.middleware])
        self.sio.attach(app)
        app.router.add_get("/config", self._config)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        if STATIC_DIR.is_dir():
            app.router.add_static("/", STATIC_DIR)
        if self.membership is not None:
            membership = self.membership
            app.on_startup.append(lambda _: membership.join())
            app.on_shutdown.append(lambda _: membership.leave())
        return app

    # --- connections -------------------------------------------------------------------------

    async def _connect(self, sid: str, *args: Any) -> bool | Ack:
        if sid in self._sessions:
            # a connected client emitted an event named "connect"
            return error_ack(ErrorCode.UNKNOWN_EVENT, "'connect' is reserved")
        environ, auth = args[0], (args[1] if len(args) > 1 else None)
        try:
            admitted = self.auth.admit(environ, auth)
        except socketio.exceptions.ConnectionRefusedError as exc:
            self.metrics.refused.inc()
            log.info("connection %s refused: %s", sid, exc.error_args["message"])
            raise
        role, parsed, identity = admitted.role, admitted.auth, admitted.identity
        try:
            if self.nodes is not None:
                # listed first: if this node dies from here on, another cleans up the client
                await self.nodes.join(sid)
            if isinstance(parsed, AgentAuth):
                await self.pairing.add_agent(
                    sid,
                    admitted.name,
                    admitted.max_calls,
                    reports_connected=parsed.reportsConnected,
                    replaces=parsed.replaces,
                    identity=identity,
                    queue_updates=parsed.queueUpdates,
                )
                # The client learns it is connected after this handler returns: ring it after.
                self._spawn(self.pairing.dispatch)
            else:
                await self.pairing.add_customer(sid, admitted.name, identity)
        except Exception:
            log.exception("connection %s: registering the %s failed", sid, role)
            raise socketio.exceptions.ConnectionRefusedError("internal error") from None
        bucket = TokenBucket(self.settings.rate, self.settings.burst)
        self._sessions[sid] = Session(sid, role, admitted.name, bucket)
        self.metrics.connections.labels(role).inc()
        log.info("%s %s connected: %r%s", role, sid, admitted.name,
                 f" (token sub {identity.sub!r})" if identity else "")  # fmt: skip
        return True

    async def _disconnect(self, sid: str, *args: Any) -> Ack | None:
        if self.sio.manager.is_connected(sid, NAMESPACE):
            # a connected client emitted an event named "disconnect"
            return error_ack(ErrorCode.UNKNOWN_EVENT, "'disconnect' is reserved")
        await self.forget(sid, str(args[0]) if args else "")
        return None

    def sids(self) -> list[str]:
        """The clients connected to this node."""
        return list(self._sessions)

    async def disconnect(self, sid: str) -> None:
        await self.sio.disconnect(sid)

    async def forget(self, sid: str, reason: str) -> None:
        """A client is gone: end or re-offer its calls."""
        session = self._sessions.pop(sid, None)
        if session is None:
            return
        log.info("%s %s disconnected (%s)", session.role, sid, reason)
        await self.remove(sid, f"{session.role} {sid}")
        if self.nodes is not None:
            try:
                await self.nodes.leave(sid)
            except Exception:
                log.exception("%s %s: removing it from node %s failed", session.role, sid,
                              self.nodes.node)  # fmt: skip

    async def remove(self, sid: str, who: str) -> None:
        """Client `sid` is gone (disconnected, or its node died): end or re-offer its calls."""
        try:
            await self._deliver(await self.pairing.remove(sid))
        except Exception:
            log.exception("%s: ending its calls failed", who)

    # --- events ------------------------------------------------------------------------------

    async def _dispatch(self, event: str, handler: Handler, sid: str, *args: Any) -> Ack:
        """Run one event's handler; every outcome becomes an acknowledgement."""
        try:
            session = self._sessions.get(sid)
            if session is None:
                raise ProtocolError(ErrorCode.FORBIDDEN, "not authenticated")
            self._limit(session)
            if len(args) > 1:
                raise ProtocolError(
                    ErrorCode.INVALID_PAYLOAD, f"expected one payload, got {len(args)} arguments"
                )
            return ok_ack(**await handler(session, args[0] if args else None))
        except ProtocolError as exc:
            self.metrics.errors.labels(exc.code).inc()
            level = logging.DEBUG if exc.code is ErrorCode.RATE_LIMITED else logging.INFO
            log.log(level, "%.64r from %s refused: %s: %s", event, sid, exc.code, exc.message)
            return exc.ack()
        except Exception:
            self.metrics.errors.labels(ErrorCode.INTERNAL).inc()
            log.exception("%s from %s failed", event, sid)
            return error_ack(ErrorCode.INTERNAL, "internal error (logged by the server)")

    async def _unknown(self, event: Any, sid: str, *args: Any) -> Ack:
        name = str(event)[:64]
        return await self._dispatch(name, partial(self._unknown_event, name), sid)

    async def _unknown_event(self, name: str, session: Session, data: Any) -> dict[str, Any]:
        raise ProtocolError(ErrorCode.UNKNOWN_EVENT, f"unknown event {name!r}")

    def _limit(self, session: Session) -> None:
        if not session.bucket.take():
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"more than {session.bucket.rate:g} events/s (burst {session.bucket.burst:g})",
            )

    async def _call_request(self, session: Session, data: Any) -> dict[str, Any]:
        request = parse(CallRequest, data)
        outcome = await self.pairing.request_call(session.sid, request.offerer)
        self.metrics.calls.inc()
        return await self._deliver(outcome)

    async def _call_accept(self, session: Session, data: Any) -> dict[str, Any]:
        return await self._deliver(
            await self.pairing.accept(session.sid, parse(CallRef, data).callId)
        )

    async def _call_reject(self, session: Session, data: Any) -> dict[str, Any]:
        return await self._deliver(
            await self.pairing.reject(session.sid, parse(CallRef, data).callId)
        )

    async def _hangup(self, session: Session, data: Any) -> dict[str, Any]:
        hangup = parse(Hangup, data)
        return await self._deliver(
            await self.pairing.hangup(session.sid, hangup.callId, hangup.reason)
        )

    async def _call_connected(self, session: Session, data: Any) -> dict[str, Any]:
        return await self._deliver(
            await self.pairing.connected(session.sid, parse(CallRef, data).callId)
        )

    async def _control(self, operation: Operation, session: Session, data: Any) -> dict[str, Any]:
        return await self._deliver(await operation(self.pairing, session.sid, data))

    async def _relay(self, event: Event, session: Session, data: Any) -> dict[str, Any]:
        started = time.perf_counter()
        message = parse(RELAYED[event], data)
        call_id = await self.pairing.route(session.sid, message.targetUserId, message.callId)
        field = "candidate" if event is Event.ICE_CANDIDATE else str(event)
        await self.sio.emit(
            event,
            {field: data[field], "userId": session.sid, "callId": call_id},
            to=message.targetUserId,
        )
        self.metrics.relayed.labels(event).inc()
        self.metrics.relay.labels(event).observe(time.perf_counter() - started)
        log.debug("call %s: %s relayed %s -> %s", call_id, event, session.sid, message.targetUserId)
        return {"callId": call_id}

    # --- effects -----------------------------------------------------------------------------

    async def _deliver(self, outcome: Outcome) -> dict[str, Any]:
        """Send an operation's messages, start its ring timers; return its ack's fields."""
        self.metrics.accepted.inc(outcome.accepted)
        for reason in outcome.ended:
            self.metrics.ended.labels(reason).inc()
        for timing in outcome.timings:
            self.metrics.observe(timing)
        for ring in outcome.rings:
            asyncio.get_running_loop().call_later(
                self.settings.ring_timeout,
                self._spawn,
                self.pairing.ring_timeout,
                ring.call_id,
                ring.agent,
            )
        for call_id in outcome.deadlines:
            asyncio.get_running_loop().call_later(
                self.settings.connect_timeout, self._spawn, self.pairing.connect_timeout, call_id
            )
        for emit in outcome.emits:
            data = emit.data
            if emit.event in ICE_SERVER_EVENTS:
                # fresh per call: a bot connected for hours never holds expired credentials
                data = {**data, "iceServers": self._ice_servers(str(data["callId"]))}
            await self.sio.emit(emit.event, data, to=emit.to)
        return outcome.ack

    def _spawn(self, operation: Callable[..., Awaitable[Outcome]], *args: str) -> None:
        """Run a pairing operation in the background and deliver its outcome."""

        async def run() -> None:
            try:
                await self._deliver(await operation(*args))
            except Exception:
                log.exception("%s%r failed", operation.__name__, args)

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- HTTP --------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        index = STATIC_DIR / "index.html"
        if not index.is_file():
            raise web.HTTPNotFound(text="no customer page installed (signaling_server/static/)")
        return web.FileResponse(index)

    async def _config(self, request: web.Request) -> web.Response:
        servers = self._ice_servers(f"page-{secrets.token_hex(6)}")
        return web.json_response({"iceServers": servers}, headers={"Cache-Control": "no-store"})

    def _ice_servers(self, ident: str) -> list[dict[str, str]]:
        """RTCIceServers: the static ones, then TURN credentials minted now for `ident`."""
        settings = self.settings
        servers = list(settings.ice_servers)
        if settings.turn_secret is not None:
            minter = TurnMinter(settings.turn_secret, settings.turn_urls, settings.turn_ttl)
            servers += minter.servers(ident, time.time())
        return [server.to_json() for server in servers]

    async def _healthz(self, request: web.Request) -> web.Response:
        stats = await self.pairing.stats()
        return web.json_response(
            {
                "status": "ok",
                "agents": stats.agents,
                "customers": stats.customers,
                "calls": stats.active,
                "ringing": stats.ringing,
                "queue": stats.queued,
            }
        )

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        stats = await self.pairing.stats()
        roles = [s.role for s in self._sessions.values()]
        return await self.metrics.expose(
            request,
            {
                "agents_connected": roles.count(Role.AGENT),
                "customers_connected": roles.count(Role.CUSTOMER),
                "calls_active": stats.active,
                "calls_ringing": stats.ringing,
                "queue_length": stats.queued,
            },
        )
