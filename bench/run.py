"""Run every benchmark in bench/ (every .py file but this one), each in its own
process. Each prints one JSON object and a one-line summary."""

import subprocess
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
failed = 0
for script in sorted(path for path in here.glob("*.py") if path.name != "run.py"):
    print(f"# {script.name}", flush=True)
    failed |= subprocess.run([sys.executable, str(script)], cwd=here.parent).returncode
sys.exit(1 if failed else 0)
