"""The daemon started as root with gateway.user binds its port, hands its state to that user and
runs every session as it; started as another user with a different gateway.user it refuses."""
import os
import pwd
import smtplib
import ssl
import unittest

from daemon_support import DaemonTestCase

USER = "nobody"


@unittest.skipUnless(os.geteuid() == 0, "needs root to switch users")
class DropPrivilegesTest(DaemonTestCase):
    def setUp(self):
        super().setUp()
        os.chmod(self.tmp, 0o755)  # the user must reach its state directory below it
        text = open(self.config, encoding="utf-8").read()
        text = text.replace("[gateway]\n", f"[gateway]\nuser = {USER}\n", 1)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        self.uid = pwd.getpwnam(USER).pw_uid

    def status(self, pid, field):
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return [int(v) for v in line.split()[1:]]
        return []

    def test_sessions_run_as_the_configured_user(self):
        daemon = self.start_daemon()
        daemon.wait_started()
        daemon.wait_for(rf"running as user={USER} uid={self.uid}", 10)
        pid = daemon.proc.pid
        self.assertEqual(set(self.status(pid, "Uid")), {self.uid}, "real, effective, saved, fs")
        self.assertEqual(self.status(pid, "Groups"), [], "no supplementary groups")

        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo("client.example")
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            client.starttls(context=context)
            client.ehlo("client.example")
            client.sendmail("a@sender.example", ["b@rcpt.example"], "Subject: t\r\n\r\nhi\r\n")
        queue = os.path.join(self.state, "spool", "queue")
        files = os.listdir(queue)
        self.assertEqual(len(files), 1)
        self.assertEqual(os.stat(os.path.join(queue, files[0])).st_uid, self.uid)
        for root, _, names in os.walk(self.store):
            for name in names:
                st = os.stat(os.path.join(root, name))
                self.assertEqual(st.st_uid, self.uid, name)
                if name.endswith(".key"):
                    self.assertEqual(st.st_mode & 0o777, 0o600, name)


class RefuseOtherUserTest(DaemonTestCase):
    def test_unknown_user_stops_the_start(self):
        text = open(self.config, encoding="utf-8").read().replace(
            "[gateway]\n", "[gateway]\nuser = no-such-user-tlsgate\n", 1)
        with open(self.config, "w", encoding="utf-8") as f:
            f.write(text)
        daemon = self.start_daemon()
        daemon.wait_for(r"no-such-user-tlsgate: no such user", 10)
        self.assertNotEqual(daemon.proc.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
