"""Restart: the daemon is killed with SIGKILL while deliveries are in flight and started again.
Every message that was answered 250 upstream must arrive downstream at least once; one whose
delivery was cut between the next hop's 250 and the spool update may arrive twice. The duplicates
are counted and reported on a line "duplicates=K" (stderr).

The sink holds each end of data for a moment before it answers (Downstream.data_delay), so that
at the kill several deliveries are in flight; it keeps a message whose data it received even when
the gateway died before the reply (as a real server would), which is where duplicates come from.

Run by ctest as `integration.send.restart`.
"""

import collections
import sys
import unittest

from send_support import DELIVERY_TIMEOUT, Downstream, SendGateway, unique, wait_until

N = 20
WORKERS = 8
DATA_DELAY = 1.0


class RestartTest(unittest.TestCase):
    def test_kill_during_delivery(self):
        sink = Downstream("slow")
        sink.data_delay = DATA_DELAY
        sink.start()
        self.addCleanup(sink.close)
        gw = SendGateway({"routes": f"dest.example=[127.0.0.1]:{sink.port}",
                          "retry_min": "1", "retry_max": "2", "workers": str(WORKERS),
                          "max_per_destination": "4", "command_timeout": "10"})
        self.addCleanup(gw.close)
        gw.start()

        markers = [unique(f"restart-{i}") for i in range(N)]
        ids = gw.submit_many([("sender@origin.example", [f"r{i}@dest.example"], markers[i], None)
                              for i in range(N)])
        self.assertEqual(len(set(ids)), N)

        # Kill while the sink holds deliveries after their end of data: some arrived, some are
        # in flight (their data received, the 250 not yet sent), the rest still queued.
        wait_until(lambda: len(sink.messages()) >= 1 and sink.held() >= 2, DELIVERY_TIMEOUT,
                   "deliveries arrive and more are held in flight")
        in_flight = sink.held()
        gw.kill()
        self.assertEqual(gw.daemon.proc.returncode, -9)
        at_kill = len(sink.messages())
        queued_at_kill = len(gw.queue())
        self.assertGreater(queued_at_kill, 0, "everything was delivered before the kill")

        sink.data_delay = 0
        gw.start()
        gw.wait_queue_empty(timeout=60)
        wait_until(lambda: all(sink.with_marker(mk) for mk in markers), DELIVERY_TIMEOUT,
                   "every acknowledged message arrived")

        counts = collections.Counter()
        for m in sink.messages():
            for mk in markers:
                if mk.encode() in m["content"]:
                    counts[mk] += 1
        missing = [ids[i] for i, mk in enumerate(markers) if counts[mk] == 0]
        self.assertEqual(missing, [], "acknowledged with 250 but never delivered")
        duplicates = sum(c - 1 for c in counts.values())
        print(f"\nrestart: n={N} delivered_before_kill={at_kill} held_in_flight_at_kill="
              f"{in_flight} queued_at_kill={queued_at_kill} duplicates={duplicates}",
              file=sys.stderr, flush=True)
        print(f"duplicates={duplicates}", file=sys.stderr, flush=True)
        # Only deliveries in flight at the kill can be repeated: at most one per worker.
        self.assertLessEqual(duplicates, WORKERS)
        self.assertEqual(len(sink.messages()), N + duplicates)


if __name__ == "__main__":
    unittest.main()
