"""``python -m geo_violence`` runs the command line."""

from .cli import main

main()
