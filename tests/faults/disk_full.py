#!/usr/bin/env python3
"""Fault: the spool's file system fills up while the gateway receives.

As root, a 2 MB tmpfs is mounted as the spool directory ([spool] directory = the mount point) and
a filler file takes most of it. The next hop is down (a loopback port that refuses) with a long
retry_min, so mail stays in the spool. Messages (about 40 kB each, unique Message-IDs) are sent
until one is answered 452 4.3.1; then a few more are tried on the same full disk (each must get a
4xx, never a 250 that is not kept). Every message answered 250 must be listed by `tlsgate queue`
and its spool file must hold its Message-ID; no message answered 4xx may be in the spool. Then the
filler is deleted and a new message must get 250 (service resumes). The tmpfs is unmounted at the
end. Skips (SKIP line, exit 0) when mounting is not permitted.
"""

import os
import socket
import subprocess
import sys

from fault_support import Scenario, log, submit, unique, wait_until

MOUNT_SIZE = "2m"
FILLER_BYTES = 1200 * 1024
MESSAGE_BYTES = 40 * 1024
MAX_MESSAGES = 200


def body(sc):
    if os.geteuid() != 0:
        raise Scenario.Skip("needs root to mount a tmpfs")
    mnt = os.path.join(sc.tmp, "spool")
    os.makedirs(mnt, mode=0o700)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={MOUNT_SIZE},mode=0700",
                        "tmpfs", mnt], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise Scenario.Skip(f"mount -t tmpfs not permitted: {p.stderr.strip()[:80]}")

    def unmount():
        subprocess.run(["umount", mnt], capture_output=True, timeout=30)

    sc.add_cleanup(unmount)

    # A port that is bound but never listens: connecting is refused (the next hop is down).
    refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    refused.bind(("127.0.0.1", 0))
    sc.add_cleanup(refused.close)
    gw = sc.gateway(spool=mnt, send={"default_route": f"[127.0.0.1]:{refused.getsockname()[1]}",
                                     "retry_min": "3600", "retry_max": "3600",
                                     "connect_timeout": "2"})
    gw.start()

    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        f.write(b"\0" * FILLER_BYTES)
    st = os.statvfs(mnt)
    log(f"disk_full: free after filler: {st.f_bavail * st.f_frsize // 1024} kB")

    accepted = {}   # marker -> queue id
    refused_4xx = {}  # marker -> reply
    first_full = None
    other = []
    for i in range(MAX_MESSAGES):
        marker = unique("df")
        code, text = submit(gw.port, marker, size=MESSAGE_BYTES)
        if code == 250:
            qid = text.rsplit(" ", 1)[-1]
            accepted[marker] = qid
        elif 400 <= code < 500:
            refused_4xx[marker] = f"{code} {text}"
            if first_full is None:
                first_full = f"{code} {text}"
                full_at = i
        else:
            other.append(f"{code} {text}")
        if first_full is not None and i >= full_at + 5:
            break
    sc.figure("accepted", len(accepted))
    sc.figure("first_full_reply", repr(first_full))
    sc.figure("refused_4xx", len(refused_4xx))

    codes_ok = first_full is not None and first_full.startswith("452 4.3.1")
    if not codes_ok:
        log(f"disk_full: no 452 4.3.1 after {MAX_MESSAGES} messages; other replies: {other[:5]}")

    queued = gw.queue()
    queued_ids = set(queued)
    lost = [m for m, q in accepted.items()
            if q not in queued_ids or m.encode() not in (gw.spooled_content(q) or b"")]
    in_spool_refused = [m for m in refused_4xx
                        if any(m.encode() in (gw.spooled_content(q) or b"") for q in queued_ids)]
    tmp_left = len(gw.spool_files("tmp"))
    sc.figure("lost", len(lost))
    sc.figure("refused_but_spooled", len(in_spool_refused))
    sc.figure("spool_tmp_left", tmp_left)
    sc.figure("gateway_alive", gw.alive())

    # Space returns: the filler goes; a new message must be accepted.
    os.unlink(filler)
    marker = unique("df-after")

    def accepted_again():
        code, text = submit(gw.port, marker, size=MESSAGE_BYTES)
        return (code, text) if code == 250 else None

    try:
        code, text = wait_until(accepted_again, 20, "a message is accepted after space returns",
                                interval=1.0)
        resumed = True
    except AssertionError as e:
        log(f"disk_full: {e}")
        resumed = False
    sc.figure("resumed", resumed)
    if resumed:
        qid = text.rsplit(" ", 1)[-1]
        resumed = qid in gw.queue()
    gw.stop()
    if lost:
        log(f"disk_full: lost: {lost}")
    return (codes_ok and not lost and not in_spool_refused and resumed and
            len(accepted) > 0)


if __name__ == "__main__":
    sys.exit(Scenario("disk_full", deadline=300).run(body))
