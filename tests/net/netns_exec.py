"""`python -m tests.net.netns_exec NS MODULE ARGS...`: run `python -m MODULE` inside NS.

`tests.bots.Bot` starts `python -m LAUNCHER...`; this launcher lets it start a bot inside a
network namespace unchanged (the process keeps its pid through both execs, so signals reach
the bot itself).
"""

from __future__ import annotations

import os
import sys

from tests.net.namespaces import require

if __name__ == "__main__":
    namespace, module, *args = sys.argv[1:]
    ip = require("ip")
    os.execv(ip, [ip, "netns", "exec", namespace, sys.executable, "-m", module, *args])
