"""`python -m agent_bot`: the `agent-bot` command."""

import sys

from agent_bot.cli import main

sys.exit(main())
