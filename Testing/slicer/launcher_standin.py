"""Stand-in for Slicer's PythonSlicer: a launcher that runs the real interpreter as its CHILD, waits
for it and forwards no signal (CTKAppLauncher does the same), so the PID the GUI gets is not the
engine's. Usage: python launcher_standin.py -m sgrs ..."""
import subprocess
import sys

if __name__ == "__main__":
    sys.exit(subprocess.call([sys.executable, *sys.argv[1:]]))
