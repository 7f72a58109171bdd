"""``python -m dtmask`` runs the command line."""

from .cli import main

main()
