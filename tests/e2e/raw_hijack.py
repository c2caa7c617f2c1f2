#!/usr/bin/env python3
"""tests/e2e/raw_hijack.py SOCKET IMAGE LABEL [TOKEN]: attach and exec start
the way older clients and raw API users do, with no Upgrade header, against a
real dockerd (or podman) through SOCKET. The daemon answers "200 OK" with a
raw-stream type and hijacks the connection; what we then write goes to `cat`
in a container and must come back exactly: a line that looks like a request
head (a proxy that parsed it would inject its token, and cat would echo it)
and keystrokes without a newline (a proxy that parsed them would hold them).
TOKEN, when given, must never appear in anything read. Creates one container
labelled dmx.e2e.run=LABEL and removes it. Prints one line per stream; exits
non-zero with the reason on the first difference.
"""
import http.client
import json
import socket
import struct
import sys
import time

SOCK, IMAGE, LABEL = sys.argv[1], sys.argv[2], sys.argv[3]
TOKEN = (sys.argv[4] if len(sys.argv) > 4 else "").encode()
LINE = b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n"
TIMEOUT = 10


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker", timeout=30)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.unix_path)


def api(method, url, body=None):
    c = UnixConn(SOCK)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    c.request(method, url, body=json.dumps(body) if body is not None else None, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status not in (200, 201, 204):
        sys.exit(f"{method} {url}: {r.status} {data[:200]!r}")
    return json.loads(data) if data else None


def hijack(url, body=None):
    """POST url with no Connection/Upgrade headers; expect dockerd's 200 hijack.
    Nothing is written after the head before the answer: dockerd drops bytes
    its HTTP server buffered before the hijack."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(SOCK)
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"POST {url} HTTP/1.1\r\nHost: docker\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    s.sendall(head.encode() + b"\r\n" + payload)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"{url}: EOF before the response head: {buf!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200") or b"application/vnd.docker." not in head:
        sys.exit(f"{url}: not a 200 stream hijack: {head!r}")
    return s, rest


def echo(s, raw, data, what):
    """Write data; read stdout frames (8-byte stdcopy headers: no tty) until as
    many payload bytes came back; they must be data. Returns unread bytes."""
    s.sendall(data)
    out = b""
    deadline = time.monotonic() + TIMEOUT
    while True:
        while len(raw) >= 8:
            n = struct.unpack(">I", raw[4:8])[0]
            if len(raw) < 8 + n:
                break
            if raw[0] == 1:
                out += raw[8:8 + n]
            raw = raw[8 + n:]
        if TOKEN and TOKEN in out + raw:
            sys.exit(f"{what}: the token came back: {out + raw!r}")
        if len(out) >= len(data):
            break
        if time.monotonic() > deadline:
            sys.exit(f"{what}: no echo in {TIMEOUT}s, got {out!r}")
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"{what}: EOF, got {out!r}")
        raw += chunk
    if out != data:
        sys.exit(f"{what}: echo differs: got {out!r}, wrote {data!r}")
    return raw


def main():
    cid = api("POST", "/containers/create", {
        "Image": IMAGE, "Cmd": ["cat"], "OpenStdin": True, "AttachStdin": True,
        "AttachStdout": True, "AttachStderr": True, "Labels": {"dmx.e2e.run": LABEL},
        "HostConfig": {"NetworkMode": "none"}})["Id"]
    try:
        api("POST", f"/containers/{cid}/start")
        # exec first: podman ends the container's stdin (and so its cat)
        # when an attach closes.
        eid = api("POST", f"/containers/{cid}/exec",
                  {"Cmd": ["cat"], "AttachStdin": True, "AttachStdout": True})["Id"]
        s, raw = hijack(f"/exec/{eid}/start", {"Detach": False, "Tty": False})
        raw = echo(s, raw, LINE, "exec start")
        echo(s, raw, b"ls", "exec start keystrokes")
        s.close()
        print("exec start without Upgrade: stdin echoed exactly")
        s, raw = hijack(f"/containers/{cid}/attach?stream=1&stdin=1&stdout=1")
        raw = echo(s, raw, LINE, "attach")
        echo(s, raw, b"ls", "attach keystrokes")
        s.close()
        print("attach without Upgrade: stdin echoed exactly")
    finally:
        # podman 4.3 may answer 500 while the container exits (its stdin
        # closed with the attach): try again.
        for attempt in range(5):
            try:
                api("DELETE", f"/containers/{cid}?force=1")
                break
            except SystemExit:
                if attempt == 4:
                    raise
                time.sleep(0.5)


main()
