"""The built snippet as a visitor's browser gets it: dist/snippet/ served over HTTP with a fake
/v1/collect, pages loaded in Debian's headless Chromium. Checks what the wasm-bindgen tests
cannot: the loader itself (stub, twice-included tag, opt-out before any download, GPC
removing what an earlier visit stored), the minified glue and the post-processed wasm
working together.

Usage: python3 check.py DIST_SNIPPET_DIR
"""

import html
import http.server
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

HERE = Path(__file__).parent
DIST = Path(sys.argv[1]).resolve()
ANSWER = {"profile": "tok-1", "tier": "ready", "segments": [],
          "variants": {"hero": {"html": "<h1>Ready hero</h1>"}}}
requests = []  # (method, path, content type, body)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        requests.append(("GET", self.path, None, None))
        name = self.path.split("?")[0].lstrip("/")
        path = (HERE / name) if name.endswith(".html") else (DIST / name)
        if not path.is_file():
            self.send_error(404)
            return
        types = {".js": "text/javascript", ".wasm": "application/wasm", ".html": "text/html"}
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("content-type", types[path.suffix])
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        requests.append(("POST", self.path, self.headers.get("content-type"), body))
        out = json.dumps(ANSWER).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def visit(server, page):
    url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
    dom = subprocess.run(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--virtual-time-budget=5000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60, check=True).stdout
    found = re.search(r'<pre id="result">([^<]*)</pre>', dom)
    assert found, f"{page}: no result in\n{dom}"
    return json.loads(html.unescape(found.group(1)))


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    seen = visit(server, "tracked.html")
    posts = [r for r in requests if r[0] == "POST"]
    assert posts, f"nothing sent: {requests}"
    assert all(r[1] == "/v1/collect" for r in posts), posts
    assert all(r[2].startswith("text/plain") for r in posts), "no CORS preflight: text/plain"
    first = json.loads(posts[0][3])
    kinds = [e["type"] for b in posts for e in json.loads(b[3])["events"]]
    assert kinds.count("pageview") == 1, f"the tag twice, one page view: {kinds}"
    assert first["site"] == "demo" and first["profile"] is None, first
    assert first["events"][1] == {"type": "event", "name": "before_tag", "props": {"plan": "pro"}}, first
    assert seen == {"tier": "ready", "hero": "<h1>Ready hero</h1>", "token": "tok-1", "replaced": True}, seen
    downloads = [r[1] for r in requests if r[1].startswith("/_intent/")]
    assert sorted(downloads) == ["/_intent/intent_snippet.js", "/_intent/intent_snippet_bg.wasm"], downloads
    print(f"loader: tracked page ok ({len(posts)} requests, events {kinds})")

    requests.clear()
    seen = visit(server, "opted-out.html")
    assert not [r for r in requests if r[0] == "POST"], requests
    assert not [r for r in requests if r[1].startswith("/_intent/")], "opted out: the tracker is not even fetched"
    assert seen["tier"] is None, seen
    print("loader: opted-out page ok (nothing fetched, nothing sent)")

    requests.clear()
    seen = visit(server, "gpc.html")
    assert not [r for r in requests if r[0] == "POST"], requests
    assert not [r for r in requests if r[1].startswith("/_intent/")], "GPC: the tracker is not even fetched"
    assert seen == {"tier": None, "token": None, "outbox": None, "own": "kept"}, \
        f"GPC removes the token and the outbox, and only them: {seen}"
    print("loader: GPC page ok (nothing fetched or sent; token and outbox removed)")


main()
