"""``sgrs segment`` and ``sgrs evaluate`` (the inference commands)."""
from __future__ import annotations


def add_inference_commands(sub) -> None:
    """Registered here so the inference code loads only when used."""
