#!/usr/bin/env bash
# Runs clientjs/test/live.test.js against a freshly built Ferry server on a
# free loopback port, then stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(mktemp -d)/ferry
go build -o "$bin" ./cmd/ferry
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$bin" --listen "127.0.0.1:$port" >"$bin.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$(dirname "$bin")"' EXIT
for _ in $(seq 50); do
  curl -fs -o /dev/null "http://127.0.0.1:$port/client.js" && break
  sleep 0.1
done
flags=()
node --experimental-websocket -e 0 2>/dev/null && flags+=(--experimental-websocket)
FERRY_URL="http://127.0.0.1:$port/echo" node "${flags[@]}" --test clientjs/test/live.test.js
