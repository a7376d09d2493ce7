#!/usr/bin/python3
"""One server process against three, on one PostgreSQL behind haproxy (config/haproxy.cfg):

  1. delivery latency POST /api/task -> `new_task` at N node WebSockets spread over the processes
     by haproxy (p50/p99 over every node and task);
  2. requests/s through haproxy (wrk) on GET /api/organization (root) and on the node flow (each
     node asks for its open results with the task included, with its own token);
  3. outbox growth and pruning: tasks are created at a steady rate for --outbox-seconds with
     event_retention_minutes: 1; the row count is sampled every 10 s (pruning runs once a minute).

    /usr/bin/python3 bench/scale/bench_scale.py [--vserver build/cli/vserver] [--nodes 100]
        [--tasks 30] [--wrk-seconds 10] [--outbox-seconds 600] [--processes 1,3]

Starts its own PostgreSQL on a free loopback port (scripts/lib/postgres.sh) and removes it again.
"""
import argparse
import importlib.util
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The raw WebSocket node client and helpers of the single-process benchmark, and the cluster of the
# scale-out test: one copy of each.
events = load("bench_events", "bench/events/bench_events.py")
scale = load("scale_out_test", "tests/scale/scale_out_test.py")


def wrk(url, seconds, token=None, lua=None):
    command = ["wrk", "-t2", "-c32", "-d%ds" % seconds, "--latency"]
    if token:
        command += ["-H", "Authorization: Bearer " + token]
    if lua:
        command += ["-s", lua]
    out = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60).stdout
    rate = next((line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
    p99 = next((line.split()[1] for line in out.splitlines() if line.strip().startswith("99%")), "?")
    non2xx = next((line.split()[-1] for line in out.splitlines() if "Non-2xx" in line), "0")
    return rate, p99, non2xx


def node_flow_lua(folder, nodes):
    """wrk script: each request is one node asking for its open results (with the task)."""
    path = os.path.join(folder, "node_flow.lua")
    with open(path, "w") as f:
        f.write("local nodes = {\n")
        for node_id, _, token in nodes:
            f.write('  {%d, "%s"},\n' % (node_id, token))
        f.write("}\nlocal i = 0\nrequest = function()\n  i = i %% #nodes + 1\n"
                "  local n = nodes[i]\n"
                "  return wrk.format('GET', '/api/result?state=open&include=task&node_id=' .. n[1], "
                "{['Authorization'] = 'Bearer ' .. n[2]})\nend\n")
    return path


def run(args, count, folder):
    retention = "  event_retention_minutes: 1\n  presence_timeout_seconds: 60\n"
    cluster = scale.Cluster(args, folder, count=count, extra=retention)
    result = {"processes": count}
    try:
        cluster.start_postgres()
        for i in range(count):
            cluster.start_server(i)
        for i in range(count):
            cluster.wait_server(i)
        cluster.start_haproxy()
        scale.wait_until(lambda: cluster.answers(cluster.front), 20, "haproxy")
        time.sleep(2.5)
        api = scale.Api(cluster.url())
        root_org, cid, orgs, nodes = scale.seed(api, args.nodes)

        # 1. latency
        loop = events.Loop()
        clients = events.connect(loop, cluster.front, [token for _, _, token in nodes])
        sent = {}
        received = []  # (task id, when), from every node
        for c in clients:
            c.heard = received
        loop.run(time.monotonic() + 1)
        for k in range(args.tasks):
            started = time.perf_counter()
            task_id = scale.post_task(api, cid, orgs, "bench-%d" % k)
            sent[task_id] = started
            loop.run(time.monotonic() + 0.3)
        loop.run(time.monotonic() + 3)
        delays = [(t - sent[task]) * 1000 for task, t in received if task in sent]
        expected = args.tasks * args.nodes
        result["latency"] = (statistics.median(delays), events.percentile(delays, 99), len(delays), expected)
        events.close_all(loop, clients)

        # 2. throughput
        result["organization"] = wrk(cluster.url() + "/api/organization", args.wrk_seconds, api.token)
        result["node_flow"] = wrk(cluster.url() + "/api/result", args.wrk_seconds, lua=node_flow_lua(folder, nodes))

        # 3. outbox growth and pruning (each task: one task_created and one new_task per node)
        samples = []
        stop = time.monotonic() + args.outbox_seconds
        made = 0
        next_sample = time.monotonic()
        while time.monotonic() < stop:
            scale.post_task(api, cid, orgs[:10], "outbox-%d" % made)
            made += 1
            if time.monotonic() >= next_sample:
                rows = int(cluster.sql("SELECT COUNT(*) FROM dq_outbox")[0][0])
                samples.append((int(args.outbox_seconds - (stop - time.monotonic())), made, rows))
                next_sample += 10
            time.sleep(0.2)
        result["outbox"] = samples
    finally:
        cluster.stop()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--vserver", default=os.path.join(ROOT, "build", "cli", "vserver"))
    parser.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--outbox-seconds", type=int, default=600)
    parser.add_argument("--processes", default="1,3")
    args = parser.parse_args()
    args.source = ROOT
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results = []
    for count in [int(n) for n in args.processes.split(",")]:
        folder = tempfile.mkdtemp(prefix="dq-bench-scale-")
        os.chmod(folder, 0o755)
        try:
            print("==> %d process(es), %d nodes" % (count, args.nodes), flush=True)
            results.append(run(args, count, folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print("processes | new_task p50 ms | p99 ms | received/expected | GET /organization req/s (p99) | "
          "node flow req/s (p99) | non-2xx")
    for r in results:
        p50, p99, got, expected = r["latency"]
        print("%9d | %15.1f | %6.1f | %8d/%-8d | %20s (%s) | %12s (%s) | %s/%s" % (
            r["processes"], p50, p99, got, expected, r["organization"][0], r["organization"][1],
            r["node_flow"][0], r["node_flow"][1], r["organization"][2], r["node_flow"][2]))
    for r in results:
        print("\noutbox rows, %d process(es), retention 1 minute (seconds, tasks made, rows):" % r["processes"])
        for seconds, made, rows in r["outbox"]:
            print("  %4d s  %5d tasks  %6d rows" % (seconds, made, rows))


if __name__ == "__main__":
    main()
    os._exit(0)
