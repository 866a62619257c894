// The customer page: wires the buttons, the microphone and the meters to one Call at a time.
//
// Query parameters: ?offerer=agent (the agent sends the SDP offer), ?raw=1 (no echo
// cancellation, noise suppression or auto gain: for content tests), ?record=1 (keep the
// received audio for window.voiceTest), ?name=NAME (the name the agent sees),
// ?connect_timeout=SECONDS (from the agent's answer to connected audio; default 30),
// ?token=JWT (a signed customer token from the embedding site: docs/embedding.md).

import { createAudioContext, LevelMeter, SAMPLE_RATE, Tap } from "./audio.js";
import { Call, loadIceServers } from "./call.js";

const params = new URLSearchParams(location.search);
const options = {
  offerer: params.get("offerer") === "agent" ? "agent" : "customer",
  raw: params.get("raw") === "1",
  record: params.get("record") === "1",
  name: (params.get("name") || "customer").slice(0, 64),
  connectTimeoutMs: 1000 * (Number(params.get("connect_timeout")) || 30),
  token: params.get("token"),
};

const ui = {
  status: document.getElementById("status"),
  message: document.getElementById("message"),
  call: document.getElementById("call"),
  hangup: document.getElementById("hangup"),
  mute: document.getElementById("mute"),
  timer: document.getElementById("timer"),
  microphone: document.getElementById("microphone"),
  inputLevel: document.getElementById("input-level"),
  outputLevel: document.getElementById("output-level"),
  remoteAudio: document.getElementById("remote-audio"),
};

const END_REASONS = {
  "hangup": "the agent hung up",
  "local-hangup": "you hung up",
  "peer-disconnected": "the agent was disconnected",
  "ring-timeout": "no agent answered",
  "no-agent": "no agent is available",
  "signaling-lost": "the connection to the call service was lost",
  "ice-failed": "the audio connection failed",
  "connect-timeout": "the audio connection could not be set up in time",
  "dtls-failed": "the audio connection could not be secured",
  "media-timeout": "no audio arrived for too long",
  "error": "the call could not go on",
};

const END_MESSAGES = {
  "no-agent": "No agent is available right now. Please try again later.",
  "ring-timeout": "No agent answered in time. Please try again later.",
  "connect-timeout": "The audio could not reach the agent: a firewall may block it. Please try again, or from another network.",
  "ice-failed": "The audio connection to the agent failed. Please try again.",
  "dtls-failed": "The audio connection to the agent could not be secured. Please try again.",
  "media-timeout": "The agent's audio stopped arriving. Please call again.",
};

const IN_CALL = new Set([
  "microphone", "connecting", "ringing", "queued", "media", "connected", "reconnecting", "held", "transferring",
]);

let context = null;
let call = null;
let stream = null;
let inputMeter = null;
let outputMeter = null;
let tap = null;
let timer = null;

/** What the end-to-end tests read (Playwright): state, timings and the received audio. */
const voiceTest = {
  state: "idle",
  reason: null,
  message: "",
  callId: null,
  agentName: null,
  timings: {},
  sampleRate: SAMPLE_RATE,
  /** The audio received so far (needs ?record=1): 16-bit mono PCM at sampleRate, base64. */
  receivedPcm16: () => (tap ? tap.pcm16Base64() : ""),
  /** The current call's inbound-rtp statistics (concealment, time stretching), or null. */
  receiveStats: () => (call ? call.receiveStats() : null),
  /** The current call's selected ICE candidate pair ({local, remote} types), or null. */
  selectedPair: () => (call ? call.selectedPair() : null),
  /** The label of the microphone being sent (null outside a call). */
  get microphone() {
    return stream?.getAudioTracks()[0]?.label ?? null;
  },
  /** Seconds of audio received so far (needs ?record=1). */
  receivedSeconds: () => (tap ? tap.length / SAMPLE_RATE : 0),
};
window.voiceTest = voiceTest;

function render(state, detail = {}) {
  voiceTest.state = state;
  ui.status.dataset.state = state;
  const agent = detail.agentName || voiceTest.agentName || "An agent";
  const text = {
    idle: "Ready to call.",
    microphone: "Opening your microphone…",
    connecting: "Connecting to the call service…",
    ringing: "Ringing an agent…",
    queued: `All agents are busy. You are number ${detail.position} in the queue.`,
    media: `${agent} answered. Connecting the audio…`,
    connected: `Connected to ${agent}.`,
    reconnecting: "The audio connection is unstable. Trying to recover…",
    held: `On hold: ${agent} will be right back.`,
    transferring: detail.position
      ? `Transferring… You are number ${detail.position} in line for the next agent.`
      : "Transferring you to another agent…",
    ended: `Call ended: ${END_REASONS[detail.reason] ?? detail.reason}.`,
  }[state];
  ui.status.textContent = text;
  const inCall = IN_CALL.has(state);
  ui.call.disabled = inCall;
  ui.hangup.disabled = !inCall || state === "microphone";
  ui.mute.disabled = !inCall || !stream;
  // Keep keyboard focus on a live control when the one that had it got disabled.
  const focused = document.activeElement;
  if (focused === document.body || focused?.disabled) {
    const next = inCall ? ui.hangup : ui.call;
    if (!next.disabled) next.focus();
  }
}

function showMessage(text) {
  voiceTest.message = text;
  ui.message.textContent = text;
  ui.message.hidden = !text;
}

function micErrorText(err) {
  switch (err?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was denied. Allow this page to use your microphone, then call again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect a microphone, then call again.";
    case "NotReadableError":
      return "Your microphone could not be opened: another application may be using it.";
    default:
      return `Your microphone could not be opened (${err?.message ?? err}).`;
  }
}

async function openMicrophone(deviceId) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw Object.assign(new Error("this page needs https (or localhost) to use a microphone"), {
      name: "SecurityError",
    });
  }
  const processing = !options.raw;
  return navigator.mediaDevices.getUserMedia({
    audio: {
      deviceId: deviceId ? { exact: deviceId } : undefined,
      echoCancellation: processing,
      noiseSuppression: processing,
      autoGainControl: processing,
    },
  });
}

async function refreshMicrophones() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  const selected = ui.microphone.value;
  const choices = [new Option("Default microphone", "")];
  devices.forEach((device, i) => {
    if (device.deviceId && device.deviceId !== "default") {
      choices.push(new Option(device.label || `Microphone ${i + 1}`, device.deviceId));
    }
  });
  ui.microphone.replaceChildren(...choices);
  ui.microphone.value = choices.some((o) => o.value === selected) ? selected : "";
}

function useStream(newStream) {
  inputMeter?.stop();
  stream?.getTracks().forEach((t) => t.stop());
  stream = newStream;
  const muted = ui.mute.getAttribute("aria-pressed") === "true";
  stream.getAudioTracks().forEach((t) => (t.enabled = !muted));
  inputMeter = new LevelMeter(context, stream, ui.inputLevel);
}

function startTimer() {
  const started = performance.now();
  const tick = () => {
    const seconds = Math.floor((performance.now() - started) / 1000);
    const mm = String(Math.floor(seconds / 60)).padStart(2, "0");
    const ss = String(seconds % 60).padStart(2, "0");
    ui.timer.textContent = `${mm}:${ss}`;
    ui.timer.dateTime = `PT${seconds}S`;
  };
  tick();
  timer = setInterval(tick, 1000);
}

async function startCall() {
  showMessage("");
  setMuted(false);
  Object.assign(voiceTest, { reason: null, callId: null, agentName: null, timings: {} });
  ui.timer.textContent = "00:00";
  ui.timer.dateTime = "PT0S";
  render("microphone");
  try {
    if (!context) {
      context = await createAudioContext();
      if (options.record) await Tap.prepare(context);
    }
  } catch (err) {
    showMessage(`Audio could not start in this browser (${err.message}).`);
    render("idle");
    return;
  }
  let iceServers;
  try {
    useStream(await openMicrophone(ui.microphone.value));
    refreshMicrophones();
  } catch (err) {
    showMessage(micErrorText(err));
    render("idle");
    return;
  }
  try {
    iceServers = await loadIceServers();
  } catch (err) {
    showMessage(`Could not reach the call service (${err.message}). Check your network connection and try again.`);
    cleanUp();
    render("idle");
    return;
  }
  call = new Call({
    offerer: options.offerer,
    name: options.name,
    track: stream.getAudioTracks()[0],
    iceServers,
    connectTimeoutMs: options.connectTimeoutMs,
    token: options.token,
  });
  voiceTest.timings = call.timings;
  call.addEventListener("state", (event) => onCallState(event.detail));
  call.addEventListener("track", (event) => onRemoteStream(event.detail.stream));
  call.addEventListener("ended", (event) => onCallEnded(event.detail));
  call.addEventListener("notice", (event) => showMessage(event.detail.message));
  call.start();
}

function onCallState(detail) {
  voiceTest.callId = call.callId;
  if (detail.agentName) voiceTest.agentName = detail.agentName;
  if (detail.state === "connected" && timer === null) startTimer();
  render(detail.state, detail);
}

function onRemoteStream(remote) {
  ui.remoteAudio.srcObject = remote;
  ui.remoteAudio.play().catch(() => {});
  outputMeter?.stop();
  outputMeter = new LevelMeter(context, remote, ui.outputLevel);
  if (options.record) {
    tap?.stop();
    tap = new Tap(context, remote);
  }
}

function onCallEnded({ reason, error }) {
  voiceTest.reason = reason;
  cleanUp();
  const message = error?.message ?? END_MESSAGES[reason] ?? "";
  if (message) showMessage(message);
  render("ended", { reason });
}

function cleanUp() {
  clearInterval(timer);
  timer = null;
  inputMeter?.stop();
  outputMeter?.stop();
  tap?.stop();
  inputMeter = outputMeter = null;
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  ui.remoteAudio.srcObject = null;
  call = null;
}

async function changeMicrophone() {
  if (!call || !stream) return;
  try {
    const newStream = await openMicrophone(ui.microphone.value);
    useStream(newStream);
    await call.replaceTrack(newStream.getAudioTracks()[0]);
  } catch (err) {
    showMessage(micErrorText(err));
  }
}

function toggleMute() {
  setMuted(ui.mute.getAttribute("aria-pressed") !== "true");
}

function setMuted(muted) {
  ui.mute.setAttribute("aria-pressed", String(muted));
  ui.mute.textContent = muted ? "Unmute microphone" : "Mute microphone";
  stream?.getAudioTracks().forEach((t) => (t.enabled = !muted));
}

ui.call.addEventListener("click", startCall);
ui.hangup.addEventListener("click", () => call?.hangup());
ui.mute.addEventListener("click", toggleMute);
ui.microphone.addEventListener("change", changeMicrophone);
navigator.mediaDevices?.addEventListener?.("devicechange", refreshMicrophones);
refreshMicrophones();
