"""The agent's kernel: one persistent Jupyter kernel per episode, sandboxed and capped.

session   the kernel and its message loop (start, execute, interrupt, restart, shut down)
agent     the agent's kernel: a session started through the sandbox with the episode's caps
sandbox   bubblewrap policy and arguments; launcher: the command that starts a sandboxed kernel
caps      memory, process and disk caps (a cgroup, or rlimits and a watchdog)
gpus      which GPUs a kernel gets and how they are named inside the sandbox
outputs   a cell's outputs as the host keeps them, capped whatever the kernel sends
leftovers sweeping what dead hosts left behind
pool      warm kernels started ahead, so a reset takes one instead of waiting for a start
startup/  code run in every kernel at start; specs/: nbdojo's kernel spec
"""
