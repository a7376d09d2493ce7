#!/usr/bin/python3
"""Login timing: a wrong password for an existing user and any password for an unknown user must
take the same time (both run one bcrypt check at the configured cost), so that the answer time
does not tell which usernames exist. Starts a real server from the build tree, logs in ROUNDS times
each way, alternating, and prints the median and spread of both.

    bench/login/run.py [--build BUILD_DIR] [--rounds N] [--bcrypt-rounds N]
"""
import argparse, json, os, socket, statistics, subprocess, tempfile, time, urllib.error, urllib.request

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--build", default=os.path.join(root, "build"))
parser.add_argument("--rounds", type=int, default=20)
parser.add_argument("--bcrypt-rounds", type=int, default=12)
args = parser.parse_args()

vserver = os.path.join(args.build, "cli", "vserver")
work = tempfile.mkdtemp(prefix="dq-login.")
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
config = os.path.join(work, "login.yaml")
with open(config, "w") as f:
    f.write(f"""application:
  port: {port}
  uri: sqlite:///login.sqlite
  jwt_secret_key: bench
  bcrypt_rounds: {args.bcrypt_rounds}
  password_policy: {{max_failed_attempts: 1000000}}
  logging: {{level: WARNING, use_console: false}}
""")
ctx = ["--config", config, "--data-dir", work]


def login(username):
    body = json.dumps({"username": username, "password": "Wrong-guess1!"}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/token/user", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        urllib.request.urlopen(req, timeout=30)
    except urllib.error.HTTPError as e:
        assert e.code == 401, e.code
    return time.perf_counter() - started


subprocess.run([vserver, "start", *ctx], check=True, stdout=subprocess.DEVNULL)
try:
    login("root"), login("nobody")  # warm up
    known, unknown = [], []
    for _ in range(args.rounds):
        known.append(login("root"))
        unknown.append(login("nobody-" + str(len(unknown))))
    for name, times in (("existing user, wrong password", known), ("unknown user", unknown)):
        print(f"{name:32} median {statistics.median(times) * 1000:7.1f} ms, "
              f"min {min(times) * 1000:7.1f} ms, max {max(times) * 1000:7.1f} ms")
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"unknown / existing: {ratio:.2f}")
finally:
    subprocess.run([vserver, "stop", *ctx], stdout=subprocess.DEVNULL)
    subprocess.run(["rm", "-rf", work])
