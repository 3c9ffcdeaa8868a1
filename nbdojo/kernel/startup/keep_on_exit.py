# Run once inside an ipykernel, like chunked_streams.py (comment lines dropped, exec'd in a throwaway namespace).
#
# `exit` / `quit` in an episode's kernel, typed by the agent or in a JupyterLab console attached to it, would shut
# the kernel down and lose the episode's state. Here they only print how to get a fresh kernel; the payload tells
# a frontend to keep the kernel. Best effort on ipykernel internals, like the rest of these files.
try:
    _shell = get_ipython()

    def _ask_exit(shell=_shell):
        print("exit/quit do not stop an nbdojo kernel (its state is the episode's); "
              "use the restart_kernel action for a fresh one.")
        shell.payload_manager.write_payload({"source": "ask_exit", "keepkernel": True})

    _shell.ask_exit = _ask_exit
except Exception:
    pass
