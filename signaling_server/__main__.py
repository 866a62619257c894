"""`python -m signaling_server`: same as the `signaling-server` command."""

from signaling_server.cli import main

main()
