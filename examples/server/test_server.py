#!/usr/bin/env python3
"""Bad input and bad clients against vt-server (meson suite 'server').

Starts the server on an ephemeral loopback port, once per mode, and drives
each case with a plain-socket RESP client. After every case it checks that
the server still answers a fresh client and that no pooled source (or
baseline completion object) is left rented, through the STATS command,
and that the allocation counter (STATS mallocs) counts per-request
allocations; it says which counter the build has (the interposing shim, or
a sanitizer's malloc hooks).
Finally it sends SIGTERM with operations in flight and checks the clean
shutdown: exit status 0 and "leaks: 0" on stderr. Once, in a server of its
own with a low RLIMIT_NOFILE: clients over the fd limit are told and
closed, and the server does not spin there. In one with a 60 s store
latency: a client that closes while its connection is not reading still
gets its operations cancelled at once. In one with a large output bound:
QUIT's replies are all flushed to a client that half-closed. In others with
a large output bound: at SIGTERM, slow readers still get every reply that
was computed, and a client that never reads holds the exit for the grace
period (--shutdown-grace-ms) at most.

Standard library only. Exit 0 pass, 1 fail.
"""
import argparse
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time

LATENCY_US = 200000  # store latency: misses stay in flight long enough to race
MAX_BULK = 65536
MAX_OUTPUT = 65536
POOL = 16  # per loop: small, so that back-pressure is reachable
CACHE_KEYS = 100  # --prepopulate: the cache is full, later SETs of new keys go to the store


class Closed(Exception):
    pass


class Client:
    def __init__(self, port, timeout=5.0, rcvbuf=None):
        """rcvbuf: a fixed receive window (SO_RCVBUF, no autotuning), for a
        client slow to read."""
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if rcvbuf is not None:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        return out

    def call(self, *args):
        self.send(self.cmd(*args))
        return self.reply()

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise Closed()
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return Exception(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            return [self.reply() for _ in range(int(rest))]
        raise AssertionError("bad reply type %r" % line)

    def closed_by_peer(self, wait=3.0):
        """True once the server closed the connection (EOF or reset)."""
        self.s.settimeout(wait)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def is_err(r, text=""):
    return isinstance(r, Exception) and text in str(r)


class Server:
    def __init__(self, exe, mode, nofile=None, max_output=MAX_OUTPUT, latency_us=LATENCY_US, args=()):
        """nofile: the server's RLIMIT_NOFILE (soft), or None to inherit ours;
        args: more options."""
        self.mode = mode

        def limit_fds():
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard))

        self.p = subprocess.Popen(
            [exe, "--mode=" + mode, "--port=0", "--loops=2", "--store-threads=2",
             "--prepopulate=%d" % CACHE_KEYS, "--store-keys=200",
             "--store-latency-us=%d" % latency_us, "--max-bulk=%d" % MAX_BULK,
             "--max-output=%d" % max_output, "--pool-capacity=%d" % POOL] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=limit_fds if nofile is not None else None)
        line = self.p.stdout.readline().decode()
        if "listening on" not in line:
            raise AssertionError("server did not start: %r %s" % (line, self.p.stderr.read()))
        self.port = int(line.split("127.0.0.1:")[1].split()[0])

    def client(self):
        return Client(self.port)

    def set(self, k, v):
        """SET k v, through a client of its own."""
        c = self.client()
        assert c.call("SET", k, v) == "OK", k
        c.close()

    def stats(self):
        c = self.client()
        try:
            text = c.call("STATS").decode()
        finally:
            c.close()
        d = {}
        for ln in text.split("\r\n"):
            if ":" in ln and not ln.startswith("#"):
                k, v = ln.split(":", 1)
                d[k] = int(v) if v.isdigit() else v
        return d

    def check_healthy(self, case):
        """Still up, nothing in flight once the store has answered, nothing leaked."""
        assert self.p.poll() is None, "%s: server died (rc %s)" % (case, self.p.returncode)
        c = self.client()
        assert c.call("PING") == "PONG", case
        c.close()
        deadline = time.time() + 5
        while True:
            st = self.stats()
            if st["inflight"] == 0 or time.time() > deadline:
                break
            time.sleep(0.05)
        assert st["inflight"] == 0, "%s: %d still in flight" % (case, st["inflight"])
        assert st["pool_rented"] == 0, "%s: %d promises still rented" % (case, st["pool_rented"])
        assert st["pool_rents"] == st["pool_returns"], case
        assert st["baseline_ops_live"] == 0, "%s: %d baseline ops live" % (case, st["baseline_ops_live"])
        return st

    def terminate(self):
        """SIGTERM, without waiting (exited() waits); when it was sent."""
        self.p.send_signal(signal.SIGTERM)
        return time.time()

    def exited(self):
        """The exit status and stderr, once the server has exited (20 s at most)."""
        try:
            out, err = self.p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, err = self.p.communicate()
            raise AssertionError("server did not stop on SIGTERM")
        return self.p.returncode, err.decode()

    def exited_clean(self):
        """Exit status 0 and nothing leaked."""
        rc, err = self.exited()
        assert rc == 0 and "leaks: 0" in err, "exit status %d: %s" % (rc, err)

    def stop(self):
        self.terminate()
        return self.exited()

    def stop_clean(self):
        """SIGTERM: exit status 0 and nothing leaked."""
        self.terminate()
        self.exited_clean()

    def kill(self):
        """After a failed case: no server left behind."""
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def key(i):
    return "key:%012d" % i


# ---- cases ---------------------------------------------------------------

def case_basic(srv):
    c = srv.client()
    assert c.call("PING") == "PONG"
    assert c.call("PING", "hi") == b"hi"
    long_msg = b"m" * 1000                            # over a reply slot: echoed all the same
    assert c.call("PING", long_msg) == long_msg
    c.send(c.cmd("GET", key(152)) + c.cmd("PING", long_msg))  # queued behind a miss
    assert c.reply() == b"xxx" and c.reply() == long_msg
    assert c.call("GET", key(5)) == b"xxx"            # hit
    assert c.call("GET", key(150)) == b"xxx"          # miss: the store has it
    assert c.call("GET", "absent") is None            # miss: nobody has it
    assert c.call("SET", key(7), "v7") == "OK"        # cache
    assert c.call("GET", key(7)) == b"v7"
    assert c.call("SET", "k-store", "vs") == "OK"     # cache full: written around
    assert c.call("GET", "k-store") == b"vs"
    assert c.call("DEL", "k-store", key(7), "nope") == 2
    assert c.call("GET", "k-store") is None
    assert is_err(c.call("NOSUCH"), "unknown command")
    assert is_err(c.call("GET"), "wrong number")
    assert c.call("CONFIG", "GET", b"sa\0ve") == [b"sa\0ve", b""]  # binary-safe echo
    assert c.call("PING") == "PONG"
    c.send(b"PING\r\n")                               # inline
    assert c.reply() == "PONG"
    c.close()


def case_pipeline_order(srv):
    c = srv.client()
    cmds = [("GET", key(150)), ("GET", key(1)), ("SET", key(2), "two"), ("GET", key(2)),
            ("PING",), ("GET", key(151)), ("GET", "absent"), ("GET", key(3)), ("DEL", "zz")]
    c.send(b"".join(c.cmd(*x) for x in cmds))
    got = [c.reply() for _ in cmds]
    assert got == [b"xxx", b"xxx", "OK", b"two", "PONG", b"xxx", None, b"xxx", 0], got
    c.close()


def case_write_around_order(srv):
    """A connection's commands take effect in the order it sent them, also
    behind a SET that the full cache does not admit (written around it to
    the store, which answers after LATENCY_US): a DEL, GET or SET of the
    same key pipelined behind it sees it, as in Redis. DEL used to run at
    once, before the store had the key: it answered 0 and the key stayed."""
    c = srv.client()
    # Fill the cache (an earlier case's DEL may have made room), so that
    # the SETs below are written around it.
    fill = CACHE_KEYS - srv.stats()["cache_keys"]
    for i in range(fill):
        assert c.call("SET", "wa:fill:%d" % i, "f") == "OK"
    before = srv.stats()
    cmds = [("SET", "wa:1", "v1"), ("DEL", "wa:1"), ("GET", "wa:1"),     # DEL counts the SET's key
            ("SET", "wa:2", "a"), ("SET", "wa:2", "b"), ("GET", "wa:2"),  # the last SET wins
            ("DEL", "wa:2", "wa:1")]                                     # behind a GET of its key
    c.send(b"".join(c.cmd(*x) for x in cmds))
    got = [c.reply() for _ in cmds]
    assert got == ["OK", 1, None, "OK", "OK", b"b", 1], got
    st = srv.stats()
    assert st["sets_store"] - before["sets_store"] == 3, "the SETs were not written around the cache"
    c.close()


def case_malformed(srv):
    bad = [b"*2\r\n$3\r\nGET\r\nfoo\r\n",       # missing '$'
           b"*abc\r\n",                          # bad multibulk length
           b"*1\r\n$4\r\nPINGXX\r\n",           # bulk not terminated by CRLF
           b"*1\r\n$-5\r\n",                     # negative bulk length
           b"*99999999\r\n"]                     # multibulk count over the bound
    for b in bad:
        c = srv.client()
        c.send(b)
        r = c.reply()
        assert is_err(r, "Protocol error"), (b, r)
        assert c.closed_by_peer(), b
        c.close()
    # Lengths that Redis's string2ll refuses: a sign on 0, leading zeros, a
    # plus sign. The first, second, fourth and fifth used to be read as
    # their numbers (an empty command name, a PING, a PING, an empty
    # multibulk then a PING).
    ping = b"$4\r\nPING\r\n"
    for b, text in [(b"*1\r\n$-0\r\n\r\n", "invalid bulk length"),
                    (b"*1\r\n$04\r\nPING\r\n", "invalid bulk length"),
                    (b"*1\r\n$+4\r\nPING\r\n", "invalid bulk length"),
                    (b"*01\r\n" + ping, "invalid multibulk length"),
                    (b"*-0\r\n*1\r\n" + ping, "invalid multibulk length"),
                    (b"*+1\r\n" + ping, "invalid multibulk length"),
                    (b"*-9223372036854775809\r\n" + ping, "invalid multibulk length")]:  # under a long long
        refused(srv, b, text)
    # The counts it skips, as Redis does any count <= 0 that string2ll
    # takes, down to the least long long: an empty multibulk, a null one,
    # -99999 and -2^63 (those two were refused as invalid multibulk
    # lengths: the count's bound, 1024, held for negative ones too). Then
    # an empty bulk.
    c = srv.client()
    c.send(b"*0\r\n*-1\r\n*-99999\r\n*-9223372036854775808\r\n*2\r\n" + ping + b"$0\r\n\r\n")
    r = c.reply()
    assert r == b"", r
    c.close()
    # Garbage that parses as an inline command: an error, and the connection lives.
    c = srv.client()
    c.send(b"$5\r\n")
    assert is_err(c.reply(), "unknown command")
    assert c.call("PING") == "PONG"
    c.close()


def case_error_framing(srv):
    """An error that echoes the client's bytes stays one line: a command
    name with CR or LF in it neither splits the reply nor forges another."""
    c = srv.client()
    c.send(c.cmd("NO\r\n+OK\r\nSUCH") + c.cmd("PING"))
    r = c.reply()
    assert is_err(r, "unknown command"), r
    assert c.reply() == "PONG"
    c.send(b"A\rB\r\nPING\r\n")  # inline: a lone CR inside a word
    r = c.reply()
    assert is_err(r, "unknown command") and "\r" not in str(r), r
    assert c.reply() == "PONG"
    c.close()


def case_config_get(srv):
    """CONFIG GET answers every parameter name the same way, however long:
    [name, ""], the name echoed as a bulk, byte for byte, so CR, LF or NUL
    in it cannot forge a reply. Misuse of CONFIG says what is wrong."""
    c = srv.client()
    for name in [b"save", b"p" * 65, b"x" * 1000 + b"\r\n+OK\r\n\0:1\r\n"]:
        assert c.call("CONFIG", "GET", name) == [name, b""], name[:70]
        assert c.call("PING") == "PONG"
    r = c.call("CONFIG", "SET", "save", "")
    assert is_err(r, "unknown subcommand 'SET'"), r
    r = c.call("CONFIG", "GET", "save", "appendonly")
    assert is_err(r, "wrong number of arguments for 'config|get'"), r
    r = c.call("CONFIG")
    assert is_err(r, "wrong number of arguments for 'config'"), r
    assert c.call("PING") == "PONG"
    c.close()


def case_config_get_queued(srv):
    """CONFIG GET behind pending replies, with the reply ring two slots
    short of full (the parser's margin): its three-part reply ([name, ""]
    with a name over a slot) takes one slot, not three, so it neither
    overwrites the pending reply at the head nor loses its own."""
    c = srv.client()
    n = 30  # POOL misses pending, the rest busy: 30 of the 32 slots
    name = b"n" * 300
    c.send(b"".join(c.cmd("GET", key(100 + i)) for i in range(n)) +
           c.cmd("CONFIG", "GET", name) + c.cmd("PING"))
    got = [c.reply() for _ in range(n)]
    assert all(g == b"xxx" or is_err(g, "busy") for g in got), got[:3]
    assert got[0] == b"xxx", got[0]
    r = c.reply()
    assert r == [name, b""], repr(r)[:80]
    assert c.reply() == "PONG"
    c.close()


def refused(srv, data, text):
    """data gets a '-ERR ...text...' and the server closes the connection
    (the server may stop reading before all of data is sent)."""
    c = srv.client()
    try:
        c.send(data)
    except OSError:
        pass
    r = c.reply()
    assert is_err(r, text), (data[:40], r)
    assert c.closed_by_peer(), data[:40]
    c.close()


def case_oversized(srv):
    refused(srv, b"*2\r\n$3\r\nGET\r\n$%d\r\n" % (MAX_BULK + 1),  # bulk over the bound
            "invalid bulk length")
    refused(srv, b"A" * (70 * 1024), "too big inline")               # inline, no newline
    refused(srv, b"GET " + b"k" * (70 * 1024) + b"\r\n",              # inline, newline and all at once
            "too big inline")
    part = b"y" * (MAX_BULK - 10)                                     # each arg fits, the request does not
    refused(srv, b"*4\r\n$3\r\nDEL\r\n" + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for _ in range(3)),
            "request too large")
    # A big but legal value still works.
    c = srv.client()
    v = b"z" * (MAX_BULK - 100)
    assert c.call("SET", key(9), v) == "OK"
    assert c.call("GET", key(9)) == v
    assert c.call("SET", key(9), "xxx") == "OK"
    c.close()


def case_disconnect_in_flight(srv):
    before = srv.stats()
    clients = []
    for i in range(12):
        c = srv.client()
        # misses (latency LATENCY_US), a hit, and half a request, then gone
        c.send(c.cmd("GET", key(150 + i)) + c.cmd("GET", key(1)) + c.cmd("SET", "w%d" % i, "v") +
               c.cmd("GET", key(160 + i)) + b"*2\r\n$3\r\nGET\r\n$12\r\nkey:0")
        clients.append(c)
    time.sleep(0.05)
    for c in clients:
        c.close()  # with the misses still at the store
    st = srv.check_healthy("disconnect_in_flight")
    dropped = st["dropped_results"] - before["dropped_results"]
    assert dropped > 0, "no result was dropped: the case did not race"
    # Only the STATS client is left, once the server has seen the last close
    # (check_healthy's own PING client closes just before; the server reaps
    # it on its next loop turn, so wait for that rather than race it).
    deadline = time.time() + 5
    while st["connected_clients"] != 1 and time.time() < deadline:
        time.sleep(0.01)
        st = srv.stats()
    assert st["connected_clients"] == 1, st["connected_clients"]


def case_cancel_prompt(srv):
    """valuetask: a client that leaves with misses at the store gets them
    cancelled (vt_task_cancel). The promises are back in their pools well
    before the store's latency has elapsed, and the store never runs the
    withdrawn requests (store_skipped)."""
    if srv.mode != "valuetask":
        return  # baseline ops cannot be cancelled: their results are dropped
    before = srv.stats()
    clients = []
    for i in range(6):
        c = srv.client()
        c.send(c.cmd("GET", key(170 + i)) + c.cmd("GET", key(2)) + c.cmd("GET", key(180 + i)))
        clients.append(c)
    # Wait until the misses are rented (in flight at the store).
    deadline = time.time() + 1.0
    while srv.stats()["pool_rented"] < 12 and time.time() < deadline:
        time.sleep(0.002)
    t0 = time.time()
    mid = srv.stats()
    assert mid["pool_rented"] == 12, "expected 12 misses in flight, %d" % mid["pool_rented"]
    for c in clients:
        c.close()
    while True:
        st = srv.stats()
        if st["pool_rented"] == 0 or time.time() - t0 > LATENCY_US / 1e6:
            break
        time.sleep(0.002)
    took = time.time() - t0
    limit = LATENCY_US / 1e6 / 2
    assert st["pool_rented"] == 0, "%d promises still rented after %.3f s" % (st["pool_rented"], took)
    assert took < limit, "promises came back after %.3f s, the store's latency is %.3f s" % (
        took, LATENCY_US / 1e6)
    assert st["inflight"] == 0, st["inflight"]
    assert st["cancels"] - before["cancels"] == 12, (st["cancels"], before["cancels"])
    skipped = st["store_skipped"] - before["store_skipped"]
    assert skipped == 12, "the store ran %d withdrawn requests" % (12 - skipped)
    # After the latency: the store served none of them.
    time.sleep(LATENCY_US / 1e6 * 1.5)
    after = srv.stats()
    assert after["store_served"] == mid["store_served"], (after["store_served"], mid["store_served"])


def poll_stats(srv, done, wait):
    """STATS until done(stats) holds or `wait` seconds have passed; the last."""
    deadline = time.time() + wait
    while True:
        st = srv.stats()
        if done(st) or time.time() > deadline:
            return st
        time.sleep(0.005)


NOT_READING_LATENCY_US = 60000000  # case_cancel_not_reading: only a cancel frees a promise early


def assert_cancelled(srv, before, n, what):
    """Within 2 s of its client's close, a connection's n operations were
    cancelled: no promise rented, n cancels, n requests the store skipped."""
    st = poll_stats(srv, lambda st: st["pool_rented"] == 0, 2.0)
    assert st["pool_rented"] == 0, (
        "%s: %d promise(s) still rented 2 s after the client closed" % (what, st["pool_rented"]))
    assert st["cancels"] - before["cancels"] == n, (st["cancels"], before["cancels"])
    assert st["store_skipped"] - before["store_skipped"] == n, st["store_skipped"]
    return st


def case_cancel_not_reading(exe):
    """valuetask: a client that closes its socket while its connection is
    not reading gets its operations cancelled too. A command that waits for
    one of the connection's pending operations (on its key), or a full reply
    ring, takes EPOLLIN out of the connection's interest, and a plain close
    sends only a FIN: that raised no event, so the promises stayed rented
    until the store answered and a SET buffered behind a GET of its key
    still ran after the client had gone. The store's latency here is 60 s,
    so within the 2 s polled only a cancel can return a promise."""
    srv = Server(exe, "valuetask", latency_us=NOT_READING_LATENCY_US)
    try:
        # Waiting on a key: the SET of the GET's key waits, and the
        # connection stops reading behind it.
        before = srv.stats()
        c = srv.client()
        c.send(c.cmd("GET", key(152)) + c.cmd("SET", key(152), "x"))
        mid = poll_stats(srv, lambda st: st["pool_rented"] == 1, 2.0)
        assert mid["pool_rented"] == 1, "the GET miss is not at the store: %d rented" % mid["pool_rented"]
        assert mid["sets"] == before["sets"], "the SET did not wait for the GET of its key"
        c.close()
        st = assert_cancelled(srv, before, 1, "key wait")
        assert st["sets"] == before["sets"], "the SET ran after its client had gone"
        # A full reply ring: 14 misses at the store, then PINGs whose
        # replies (over a slot's 256 bytes) take a slot each, until the
        # 32-slot ring is one short of the parser's two-slot margin: 17
        # run, the other 3 wait, and the connection stops reading.
        n, pings = 14, 32 - 14 - 1
        before = srv.stats()
        c = srv.client()
        c.send(b"".join(c.cmd("GET", key(100 + i)) for i in range(n)) +
               c.cmd("PING", "p" * 300) * 20)
        mid = poll_stats(srv, lambda st: st["pool_rented"] == n and
                         st["pings"] - before["pings"] == pings, 2.0)
        assert mid["pool_rented"] == n, "%d of %d misses at the store" % (mid["pool_rented"], n)
        assert mid["pings"] - before["pings"] == pings, (
            "%d PINGs ran, not the %d a full ring takes" % (mid["pings"] - before["pings"], pings))
        c.close()
        st = assert_cancelled(srv, before, n, "full ring")
        assert st["pings"] - before["pings"] == pings, "the waiting PINGs ran after their client had gone"
        srv.check_healthy("cancel_not_reading")
        srv.stop_clean()
    finally:
        srv.kill()


def case_allocs_counted(srv):
    """The allocation counter sees the request path: a GET miss whose key is
    longer than a slot holds (SLOT_KEY, 128 bytes) copies the key into a
    malloc'd buffer, so N such requests count at least N allocations (a new
    connection costs at most its 4 buffers)."""
    n = 12
    before = srv.stats()
    assert before["malloc_counter"] in ("interposer", "sanitizer-hooks"), before["malloc_counter"]
    c = srv.client()
    c.send(b"".join(c.cmd("GET", "long:%03d:" % i + "k" * 200) for i in range(n)))
    assert [c.reply() for _ in range(n)] == [None] * n
    c.close()
    after = srv.stats()
    counted = after["mallocs"] - before["mallocs"]
    assert counted >= n, "%d long-key GETs counted %d allocations" % (n, counted)


def case_busy(srv):
    # One connection pipelines more misses than the loop's pool holds: the
    # overflow is answered with an error, in order, and nothing leaks.
    c = srv.client()
    n = 30
    c.send(b"".join(c.cmd("GET", key(100 + i)) for i in range(n)))
    got = [c.reply() for _ in range(n)]
    ok = sum(1 for g in got if g == b"xxx")
    busy = sum(1 for g in got if is_err(g, "busy"))
    assert ok + busy == n and busy > 0 and ok >= POOL, (ok, busy)
    assert c.call("PING") == "PONG"
    c.close()


def case_never_reads(srv):
    big = b"b" * 60000
    srv.set(key(11), big)
    before = srv.stats()
    bad = Client(srv.port, rcvbuf=4096)
    req = bad.cmd("GET", key(11)) * 50
    stop = threading.Event()
    sent = [0]

    def flood():
        bad.s.settimeout(0.2)
        while not stop.is_set():
            try:
                bad.s.sendall(req)
                sent[0] += 50
            except socket.timeout:
                continue  # the server stopped reading us: good
            except OSError:
                return

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    time.sleep(1.5)
    # Everyone else is still served while the flood sits at its bound.
    good = srv.client()
    for i in range(20):
        assert good.call("GET", key(20 + i)) == b"xxx", i
    good.close()
    st = srv.stats()
    stop.set()
    t.join(2)
    bound = MAX_OUTPUT + MAX_BULK + 64
    assert st["out_pauses"] > before["out_pauses"], "never paused the reader"
    assert st["max_out_bytes"] <= bound, (st["max_out_bytes"], bound)
    bad.close()
    srv.set(key(11), "xxx")


def case_quit_half_closed(exe):
    """QUIT closes once its replies are flushed, even when the client has
    already shut down its sending side (a FIN: EPOLLRDHUP) and reads
    slowly: the server stopped reading at QUIT, so the FIN is not a
    departure. 7.2 MB of replies: more than the kernel's send buffer takes
    on loopback (up to 4 MB), under a --max-output that keeps the reader
    from pausing before QUIT, so 3 MB of them are still in the output
    buffer when the FIN is seen."""
    srv = Server(exe, "valuetask", max_output=8 << 20)
    try:
        big = b"q" * 60000
        srv.set(key(12), big)
        slow = Client(srv.port, rcvbuf=65536)  # wide enough not to crawl
        slow.send(slow.cmd("GET", key(12)) * 120 + slow.cmd("QUIT"))
        slow.s.shutdown(socket.SHUT_WR)
        time.sleep(0.3)  # the socket buffers fill; the FIN is there
        for i in range(120):
            assert slow.reply() == big, i
        assert slow.reply() == "OK"
        assert slow.closed_by_peer()
        slow.close()
        srv.stop_clean()
    finally:
        srv.kill()


def case_shutdown(srv):
    # Misses in flight when SIGTERM comes: they are cancelled, every pool
    # is destroyed with nothing rented, and the server says so.
    c = srv.client()
    c.send(b"".join(c.cmd("GET", key(150 + i)) for i in range(8)))
    time.sleep(0.05)
    rc, err = srv.stop()
    replies = []
    try:
        while True:
            replies.append(c.reply())
    except (Closed, OSError):
        pass
    c.close()
    assert rc == 0, "exit status %d: %s" % (rc, err)
    assert "leaks: 0" in err, err
    assert "promises outstanding 0" in err and "baseline ops outstanding 0" in err, err
    # Whatever was answered was answered in order with a value or 'canceled'.
    assert all(r == b"xxx" or is_err(r, "canceled") for r in replies), replies


SHUTDOWN_GRACE = 2.0  # vt-server's default --shutdown-grace-ms, in seconds


SLOW_READER_OUTPUT = 8 << 20  # --max-output: more than the kernel's socket buffers take (4 MB)


def backed_up_client(srv, value, n):
    """A client that pipelined n GETs of a value this long and reads
    nothing, once the server has stopped reading it (its output over
    --max-output, SLOW_READER_OUTPUT, the kernel's socket buffers full):
    the client, and how many of the GETs ran (their replies are all
    computed, megabytes of them not yet sent)."""
    srv.set(key(13), value)
    before = srv.stats()
    slow = Client(srv.port, rcvbuf=65536)  # wide enough not to crawl when it reads
    slow.send(slow.cmd("GET", key(13)) * n)
    poll_stats(srv, lambda st: st["out_pauses"] > before["out_pauses"], 2.0)
    time.sleep(0.2)  # the socket buffers fill
    ran = srv.stats()["gets"] - before["gets"]
    assert 0 < ran < n, "%d of %d GETs ran before the server stopped reading" % (ran, n)
    return slow, ran


def read_until_closed(slow, value, ran, who, after_reply=None):
    """At shutdown: slow reads replies until the server closes it; each must
    be value, whole, and it must get exactly the ran replies that were
    computed, then EOF (a reset fails). after_reply(slow, ran, n) runs after
    the n-th."""
    got = 0
    try:
        while True:
            r = slow.reply()
            assert r == value, "%s, reply %d: %r" % (who, got, r if not isinstance(r, bytes) else r[:20])
            got += 1
            if after_reply is not None:
                after_reply(slow, ran, got)
    except Closed:
        pass
    except OSError as e:
        raise AssertionError("%s: %r after %d of %d replies" % (who, e, got, ran))
    slow.close()
    assert got == ran, "%s: %d of the %d replies computed before SIGTERM arrived whole" % (who, got, ran)


def shutdown_delivers(exe, fill, counts, after_reply=None):
    """SIGTERM while clients that pipelined GETs of a 60 KB value (counts:
    how many, per client) have not read their replies: each gets every reply
    computed before the stop (read_until_closed; after_reply(slow, ran, n)
    runs after its n-th), and the server exits cleanly once they are out,
    well before the grace period ends."""
    srv = Server(exe, "valuetask", max_output=SLOW_READER_OUTPUT)
    try:
        big = fill * 60000
        readers = [backed_up_client(srv, big, n) for n in counts]
        t0 = srv.terminate()
        time.sleep(0.3)  # the loops see the stop: no GET runs after this
        for i, (slow, ran) in enumerate(readers):
            read_until_closed(slow, big, ran, "client %d" % i, after_reply)
        srv.exited_clean()
        took = time.time() - t0
        assert took < SHUTDOWN_GRACE, "exited %.2f s after SIGTERM, its readers long done" % took
    finally:
        srv.kill()


def case_shutdown_slow_reader(exe):
    """SIGTERM while slow readers have not yet taken replies the server
    computed (megabytes in their output buffers, the kernel's socket
    buffers full): the server runs nothing more, but delivers them within
    the grace period, and exits once they are out, not at its end. One
    client's 400 GETs (14 KB) were read whole; the other pipelined 3000
    (108 KB), of which the server read 16 KB before it stopped reading, so
    the rest is unread when it closes. It closed at once: the first client
    got what the kernel held, then EOF in the middle of a reply; the
    second, a reset (a close with bytes unread), losing even that."""
    shutdown_delivers(exe, b"s", (400, 3000))


def case_shutdown_late_command(exe):
    """A slow reader that sends a command while it reads (a heartbeat, a
    QUIT), once the server has handed the last of its replies to the
    kernel: it still gets every reply that was computed. The server closed
    as soon as its output buffer was empty with nothing unread, so the
    command drew a reset that dropped the replies the kernel still held
    (the client got 121 of 140, then ECONNRESET)."""
    def ping_near_the_end(slow, ran, got):
        if got == ran - 20:
            time.sleep(0.3)  # the server's output buffer empties into the kernel's
            slow.send(slow.cmd("PING"))

    shutdown_delivers(exe, b"c", (400,), ping_near_the_end)


def case_shutdown_never_reads(exe):
    """A client that never reads holds the shutdown for the grace period
    (--shutdown-grace-ms, here 500 ms) and no longer: the server then
    closes it and exits cleanly."""
    grace = 0.5
    srv = Server(exe, "valuetask", max_output=SLOW_READER_OUTPUT,
                 args=["--shutdown-grace-ms=%d" % (grace * 1000)])
    try:
        slow, _ = backed_up_client(srv, b"n" * 60000, 400)
        t0 = srv.terminate()
        srv.exited_clean()
        took = time.time() - t0
        slow.close()
        assert grace - 0.1 < took < grace + 1.5, "exited %.2f s after SIGTERM, grace %.1f s" % (took, grace)
    finally:
        srv.kill()


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


BAD_OPTIONS = ["--loops=abc", "--loops=0", "--loops=65", "--loops=2x", "--loops= 2", "--port=-1",
               "--port=65536", "--store-threads=0", "--max-output=", "--max-output=+5",
               "--pool-capacity=4294967296", "--shutdown-grace-ms=2147483648",
               "--cache-keys=99999999999999999999999", "--max-bulk=9223372036854775807",
               "--max-bulk=18446744073709551615", "--pool-capacity=3000000000", "--pool-capacity=16777153"]


def case_bad_options(exe):
    """A numeric option with anything but decimal digits, or out of its
    range, is refused: exit status 2 and the usage, before listening
    (strtoull alone took "abc" as 0, "-1" as its largest value and "2x"
    as 2)."""
    for opt in BAD_OPTIONS:
        p = subprocess.run([exe, "--mode=valuetask", "--port=0", opt], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        assert p.returncode == 2 and b"usage" in p.stderr.lower() and b"listening" not in p.stdout, \
            "%s: exit %d, stdout %r, stderr %r" % (opt, p.returncode, p.stdout[:200], p.stderr[:200])


TOO_LARGE = [["--cache-keys=9223372036854775809"], ["--prepopulate=9223372036854775809"],
             ["--store-keys=9223372036854775809"],
             ["--max-bulk=4611686018427387904", "--value-size=4611686018427387904"]]


def case_too_large(exe):
    """Sizes within an option's range that no memory holds: exit status 1
    and "out of memory", before listening, not a hang or a crash (a cache
    or store sized for over 2^63 keys spun at start, its bucket count
    doubled past 2^63 to 0, SIGTERM blocked; a --value-size malloc refused
    crashed prepopulate, which wrote to NULL). A sanitizer's malloc is told
    to answer NULL, as glibc's does, rather than abort."""
    env = dict(os.environ)
    for var in ("ASAN_OPTIONS", "TSAN_OPTIONS"):
        env[var] = env.get(var, "") + ":allocator_may_return_null=1"
    for opts in TOO_LARGE:
        p = subprocess.run([exe, "--mode=valuetask", "--port=0"] + opts, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10, env=env)
        assert p.returncode == 1 and b"out of memory" in p.stderr and b"listening" not in p.stdout, \
            "%s: exit %d, stdout %r, stderr %r" % (opts, p.returncode, p.stdout[:200], p.stderr[:200])


FD_LIMIT = 32  # the server's RLIMIT_NOFILE in case_fd_limit


def case_fd_limit(exe):
    """At its file-descriptor limit (accept4 fails with EMFILE) the server
    neither spins on its still-readable listener nor leaves clients hanging:
    a client over the limit gets an error and is closed, the server idles,
    and once some clients leave, new ones are served again."""
    srv = Server(exe, "valuetask", nofile=FD_LIMIT)
    clients = []
    try:
        for _ in range(FD_LIMIT + 16):  # more than the server can hold
            clients.append(srv.client())
        time.sleep(0.3)  # let the server take them (or fail to)
        t0 = cpu_seconds(srv.p.pid)
        time.sleep(1.0)
        used = cpu_seconds(srv.p.pid) - t0
        assert used < 0.3, "%.2f s of CPU in 1 s at the fd limit: spinning on accept" % used
        served, refused, texts = [], [], []
        for c in clients:
            c.s.settimeout(0.05)
            try:
                r = c.reply()  # an idle, accepted client gets nothing
            except socket.timeout:
                r = "waiting"
            except (Closed, OSError):
                r = None
            if r == "waiting":
                c.s.settimeout(5.0)
                try:
                    r = c.call("PING")
                except (Closed, OSError):
                    r = None
                if r == "PONG":
                    served.append(c)
                    continue
            refused.append(c)
            if r is not None:
                texts.append(r)
        assert served and refused, (len(served), len(refused))
        # Every client over the limit was told, none left hanging.
        assert len(texts) == len(refused), "%d of %d refused clients got no reply" % (
            len(refused) - len(texts), len(refused))
        assert all(is_err(t, "max number of clients") for t in texts), texts
        for c in served[:4]:  # some leave: room for new clients again
            c.close()
        deadline = time.time() + 5
        while True:
            try:
                c = srv.client()
                r = c.call("PING")
                c.close()
            except (Closed, OSError):
                r = None
            if r == "PONG" or time.time() > deadline:
                break
            time.sleep(0.05)
        assert r == "PONG", "no client served after others left: %r" % (r,)
        st = srv.stats()
        assert st["rejected"] >= len(refused), (st["rejected"], len(refused))
        for c in clients:
            c.close()
        srv.check_healthy("fd_limit")
        srv.stop_clean()
    finally:
        for c in clients:
            c.close()
        srv.kill()


def case_tiny_output(exe):
    """--max-output=1, the smallest bound it accepts: every reply pauses
    the reader, and a drained output buffer must resume it."""
    srv = Server(exe, "valuetask", max_output=1)
    try:
        c = srv.client()
        c.s.settimeout(3.0)
        for _ in range(3):
            assert c.call("PING") == "PONG"
        c.send(c.cmd("GET", key(1)) + c.cmd("PING"))
        assert c.reply() == b"xxx" and c.reply() == "PONG"
        c.close()
        srv.stop_clean()
    finally:
        srv.kill()


CASES = [case_basic, case_pipeline_order, case_write_around_order, case_malformed, case_error_framing,
         case_config_get, case_config_get_queued,
         case_oversized, case_disconnect_in_flight, case_cancel_prompt, case_allocs_counted,
         case_busy, case_never_reads]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--modes", default="valuetask,baseline,baseline-async")
    a = ap.parse_args()
    failed = 0
    for mode in a.modes.split(","):
        srv = Server(a.server, mode)
        if mode == a.modes.split(",")[0]:
            counter = srv.stats()["malloc_counter"]
            print("note: allocations counted by: %s" % counter, flush=True)
            if counter == "sanitizer-hooks":
                print("note: sanitizer build: the runtime owns malloc, so the interposing shim is "
                      "compiled out; allocs_counted checks the runtime's hooks instead (a realloc also "
                      "counts a free, allocations before main are not counted)", flush=True)
        try:
            for case in CASES:
                name = "%s/%s" % (mode, case.__name__[5:])
                try:
                    case(srv)
                    srv.check_healthy(name)
                    print("ok   %s" % name, flush=True)
                except Exception as e:  # noqa: BLE001 - report and go on
                    failed += 1
                    print("FAIL %s: %r" % (name, e), flush=True)
            name = "%s/shutdown" % mode
            try:
                case_shutdown(srv)
                print("ok   %s" % name, flush=True)
            except Exception as e:  # noqa: BLE001
                failed += 1
                print("FAIL %s: %r" % (name, e), flush=True)
        finally:
            srv.kill()
    for case in (case_bad_options, case_too_large, case_fd_limit, case_tiny_output, case_cancel_not_reading, case_quit_half_closed,
                 case_shutdown_slow_reader, case_shutdown_late_command,
                 case_shutdown_never_reads):  # each in a server of its own
        name = case.__name__[5:]
        try:
            case(a.server)
            print("ok   %s" % name, flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s: %r" % (name, e), flush=True)
    print("%s" % ("FAILED: %d" % failed if failed else "all passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
