#!/usr/bin/env python3
"""on_tty.py - runs a command with its stderr (and with --stdout-tty its
stdout too) on a pseudo-terminal, the way a person's terminal would hold
it, and saves what the terminal received. For the progress-line tests
(tests/e2e/progress_tty.sh): the line must appear on a terminal and never
in a pipe.

usage: on_tty.py [--stdout-tty] [--cols N] [--feed FILE --interrupt-on TEXT]
                 TTY_OUT -- CMD [ARGS...]
Writes the bytes read from the terminal to TTY_OUT; stdout (without
--stdout-tty) and stdin are inherited. Exits with the command's status
(128 + N when a signal N ended it). With --feed, stdin is a pipe that gets
FILE and stays open (the command waits for more); once TEXT has reached
the terminal the command gets SIGINT (Ctrl-C), then stdin is closed.
Standard library only.
"""
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios


def main(argv):
    stdout_tty, cols, feed, interrupt_on = False, 100, None, None
    while argv and argv[0].startswith("--"):
        if argv[0] == "--stdout-tty":
            stdout_tty = True
            argv = argv[1:]
        elif argv[0] == "--cols":
            cols = int(argv[1])
            argv = argv[2:]
        elif argv[0] == "--feed":
            feed = argv[1]
            argv = argv[2:]
        elif argv[0] == "--interrupt-on":
            interrupt_on = argv[1].encode()
            argv = argv[2:]
        else:
            break
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    out_path, cmd = argv[0], argv[2:]
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ)
    env.setdefault("TERM", "xterm")
    proc = subprocess.Popen(cmd, stderr=slave, stdout=slave if stdout_tty else None, env=env,
                            stdin=subprocess.PIPE if feed else None)
    os.close(slave)
    if feed:
        with open(feed, "rb") as f:
            proc.stdin.write(f.read())
        proc.stdin.flush()
    got = bytearray()
    while True:
        if interrupt_on and interrupt_on in got:
            proc.send_signal(signal.SIGINT)
            interrupt_on = None
            proc.stdin.close()
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        got += chunk
    rc = proc.wait()
    if proc.stdin and not proc.stdin.closed:
        proc.stdin.close()
    os.close(master)
    if rc < 0:
        rc = 128 - rc
    with open(out_path, "wb") as f:
        f.write(bytes(got))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
