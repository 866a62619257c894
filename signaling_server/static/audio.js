// Web Audio around one call: level meters for the microphone and the agent's voice, and an
// optional tap that keeps what the page received (read by the end-to-end tests).

export const SAMPLE_RATE = 48000;

/** An AudioContext at the bot's rate; create it from a user gesture (the Call button). */
export async function createAudioContext() {
  const context = new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
  await context.resume();
  return context;
}

/** Shows the RMS level of a stream on a <meter>, on a dB scale from -60 dBFS (0) to 0 dBFS (1). */
export class LevelMeter {
  constructor(context, stream, meter) {
    this.meter = meter;
    this.source = context.createMediaStreamSource(stream);
    this.analyser = context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.samples = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
    this.frame = requestAnimationFrame(() => this.update());
  }

  update() {
    this.analyser.getFloatTimeDomainData(this.samples);
    let energy = 0;
    for (const sample of this.samples) energy += sample * sample;
    const rms = Math.sqrt(energy / this.samples.length);
    const dbfs = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
    this.meter.value = Math.min(1, Math.max(0, (dbfs + 60) / 60));
    this.frame = requestAnimationFrame(() => this.update());
  }

  stop() {
    cancelAnimationFrame(this.frame);
    this.source.disconnect();
    this.meter.value = 0;
  }
}

/** Keeps every sample a stream plays into the page, mono at the context's rate. */
export class Tap {
  /** Loads the worklet into the context; once, before the first Tap. */
  static async prepare(context) {
    await context.audioWorklet.addModule(new URL("tap-worklet.js", import.meta.url));
  }

  constructor(context, stream) {
    this.chunks = [];
    this.length = 0;
    this.source = context.createMediaStreamSource(stream);
    this.node = new AudioWorkletNode(context, "tap", { numberOfOutputs: 0 });
    this.node.port.onmessage = (event) => {
      this.chunks.push(event.data);
      this.length += event.data.length;
    };
    this.source.connect(this.node);
  }

  /** Everything received so far as 16-bit PCM, base64-encoded (compact for Playwright). */
  pcm16Base64() {
    const pcm = new Int16Array(this.length);
    let offset = 0;
    for (const chunk of this.chunks) {
      for (const sample of chunk) {
        pcm[offset++] = Math.max(-32768, Math.min(32767, Math.round(sample * 32767)));
      }
    }
    const bytes = new Uint8Array(pcm.buffer);
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  stop() {
    this.source.disconnect();
    this.node.port.onmessage = null;
  }
}
