#!/usr/bin/env python3
"""Fault: kill -9 of the gateway at random moments under load, 20 rounds, with restart.

The gateway relays everything to a FaultSink (send.default_route, retry_min 1, retry_max 2) that
holds each end of data a few tens of milliseconds (so deliveries are in flight at the kill). Two
client threads submit messages continuously, each with a unique Message-ID. Each round: start
the gateway (same state directory), wait a random 0.3 to 2 s, SIGKILL it. After the last round the
gateway is started once more, the clients stop, and we wait (bounded) until its queue is empty.

Figures: rounds, messages answered 250, lost (answered 250, never at the sink: must be 0),
duplicates (extra copies at the sink; at most rounds x workers, since only deliveries in flight
at a kill can be repeated), unacked_delivered (no 250 seen because of the kill, but
delivered anyway: allowed, the client would retry), leftover spool tmp files, queue left.
"""

import random
import sys
import threading
import time

from fault_support import FaultSink, Scenario, log, submit, unique, wait_until

ROUNDS = 20
CLIENTS = 2
WORKERS = 8
DRAIN_TIMEOUT = 180


def body(sc):
    sink = FaultSink()
    sink.data_delay = 0.03
    sink.start()
    sc.add_cleanup(sink.stop)
    gw = sc.gateway(send={"default_route": f"[127.0.0.1]:{sink.port}", "retry_min": "1",
                          "retry_max": "2", "workers": str(WORKERS),
                          "max_per_destination": str(WORKERS),
                          "connect_timeout": "5", "command_timeout": "10"})
    gw.start()

    lock = threading.Lock()
    acked = {}       # marker -> queue id
    attempted = []   # markers
    other = {"refused_or_cut": 0, "non_250": 0}
    stop = threading.Event()

    def client():
        rng = random.Random()
        while not stop.is_set():
            marker = unique("k9")
            with lock:
                attempted.append(marker)
            try:
                code, text = submit(gw.port, marker, size=rng.randint(200, 30000), timeout=10)
            except Exception:  # noqa: BLE001 - the gateway is down or died mid-session
                with lock:
                    other["refused_or_cut"] += 1
                time.sleep(0.05)
                continue
            with lock:
                if code == 250:
                    acked[marker] = text
                else:
                    other["non_250"] += 1
            time.sleep(0.01)  # a steady load, not a queue that takes minutes to drain

    threads = [threading.Thread(target=client, daemon=True, name=f"client{i}")
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    sc.add_cleanup(stop.set)

    rng = random.Random()
    for r in range(ROUNDS):
        if r > 0:
            gw.start()
        time.sleep(rng.uniform(0.3, 2.0))
        with lock:
            n = len(acked)
        gw.kill()
        log(f"kill9: round {r + 1}/{ROUNDS}: killed pid after {n} acked, sink has "
            f"{len(sink.messages())}")
    gw.start()
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=15)

    wait_until(lambda: not gw.queue(), DRAIN_TIMEOUT, "the gateway's queue is empty",
               interval=0.5)
    with lock:
        acked_markers = dict(acked)
        all_markers = list(attempted)
    found = sink.count_markers(all_markers)
    lost = [m for m in acked_markers if not found[m]]
    duplicates = sum(max(0, len(v) - 1) for v in found.values())
    unacked_delivered = sum(1 for m, v in found.items() if v and m not in acked_markers)
    tmp_left = len(gw.spool_files("tmp"))
    sc.figure("rounds", ROUNDS)
    sc.figure("acked", len(acked_markers))
    sc.figure("lost", len(lost))
    sc.figure("duplicates", duplicates)
    sc.figure("unacked_delivered", unacked_delivered)
    sc.figure("client_errors", other["refused_or_cut"])
    sc.figure("non_250", other["non_250"])
    sc.figure("spool_tmp_left", tmp_left)
    if lost:
        log("lost (answered 250, not delivered):")
        for m in lost[:20]:
            log(f"  {m}: {acked_markers[m]}")
    # Only deliveries in flight at a kill can be repeated: at most one per worker and round.
    if duplicates > ROUNDS * WORKERS:
        log(f"kill9: {duplicates} duplicates, more than rounds x workers = {ROUNDS * WORKERS}")
    gw.stop()
    return not lost and len(acked_markers) > 0 and duplicates <= ROUNDS * WORKERS


if __name__ == "__main__":
    sys.exit(Scenario("kill9", deadline=420).run(body))
