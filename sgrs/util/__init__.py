"""Small helpers: atomic writes, progress output, device choice, user-facing errors and
background processes. Nothing here imports torch at module import time except ``device``."""
