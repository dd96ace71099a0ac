#!/usr/bin/env python3
"""Fault: the next hop refuses, flaps, is slow (tarpit) and closes mid-DATA; mail is deferred and
delivered once when it is back.

One FaultSink on a fixed loopback port is the gateway's default_route (retry_min 1, retry_max 2,
connect_timeout 3, command_timeout 4). Phases, each with its own messages submitted at its start
(unique Message-IDs):
  refuse            the sink is stopped: connections are refused               (6 s)
  flap              the sink is started and stopped every second               (10 s)
  tarpit            the sink writes its replies one byte per second            (12 s)
  close_in_data     the sink reads the first data line, then closes           (6 s)
  close_after_data  the sink stores the whole message, then closes unanswered (6 s)
  normal            until the gateway's queue is empty (bounded), then all counted.

Every message must be at the sink (lost = 0). A message may be there more than once only when
the extra copies were stored without the sink's 250 reaching the gateway: close_after_data
(expected: counted as dup_close_after_data), or a flap/tarpit connection cut between the data and
the end of the reply (dup_unacked_other, printed). A copy the sink acknowledged with a complete
250 and still got again is a gateway bug (dup_after_250, must be 0). At the end of the tarpit
phase no connection may have been open for more than 2 x command_timeout + 1 s
(tarpit_conns_over_timeout, must be 0): command_timeout bounds each reply of the next hop.
"""

import re
import sys
import time

from fault_support import FaultSink, Scenario, free_loopback_port, log, submit, unique, wait_until

PER_PHASE = 5
COMMAND_TIMEOUT = 4
TARPIT_SECONDS = 12
DRAIN_TIMEOUT = 90


def body(sc):
    port = free_loopback_port()
    out = f"{sc.tmp}/sink"
    sink = FaultSink(port=port, out_dir=out)
    sc.add_cleanup(lambda: sink.stop(timeout=3))
    gw = sc.gateway(send={"default_route": f"[127.0.0.1]:{port}", "retry_min": "1",
                          "retry_max": "2", "connect_timeout": "3",
                          "command_timeout": str(COMMAND_TIMEOUT), "workers": "4",
                          "max_per_destination": "4"})
    gw.start()

    phase_of = {}

    def submit_batch(phase):
        for _ in range(PER_PHASE):
            marker = unique(f"nh-{phase}")
            code, text = submit(gw.port, marker, size=2000)
            if code != 250:
                raise AssertionError(f"{phase}: submission answered {code} {text}")
            phase_of[marker] = phase

    def running():
        return sink._server is not None

    def sink_up():
        if not running():
            sink.start()

    def sink_down():
        if running():
            sink.stop(timeout=3)

    # refuse
    submit_batch("refuse")
    time.sleep(6)
    log(f"next_hop: refuse done, sink has {len(sink.messages())}")

    # flap
    submit_batch("flap")
    end = time.monotonic() + 10
    while time.monotonic() < end:
        sink_up()
        time.sleep(1)
        sink_down()
        time.sleep(1)
    log(f"next_hop: flap done, sink has {len(sink.messages())}")

    # tarpit
    sink.mode = "tarpit"
    sink_up()
    submit_batch("tarpit")
    time.sleep(TARPIT_SECONDS)
    # command_timeout is "wait for each reply of a next hop": no connection to a server that
    # writes one byte per second may stay open much longer than that.
    ages = sink.open_ages()
    tarpit_overdue = sum(1 for a in ages if a > 2 * COMMAND_TIMEOUT + 1)
    tarpit_longest = max(ages, default=0.0)
    sink_down()
    log(f"next_hop: tarpit done, sink has {len(sink.messages())}")

    # close in data
    sink.mode = "close_in_data"
    sink_up()
    submit_batch("close_in_data")
    time.sleep(6)
    sink_down()
    log(f"next_hop: close_in_data done, sink has {len(sink.messages())}")

    # close after data
    sink.mode = "close_after_data"
    sink_up()
    submit_batch("close_after_data")
    time.sleep(6)
    sink_down()
    log(f"next_hop: close_after_data done, sink has {len(sink.messages())}")

    # normal: everything must arrive
    sink.mode = "normal"
    sink_up()
    wait_until(lambda: not gw.queue(), DRAIN_TIMEOUT, "the gateway's queue is empty",
               interval=0.5)
    found = sink.count_markers(list(phase_of))
    modes = dict(sink.modes)
    acked = set(sink.acknowledged)
    lost = [m for m, ids in found.items() if not ids]
    dup_cad = dup_other = dup_after_250 = 0
    for m, ids in found.items():
        if len(ids) <= 1:
            continue
        acked_copies = [i for i in ids if i in acked]
        unacked = [i for i in ids if i not in acked]
        if len(acked_copies) > 1:
            dup_after_250 += len(acked_copies) - 1
            log(f"next_hop: {m} delivered again after a complete 250: sink ids {ids} "
                f"modes {[modes.get(i) for i in ids]}")
        for i in unacked:
            if modes.get(i) == "close_after_data":
                dup_cad += 1
            else:
                dup_other += 1
                log(f"next_hop: {m}: unacknowledged copy {i} stored in mode {modes.get(i)}")
    deferrals = sum(1 for line in gw.log().splitlines() if re.search(r"\bdeferred\b", line))
    per_phase = {}
    for m, ids in found.items():
        per_phase.setdefault(phase_of[m], 0)
        per_phase[phase_of[m]] += 1 if ids else 0
    sc.figure("messages", len(phase_of))
    sc.figure("delivered", sum(1 for ids in found.values() if ids))
    sc.figure("lost", len(lost))
    sc.figure("dup_close_after_data", dup_cad)
    sc.figure("dup_unacked_other", dup_other)
    sc.figure("dup_after_250", dup_after_250)
    sc.figure("deferrals_logged", deferrals)
    sc.figure("tarpit_conns_over_timeout", tarpit_overdue)
    sc.figure("tarpit_longest_conn", f"{tarpit_longest:.0f}s")
    sc.figure("sink_connections", sink.connections)
    if lost:
        log(f"next_hop: lost {[(m, phase_of[m]) for m in lost]}")
    gw.stop()
    if tarpit_overdue:
        log(f"next_hop: {tarpit_overdue} tarpit connection(s) open for more than "
            f"2 x command_timeout ({COMMAND_TIMEOUT} s), longest {tarpit_longest:.1f} s: the "
            f"reply timeout is not enforced per reply")
    return not lost and dup_after_250 == 0 and tarpit_overdue == 0


if __name__ == "__main__":
    sys.exit(Scenario("next_hop", deadline=300).run(body))
