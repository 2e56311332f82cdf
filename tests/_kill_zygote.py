"""Started by tests/test_load_kill.py: imports shopscope once, then for every line
``<workspace> <folder>`` on stdin forks a child that loads the folder (canonical preset)
and prints the child's pid; the test kills it. Forking from this process, which never
opens a store, saves the child the imports (seconds on a loaded machine)."""

import os
import sys


def main() -> None:
    from shopscope.ingest import ingest_file
    from shopscope.store import Workspace

    for line in sys.stdin:
        ws_path, folder = line.split()
        pid = os.fork()
        if pid == 0:  # the load
            try:
                ws = Workspace.open(ws_path)
                ingest_file(ws, folder, preset="canonical")
                ws.close()
                os._exit(0)
            except BaseException:
                os._exit(1)
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(status, flush=True)


if __name__ == "__main__":  # not when pytest collects this folder's doctests
    main()
