// One call from this page to an agent: Socket.IO signaling (protocol v1) and one
// RTCPeerConnection, with trickle ICE both ways. Knows nothing of the DOM.

import { CallError, connectErrorText } from "./callerror.js";

export { CallError } from "./callerror.js";
export { loadIceServers } from "./iceservers.js";

const ACK_TIMEOUT_MS = 10000;
/** How long the page waits for the call service to answer before it gives up. */
const CONNECT_TIMEOUT_MS = 10000;
/** Why this page gave up on a call, told to the server with `hangup` (docs/protocol.md). */
const HANGUP_REASONS = new Set(["connect-timeout", "ice-failed", "error"]);

/**
 * Events (all CustomEvents, details in brackets):
 *   state      {state, position?, agentName?}  connecting | ringing | queued | media | connected
 *              | reconnecting | held (the agent put the call on hold) | transferring (the agent
 *              is handing the call on: the page then sets up the audio with the new agent)
 *   ended      {reason, error?}  reason: a protocol EndReason, "local-hangup", "signaling-lost",
 *              "connect-timeout", "ice-failed" or "error"; error: a CallError to show
 *   track      {stream}  the agent's audio
 *   notice     {message}  something to tell the customer while the call goes on
 */
export class Call extends EventTarget {
  /**
   * @param {object} options
   * @param {"customer"|"agent"} options.offerer  who creates the SDP offer
   * @param {string} options.name  the customer's display name
   * @param {MediaStreamTrack} options.track  the microphone track to send
   * @param {RTCIceServer[]} options.iceServers  from GET /config; `call-accepted` may bring fresher ones
   * @param {number} options.connectTimeoutMs  from the agent's acceptance to a connected peer
   * @param {string} [options.serverUrl]  the signaling server (default: this page's origin)
   * @param {string|(() => Promise<string>)} [options.token]  a signed customer token, or a
   *   function that fetches a fresh one from the embedding site's backend (docs/embedding.md)
   */
  constructor({ offerer, name, track, iceServers, connectTimeoutMs, serverUrl = location.origin, token = null }) {
    super();
    this.serverUrl = serverUrl;
    this.token = token;
    this.offerer = offerer;
    this.name = name;
    this.track = track;
    this.iceServers = iceServers;
    this.connectTimeoutMs = connectTimeoutMs;
    this.connectWatchdog = null;
    this.callId = null;
    this.agentId = null;
    this.pc = null;
    this.socket = null;
    this.sender = null;
    this.remoteDescriptionSet = false;
    this.pendingCandidates = [];
    this.isEnded = false;
    this.timings = {};
    this.legConnected = false;
    this.held = false;
    this.transferring = false;
    this.formerAgents = new Set();
  }

  /** Connects to the signaling server and asks for an agent. */
  async start() {
    this.mark("start");
    this.setState("connecting");
    const auth = { role: "customer", name: this.name };
    try {
      const token = typeof this.token === "function" ? await this.token() : this.token;
      if (token) auth.token = token;
    } catch (err) {
      this.end("error", new CallError("auth", `Could not get your sign-in token (${err.message}).`));
      return;
    }
    // One Socket.IO connection per call, never re-established: the server forgets a customer
    // whose connection drops (see onSignalingLost).
    // WebSocket only: no sticky sessions needed when several server nodes share Redis.
    this.socket = io(this.serverUrl, {
      auth,
      transports: ["websocket"],
      reconnection: false,
      timeout: CONNECT_TIMEOUT_MS,
    });
    this.socket.on("connect", () => this.requestCall());
    this.socket.on("connect_error", (err) => {
      this.end("error", new CallError("signaling", connectErrorText(err)));
    });
    this.socket.on("disconnect", () => this.onSignalingLost());
    this.socket.on("call-queued", (msg) => this.onQueued(msg));
    this.socket.on("call-accepted", (msg) => this.onAccepted(msg));
    this.socket.on("offer", (msg) => this.onOffer(msg));
    this.socket.on("answer", (msg) => this.onAnswer(msg));
    this.socket.on("ice-candidate", (msg) => this.onRemoteCandidate(msg));
    // protocol v1.1: hold and transfer by the agent
    this.socket.on("call-hold", (msg) => this.onHold(msg, true));
    this.socket.on("call-resume", (msg) => this.onHold(msg, false));
    this.socket.on("call-transferring", (msg) => this.onTransferring(msg));
    this.socket.on("call-transfer-failed", (msg) => this.onTransferFailed(msg));
    this.socket.on("call-ended", (msg) => {
      if (msg.callId === this.callId) this.end(msg.reason);
    });
  }

  /** The customer hangs up. */
  async hangup() {
    await this.abort("local-hangup");
  }

  /** Tells the server (which tells the agent why) the call is over, then ends it here. */
  async abort(reason, error = null) {
    if (this.isEnded) return;
    if (this.callId && this.socket?.connected) {
      const hangup = { callId: this.callId };
      if (HANGUP_REASONS.has(reason)) hangup.reason = reason;
      try {
        await this.emit("hangup", hangup);
      } catch (err) {
        console.warn(`call ${this.callId}: hangup not acknowledged: ${err.message}`);
      }
    }
    this.end(reason, error);
  }

  /** The receiving side's inbound-rtp statistics (jitter buffer, concealment), or null. */
  async receiveStats() {
    if (!this.pc) return null;
    for (const stats of (await this.pc.getStats()).values()) {
      if (stats.type === "inbound-rtp" && stats.kind === "audio") return stats;
    }
    return null;
  }

  /** The selected ICE candidate pair: each end's type (host, srflx, prflx, relay), or null. */
  async selectedPair() {
    if (!this.pc) return null;
    const stats = await this.pc.getStats();
    for (const transport of stats.values()) {
      const pair = transport.type === "transport" && stats.get(transport.selectedCandidatePairId);
      if (!pair) continue;
      const local = stats.get(pair.localCandidateId);
      const remote = stats.get(pair.remoteCandidateId);
      return {
        local: local?.candidateType,
        remote: remote?.candidateType,
        localRelayProtocol: local?.relayProtocol ?? null,
        remoteAddress: remote ? `${remote.address}:${remote.port}` : null,
      };
    }
    return null;
  }

  /** Sends another microphone track (a new device picked mid-call). */
  async replaceTrack(track) {
    this.track = track;
    if (this.sender) await this.sender.replaceTrack(track);
  }

  async requestCall() {
    this.mark("socketConnected");
    let ack;
    try {
      ack = await this.emit("call-request", { offerer: this.offerer });
    } catch (err) {
      this.end("error", err);
      return;
    }
    this.callId = ack.callId;
    this.mark("callRequested");
    if (this.agentId) return; // call-accepted overtook the acknowledgement
    if (ack.status === "queued") this.setState("queued", { position: ack.position });
    else this.setState("ringing");
  }

  /** Before the audio connects, the call ends; after, it carries on peer to peer. */
  onSignalingLost() {
    if (this.timings.connected === undefined) {
      this.end("signaling-lost", new CallError("signaling", "The connection to the call service was lost."));
      return;
    }
    this.socket.off();
    const message = "The connection to the call service was lost. Your call goes on; hang up when you are done.";
    this.dispatchEvent(new CustomEvent("notice", { detail: { message } }));
  }

  onQueued(msg) {
    if (msg.callId !== this.callId || this.isEnded) return;
    // back in the queue by a transfer: still "transferring", with the place in line
    this.setState(this.transferring ? "transferring" : "queued", { position: msg.position });
  }

  onHold(msg, held) {
    if (msg.callId !== this.callId || this.isEnded) return;
    this.held = held;
    this.setState(held ? "held" : this.mediaState());
  }

  onTransferring(msg) {
    if (msg.callId !== this.callId || this.isEnded) return;
    this.transferring = true;
    this.setState("transferring");
  }

  onTransferFailed(msg) {
    if (msg.callId !== this.callId || this.isEnded) return;
    this.transferring = false;
    this.setState(this.held ? "held" : this.mediaState());
    const message = "The transfer did not go through: you are still with the same agent.";
    this.dispatchEvent(new CustomEvent("notice", { detail: { message } }));
  }

  /** The state the current leg's audio is in. */
  mediaState() {
    return this.legConnected ? "connected" : "media";
  }

  /** A transfer completed: a new agent, a new RTCPeerConnection for the same call. */
  dropLeg() {
    this.pc?.close();
    this.pc = null;
    this.sender = null;
    this.remoteDescriptionSet = false;
    this.pendingCandidates = [];
    this.legConnected = false;
    this.held = false;
    this.transferring = false;
    clearTimeout(this.connectWatchdog);
  }

  async onAccepted(msg) {
    if (this.isEnded || (this.callId && msg.callId !== this.callId)) return;
    if (this.agentId) {
      // v1.1: the call was transferred; the old agent's leg is over
      console.info(`call ${msg.callId}: transferred to ${msg.agentName}`);
      this.formerAgents.add(this.agentId);
      this.dropLeg();
    }
    this.callId = msg.callId;
    this.agentId = msg.agentId;
    this.mark("accepted");
    this.connectWatchdog = setTimeout(() => this.failMedia("connect-timeout"), this.connectTimeoutMs);
    this.setState("media", { agentName: msg.agentName });
    // The server mints TURN credentials for each call: prefer them to the page's /config.
    if (Array.isArray(msg.iceServers)) this.iceServers = msg.iceServers;
    await this.guard(async () => {
      this.createPeerConnection();
      if (this.offerer !== "customer") return;
      this.sender = this.pc.addTrack(this.track);
      const offer = await this.pc.createOffer();
      await this.pc.setLocalDescription(offer);
      await this.emit("offer", {
        offer: { type: offer.type, sdp: offer.sdp },
        targetUserId: this.agentId,
        callId: this.callId,
      });
      this.mark("offerSent");
    });
  }

  async onOffer(msg) {
    if (this.isEnded || !this.fromAgent(msg) || !this.pc) return;
    this.mark("offerReceived");
    await this.guard(async () => {
      await this.pc.setRemoteDescription(msg.offer);
      await this.flushCandidates();
      const transceiver = this.pc.getTransceivers().find((t) => t.receiver.track.kind === "audio");
      if (transceiver) {
        transceiver.direction = "sendrecv";
        await transceiver.sender.replaceTrack(this.track);
        this.sender = transceiver.sender;
      } else {
        this.sender = this.pc.addTrack(this.track);
      }
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      await this.emit("answer", {
        answer: { type: answer.type, sdp: answer.sdp },
        targetUserId: this.agentId,
        callId: this.callId,
      });
      this.mark("answerSent");
    });
  }

  async onAnswer(msg) {
    if (this.isEnded || !this.fromAgent(msg) || !this.pc) return;
    this.mark("answerReceived");
    await this.guard(async () => {
      await this.pc.setRemoteDescription(msg.answer);
      await this.flushCandidates();
    });
  }

  async onRemoteCandidate(msg) {
    if (this.isEnded || !this.fromAgent(msg) || !this.pc) return;
    if (!this.remoteDescriptionSet) {
      this.pendingCandidates.push(msg.candidate);
      return;
    }
    await this.addRemoteCandidate(msg.candidate);
  }

  async flushCandidates() {
    this.remoteDescriptionSet = true;
    const pending = this.pendingCandidates.splice(0);
    for (const candidate of pending) await this.addRemoteCandidate(candidate);
  }

  async addRemoteCandidate(candidate) {
    try {
      // null (or an empty candidate string) is the agent's end of candidates.
      if (candidate === null || candidate.candidate === "") await this.pc.addIceCandidate();
      else await this.pc.addIceCandidate(candidate);
    } catch (err) {
      console.warn(`call ${this.callId}: remote candidate ignored: ${err.message}`);
    }
  }

  /** A relayed message of this call from its current agent (not one it was transferred from). */
  fromAgent(msg) {
    return msg.callId === this.callId && !this.formerAgents.has(msg.userId);
  }

  /** Builds the RTCPeerConnection; a configuration the browser refuses throws a CallError. */
  createPeerConnection() {
    try {
      this.pc = new RTCPeerConnection({ iceServers: this.iceServers });
    } catch (err) {
      console.warn(`call ${this.callId}: RTCPeerConnection refused: ${err.name}: ${err.message}`);
      throw new CallError(
        "config",
        `Your browser refused the call service's network settings (${err.name}), so the audio cannot connect. Please tell the support team.`,
      );
    }
    const pc = this.pc; // events of a leg dropped by a transfer are ignored
    this.pc.addEventListener("icecandidate", (event) => {
      if (pc !== this.pc) return;
      const candidate = event.candidate && event.candidate.candidate ? event.candidate.toJSON() : null;
      this.emit("ice-candidate", {
        candidate,
        targetUserId: this.agentId,
        callId: this.callId,
      }).catch((err) => console.warn(`call ${this.callId}: candidate not relayed: ${err.message}`));
    });
    this.pc.addEventListener("track", (event) => {
      if (pc !== this.pc) return;
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      this.dispatchEvent(new CustomEvent("track", { detail: { stream } }));
    });
    this.pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.pc) return;
      const state = pc.connectionState;
      if (state === "connected") {
        if (!this.legConnected) this.reportConnected();
        this.legConnected = true;
        this.timings.connected ??= performance.now();
        clearTimeout(this.connectWatchdog);
        this.setState(this.held ? "held" : "connected");
      } else if (state === "disconnected") {
        this.setState("reconnecting");
      } else if (state === "failed") {
        this.failMedia("ice-failed");
      }
    });
  }

  /** Tells the server the media is up (it then stops its connect timer); a refusal is ignored. */
  reportConnected() {
    this.emit("call-connected", { callId: this.callId }).catch((err) => {
      console.debug(`call ${this.callId}: call-connected not taken: ${err.message}`);
    });
  }

  /** The audio could not connect: "ice-failed", or "connect-timeout" (not in time). */
  failMedia(reason) {
    const error = new CallError("media", "The audio connection to the agent failed. Please try again.");
    return this.abort(reason, error);
  }

  /** Runs one negotiation step; a failure ends the call with a message. */
  async guard(step) {
    try {
      await step();
    } catch (err) {
      const error = err instanceof CallError ? err : new CallError("media", `Could not set up the audio: ${err.message}`);
      await this.abort("error", error);
    }
  }

  /** Emits with an acknowledgement; a refusal or a timeout rejects with a CallError. */
  async emit(event, payload) {
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
    } catch {
      throw new CallError("signaling", `The call service did not answer (${event}).`);
    }
    if (!ack || ack.ok !== true) {
      const error = ack?.error ?? { code: "unknown", message: "no reason given" };
      throw new CallError("refused", `The call service refused ${event}: ${error.message} (${error.code}).`);
    }
    return ack;
  }

  end(reason, error = null) {
    if (this.isEnded) return;
    this.isEnded = true;
    clearTimeout(this.connectWatchdog);
    this.mark("ended");
    this.pc?.close();
    this.socket?.off();
    this.socket?.disconnect();
    this.dispatchEvent(new CustomEvent("ended", { detail: { reason, error } }));
  }

  setState(state, detail = {}) {
    if (this.isEnded) return;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  mark(name) {
    this.timings[name] = performance.now();
  }
}
