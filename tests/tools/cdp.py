#!/usr/bin/env python3
"""cdp.py - drives a page in a real headless Chromium through the DevTools
protocol, with nothing but the standard library (a minimal WebSocket client).

    cdp.py CHROME URL SCRIPT.js

Starts CHROME headless on URL with a fresh profile (loopback only), waits
for the page to load, evaluates SCRIPT.js in it - an expression whose value
(a promise is awaited) is printed as JSON - and stops the browser. The
script runs as a user would act: it sets fields, dispatches events and
clicks; the page's own script does the rest under the page's CSP.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request


class WebSocket:
    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: " + head.decode(errors="replace"))

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("websocket closed")
            buf += chunk
        return buf

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return message.decode()


def main():
    chrome, url, script_path = sys.argv[1:4]
    script = open(script_path).read()
    profile = tempfile.mkdtemp(prefix="cdp-profile.")
    proc = subprocess.Popen([chrome, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update",
                             "--disable-sync", "--remote-debugging-address=127.0.0.1",
                             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.1)
        port = open(port_file).read().split()[0]
        page = None
        for _ in range(100):
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            page = next((p for p in pages if p.get("type") == "page"), None)
            if page:
                break
            time.sleep(0.1)
        ws = WebSocket(page["webSocketDebuggerUrl"])
        ws.send(json.dumps({"id": 100, "method": "Page.navigate", "params": {"url": url}}))
        while json.loads(ws.recv()).get("id") != 100:
            pass
        # the page is there when the document is the one asked for, loaded
        wait_load = ("new Promise(function(r){(function w(){if(document.URL===%s&&"
                     "document.readyState==='complete')r(1);else setTimeout(w,50);})();})" % json.dumps(url))
        result = None
        for i, expr in enumerate((wait_load, script), 1):
            ws.send(json.dumps({"id": i, "method": "Runtime.evaluate",
                                "params": {"expression": expr, "awaitPromise": True, "returnByValue": True}}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == i:
                    break
            if "exceptionDetails" in msg.get("result", {}):
                print(json.dumps({"exception": msg["result"]["exceptionDetails"]}))
                return 1
            result = msg["result"]["result"].get("value")
        print(json.dumps(result))
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
