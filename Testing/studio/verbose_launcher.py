"""``sgrs-studio`` with Python's logging on at DEBUG, as a user's own set-up or a service wrapper may
have it: aiohttp's access log then writes every request line, where a token in a URL would leak.
Usage: python verbose_launcher.py --data ... (the sgrs-studio options)."""
import logging
import sys

from SGRSStudio.cli import main

if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s")
    sys.exit(main())
