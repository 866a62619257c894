// The ICE servers (STUN, TURN with fresh credentials) a page is to use.

/** The ICE servers the signaling server hands pages (`GET /config`). */
export async function loadIceServers(serverUrl = location.origin) {
  const response = await fetch(new URL("config", `${serverUrl}/`), { cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const config = await response.json();
  return Array.isArray(config.iceServers) ? config.iceServers : [];
}
