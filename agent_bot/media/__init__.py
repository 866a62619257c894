"""Media ends of a call: sources (what is sent) and sinks (what is done with what is received)."""
