# Run once inside an ipykernel: nbdojo.kernel.session passes this file's code (comment lines dropped) through
# IPKernelApp.exec_lines, exec'd in a throwaway namespace so the user's namespace stays clean.
#
# ipykernel sends whatever a stream buffered in 0.2 s as one iopub message; in a print flood that is
# hundreds of MB, held at once by the kernel, the sockets and the host. This flushes a stream, and makes
# the writer wait for it, once ~256 KB are buffered, so every piece stays small. Best effort on ipykernel
# internals: if they change, nothing is patched and everything still works.
try:
    from ipykernel.iostream import OutStream

    schedule = OutStream._schedule_flush

    def _schedule_flush(self):
        try:
            big = sum(b.tell() for b in list(self._buffers.values())) >= 1 << 18
        except Exception:
            big = False
        self.flush() if big else schedule(self)

    OutStream._schedule_flush = _schedule_flush
except Exception:
    pass
