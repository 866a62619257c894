#!/usr/bin/env bash
# Regenerates the speech samples: espeak-ng speaks each text, sox resamples it to 48 kHz mono
# 16-bit, normalises it to -3 dBFS and trims it to a whole number of 20 ms frames (960 samples);
# PyAV (libopus) then writes the Ogg/Opus version of each WAV.
#   samples/make.sh            (needs espeak-ng, sox and the project's .venv)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}

# name | espeak-ng voice | words per minute | text
SAMPLES=(
    "hello|en-us|165|Hello, and thank you for calling. You are speaking with the automated agent. \
I can hear you clearly, and I will repeat this message until the call ends. How can I help you today?"
    "weather|en-gb+f3|140|The weather tomorrow will be cloudy in the morning, with light rain \
spreading from the west. Temperatures will reach fourteen degrees in the afternoon."
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for entry in "${SAMPLES[@]}"; do
    IFS='|' read -r name voice speed text <<<"$entry"
    espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.wav" "$text"
    sox -D "$tmp/$name.wav" -r 48000 -c 1 -b 16 "$tmp/$name-48k.wav" gain -n -3
    samples=$(soxi -s "$tmp/$name-48k.wav")
    sox "$tmp/$name-48k.wav" "$name-48k.wav" trim 0 "$((samples / 960 * 960))s"
    "$PY" - "$name-48k.wav" "$name.opus" <<'PYEOF'
import sys

import av

src, dst = sys.argv[1], sys.argv[2]
with av.open(src) as inp, av.open(dst, "w", format="ogg") as out:
    stream = out.add_stream("libopus", rate=48000, layout="mono")
    stream.bit_rate = 48000
    for frame in inp.decode(audio=0):
        frame.pts = None
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
PYEOF
    echo "$name: $(soxi -D "$name-48k.wav") s, $(soxi -s "$name-48k.wav") samples"
done
