"""Flask for the load and memory scenarios, run by gunicorn (see external.ts).

BENCH_SLOW=sleep (default): /slow sleeps 2 s (time.sleep holds a sync worker, the classic pool
exhaustion); BENCH_SLOW=busy: /slow busy-loops 2 s. /store is an unbounded module-level dict,
/__bench/mem runs gc.collect() and reports the worker's RSS from /proc/self/status.
"""
import gc
import os
import time

from flask import Flask, jsonify, request

app = Flask(__name__)
SLOW = os.environ.get("BENCH_SLOW", "sleep")
store = {}  # intentionally unbounded: the leak


@app.get("/fast")
def fast():
    return jsonify(fast=True)


@app.get("/slow")
def slow():
    if SLOW == "busy":
        end = time.perf_counter() + 2.0
        spins = 0
        while time.perf_counter() < end:
            spins += 1
        return jsonify(slow=True, spins=spins)
    time.sleep(2)
    return jsonify(slow=True)


@app.get("/store")
def store_route():
    key = request.args.get("key", "")
    store[key] = key + ":" + "v" * 64
    return jsonify(entries=len(store))


@app.get("/__bench/mem")
def mem():
    gc.collect()
    rss = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    return jsonify(rss=rss, pid=os.getpid())
