"""`agent-bot desk`: a terminal front end (Textual) over the same `Agent` and `Call` objects
the line console drives: status, the ringing call, the call in progress, the history."""
