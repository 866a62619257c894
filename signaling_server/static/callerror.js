// Why a call failed, in words the page shows to the customer.

/** A failure the page shows to the customer as is. */
export class CallError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

/** What the server said when it refused the connection; null when it was not reached. */
function refusalText(err) {
  const said = err?.data?.message ?? err?.data?.error?.message;
  if (said) return said;
  // socket.io-client: a server's refusal is a plain Error carrying its message; transport
  // failures are TransportErrors, and no answer in time is Error("timeout").
  if (!err?.message || err.type === "TransportError" || err.message === "timeout") return null;
  return err.message;
}

/** What to tell the customer when the Socket.IO connection failed. */
export function connectErrorText(err) {
  const refusal = refusalText(err);
  if (/customer token/.test(refusal ?? "")) {
    return `Your sign-in could not be verified (${refusal}). Reload the page, sign in again and call again.`;
  }
  if (refusal) return `The call service refused the connection: ${refusal}`;
  return "Could not reach the call service. Check your network connection and try again.";
}
