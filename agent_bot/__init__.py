"""Headless WebRTC voice agent bot: takes and places calls with aiortc."""
