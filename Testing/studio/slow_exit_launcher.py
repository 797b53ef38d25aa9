"""A launcher (as PythonSlicer is) whose own exit comes a few seconds after the engine's last event:
it runs the real interpreter as its child, waits for it, then takes SLOW_EXIT_S more, as a torch
teardown under load did. Usage: python slow_exit_launcher.py -m sgrs ..."""
import subprocess
import sys
import time

SLOW_EXIT_S = 4.0

if __name__ == "__main__":
    code = subprocess.call([sys.executable, *sys.argv[1:]])
    time.sleep(SLOW_EXIT_S)
    sys.exit(code)
