"""`python -m agent_bot`: the `agent-bot` command."""

import sys

from agent_bot.cli import main

# Guarded: the scoring pool's spawned workers import this module again as `__mp_main__`.
if __name__ == "__main__":
    sys.exit(main())
