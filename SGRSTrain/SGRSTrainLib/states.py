"""The states a training or ranking session can be in (the GUIs compare against these words)."""
IDLE, RUNNING, CANCELLING, DONE, FAILED, CANCELLED, STOPPED = (
    "idle", "running", "cancelling", "done", "failed", "cancelled", "stopped")
