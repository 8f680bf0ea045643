#!/usr/bin/env python3
"""bench-seed-big.py --users LIST [--mib 50] [--small 3] [-j 2]

Seeds the memory case of .ci/bench.sh on the src Dovecot of ../shared/bench:
per user, one big message (a multipart mail with a base64 attachment, --mib
MiB in all) in INBOX, plus --small small text messages in INBOX and Archive.

The attachment is random bytes seeded by the user name: each user's big
message differs and is incompressible, and a rerun produces the same bytes.
Uses imaputil.connect (master-user login) from the bench directory, given by
env BENCH, so it logs in the same way as seed.py and verify.py do.
"""
import argparse
import base64
import multiprocessing
import os
import random
import sys
import time

sys.path.insert(0, os.environ.get("BENCH", os.path.join(os.path.dirname(__file__),
                                                        "../../shared/bench")))
from imaputil import SERVERS, connect, users_arg  # noqa: E402


def big_message(user, nbytes):
    """-> bytes of about nbytes, CRLF line ends, a text part and an attachment."""
    rng = random.Random("big/" + user)
    boundary = "=_bench_big_%x" % rng.getrandbits(48)
    head = ("From: Big Sender <big@example.org>\r\nTo: %s@example.org\r\n"
            "Subject: big attachment for %s\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
            "Message-ID: <big-%s@example.org>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="%s"\r\n\r\n'
            "--%s\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            "The attachment is large on purpose.\r\n"
            "--%s\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            "Content-Disposition: attachment; filename=\"big.bin\"\r\n\r\n"
            % (user, user, user, boundary, boundary, boundary)).encode()
    tail = ("--%s--\r\n" % boundary).encode()
    # base64 lines of 76 chars + CRLF carry 57 bytes: 78 bytes on the wire per 57
    raw = (nbytes - len(head) - len(tail)) * 57 // 78
    att = base64.encodebytes(rng.randbytes(raw)).replace(b"\n", b"\r\n")
    return head + att + tail


def small_message(user, i):
    return ("From: Small Sender <small@example.org>\r\nTo: %s@example.org\r\n"
            "Subject: small %d\r\nDate: Tue, 02 Jan 2024 1%d:00:00 +0000\r\n"
            "Message-ID: <small-%d-%s@example.org>\r\n\r\nsmall message %d\r\n"
            % (user, i, i % 10, i, user, i)).encode()


def seed_user(job):
    user, nbytes, small = job
    host, port = SERVERS["src"]
    m = connect(host, port, user)
    m.create("Archive")  # may already exist: the answer does not matter
    msg = big_message(user, nbytes)
    typ, data = m.append("INBOX", "(\\Seen)", '"01-Jan-2024 10:00:00 +0000"', msg)
    if typ != "OK":
        raise RuntimeError("%s: APPEND big: %r" % (user, data))
    total = len(msg)
    for i in range(small):
        body = small_message(user, i)
        typ, data = m.append("INBOX" if i % 2 == 0 else "Archive", "()",
                             '"02-Jan-2024 1%d:00:00 +0000"' % (i % 10), body)
        if typ != "OK":
            raise RuntimeError("%s: APPEND small: %r" % (user, data))
        total += len(body)
    m.logout()
    return user, 1 + small, total


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", required=True, help="count or comma list")
    ap.add_argument("--mib", type=float, default=50, help="size of the big message")
    ap.add_argument("--small", type=int, default=3, help="small messages per user")
    ap.add_argument("--jobs", "-j", type=int, default=2)
    args = ap.parse_args()
    t0 = time.time()
    jobs = [(u, int(args.mib * (1 << 20)), args.small) for u in users_arg(args.users)]
    msgs = nbytes = 0
    with multiprocessing.Pool(args.jobs) as pool:
        for user, n, b in pool.imap_unordered(seed_user, jobs):
            msgs, nbytes = msgs + n, nbytes + b
    print("seed-big: %d users, %d messages, %.1f MB (%.1fs)"
          % (len(jobs), msgs, nbytes / 1e6, time.time() - t0))


if __name__ == "__main__":
    sys.exit(main())
