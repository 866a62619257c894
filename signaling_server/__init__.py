"""Socket.IO signaling server: pairs customers with agents and relays WebRTC signaling."""
