"""What every Studio panel has: a tab, a build step, an optional poll and a case-change hook."""
from __future__ import annotations


class Panel:
    key = ""
    title = ""

    def __init__(self, studio):
        self.studio = studio
        self.state = studio.state
        self.scene = studio.scene

    def build(self) -> None:
        """Create the panel's widgets (called inside its tab)."""

    def poll(self) -> None:
        """Called every tick: read the session, update the state."""

    def on_case_changed(self, volume) -> None:
        """The Data panel selected another case."""
