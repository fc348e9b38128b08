"""The coordinator: cut epochs into work units, average the workers' changes, step, publish.

    python coordinator.py --local-workers 2   # everything on this machine: database, coordinator, 2 workers
    python coordinator.py --db postgresql://teacher:secret@class.example.org/ganns --units-per-step 8
    python coordinator.py --local             # no database at all: plain single-machine training
    python coordinator.py --status            # how the run is going (from any machine with the URL)

Kill it at any moment and start it again with the same command: it resumes
from the last published version. --reset starts over.
"""

import argparse
import csv
import html
import itertools
import logging
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import torch
import torchvision.utils

import ganns

log = logging.getLogger("ganns")

POLL_SECONDS = 1.0        # the longest wait between looks at the queue (a NOTIFY cuts it short)
WAIT_LOG_SECONDS = 60     # while waiting for changes, say what for this often
LOCKED_LOG_SECONDS = 60   # while a student keeps expired units locked, say who this often
FEW_STEPS = 20            # warn at the start of a run of fewer steps: the bench's classes drew faces after about 10
VACUUM_EVERY = 10         # steps between two VACUUMs of the blob tables
PAGE_REFRESH_SECONDS = 10 # out/index.html reloads itself this often while training


# ---------------------------------------------------------------------------
# The coordinator's loop and its step: the algorithm.
# ---------------------------------------------------------------------------

def coordinate(conn, url, args, run, models):
    """The coordinator's loop: queue epochs, step whenever enough changes are in, until done."""
    config, version, vacuuming = run["config"], run["version"], None
    last = ganns.recent_steps(conn, 1)
    images_so_far = last[0]["images"] if last else 0
    progress, stats = Progress(args, config, models, images_so_far, conn), None
    long_wait, locked_log = every(WAIT_LOG_SECONDS), every(LOCKED_LOG_SECONDS)
    while not (args.steps and version >= args.steps):
        if ganns.CTRL_C.is_set():  # a Ctrl-C that psycopg2 caught (see ganns.copy_expert)
            raise KeyboardInterrupt
        locked = ganns.reap_expired_leases(conn)
        if locked and locked_log():
            log.warning("units past their lease are kept locked by %s (a transaction left open?): skipped, tried "
                        "again every turn; README: stop a student", ", ".join(locked))
        oldest = version - args.max_staleness
        ganns.requeue_stale(conn, oldest)
        queue = ganns.queue_state(conn)
        if queue["pending"] == 0 and queue["epoch"] < args.epochs:
            units = ganns.epoch_units(config["dataset_size"], config["unit_size"], queue["epoch"] + 1, config["seed"])
            ganns.add_units(conn, units)
            log.info("epoch %d: queued %d units of %d images", queue["epoch"] + 1, len(units), config["unit_size"])
            continue
        # Partial synchronisation: step on the first N changes in, not on all of the
        # class's; the others wait for the next step. Past the last unit, step with fewer.
        ready = ganns.ready_changes(conn, oldest)
        nothing_left = queue["pending"] == 0 and queue["claimed"] == 0
        if len(ready) >= args.units_per_step or (ready and nothing_left):
            step_stats = take_step(conn, config, models, ready[:args.units_per_step], version + 1, queue["epoch"],
                                   images_so_far)
            if step_stats:  # else every change was refused: their units are back in the queue
                stats, version, images_so_far = step_stats, version + 1, step_stats["images"]
                vacuuming = vacuum_now_and_then(url, version, vacuuming)
                progress.report(stats)
            long_wait = every(WAIT_LOG_SECONDS)  # the next wait starts now
        elif nothing_left:
            break
        else:
            if long_wait():
                log_waiting(conn, len(ready), args.units_per_step, queue)
            ganns.wait_for_news(conn, POLL_SECONDS)
    if vacuuming:
        vacuuming.join()
    ganns.finish_run(conn)
    progress.finish(stats)
    log.info("run finished at step %d", version)


def announce(args, config):
    """Say at the start how long the run is: its units, images and steps (each step takes --units-per-step
    changes, every unit goes into one); warn when its epochs make too few steps to draw faces. (A --steps
    that stops it sooner was asked for.)"""
    per_epoch = math.ceil(config["dataset_size"] / config["unit_size"])
    steps = math.ceil(args.epochs * per_epoch / args.units_per_step)
    log.info("this run: %d epochs of %d units of %d images, %s images, in %d steps of %d units%s", args.epochs,
             per_epoch, config["unit_size"], f"{args.epochs * config['dataset_size']:,}", steps, args.units_per_step,
             f"; it stops at step {args.steps}" if 0 < args.steps < steps else "")
    if steps < FEW_STEPS:
        epochs = math.ceil(FEW_STEPS * args.units_per_step / per_epoch)
        log.warning("%d steps are too few to draw faces (the simulated classes of docs/local-steps.md drew them "
                    "after about 10): give --epochs %d or more for %d steps", steps, epochs, FEW_STEPS)


def take_step(conn, config, models, ready, step, epoch, images_so_far):
    """Average the ready changes that pass the checks, move the weights by the average, publish version
    `step`; None if none passed."""
    limit = ganns.change_limit(ganns.recent_norms(conn), models, config["local_steps"])
    norms = {}  # the changes taken: {change id: its length as sent}
    average, images = ganns.average_units(checked_changes(conn, models, ready, limit, norms))
    if not norms:
        return None
    ganns.apply_change(models, average)
    workers = {row["worker"] for row in ready if row["id"] in norms}
    stats = {"step": step, "epoch": epoch, "images": images_so_far + images, **average["metrics"],
             "workers": len(workers)}
    ganns.publish_step(conn, step, norms, ganns.weights_blob(models), stats)
    return stats


def checked_changes(conn, models, ready, limit, norms):
    """(change, images) for each ready row whose blob passes the checks, one at a time, no longer
    than `limit` (ganns.bound_change), its length as sent noted in `norms`. The others are refused."""
    for row in ready:
        try:
            part = ganns.load_blob(ganns.read_change(conn, row["id"]))
            ganns.check_change(part, models)
        except ValueError as error:
            log.warning("refused the change of unit %d from %s: %s; the unit goes back to the queue",
                        row["unit_id"], ganns.printable(row["worker"]), error)
            ganns.refuse_change(conn, row["id"])
            continue
        part, norm = ganns.bound_change(ganns.widen(part), limit)
        if norm > limit:
            log.warning("the change of unit %d from %s is %.3g long, more than %d times the recent changes' "
                        "median: scaled down to %.3g", row["unit_id"], ganns.printable(row["worker"]), norm,
                        ganns.MAX_CHANGE_RATIO, limit)
        norms[row["id"]] = norm
        yield part, row["images"]


def log_waiting(conn, ready, units_per_step, queue):
    """What a long wait is waiting for: changes, and workers to compute them."""
    states = [w["state"] for w in ganns.leaderboard(conn)]
    log.info("waiting for changes: %d of %d in, %d units being computed; workers %d active, %d idle%s",
             ready, units_per_step, queue["claimed"], states.count("active"), states.count("idle"),
             "" if "active" in states else " (start one: python worker.py --name NAME)")


def train_locally(args):
    """--local: the same steps on this machine alone, without a database."""
    dataset = ganns.open_dataset(args.data, args.max_images)
    config = ganns.run_config(args.feature_maps, dataset, args.max_images, args.unit_size, args.local_steps,
                              args.seed)
    device = ganns.pick_device()
    models = ganns.build_models(config, device)
    progress, stats = Progress(args, config, models, 0), None
    log.info("training locally on %s: %s images, feature maps %d, on %s",
             dataset.name, f"{len(dataset):,}", args.feature_maps, device)
    announce(args, config)
    for stats in steps_alone(args, config, dataset, models, device):
        progress.report(stats)
    progress.finish(stats)


def steps_alone(args, config, dataset, models, device="cpu"):
    """The distributed run's steps on one machine, each step's stats as it is taken: the same units,
    changes, limit, average and move, with a loop where the database would be. The i-th unit of every
    step goes to the same pretend worker, whose Adam keeps its state as a real worker's does."""
    step, images_so_far, optimizers, norms = 0, 0, {}, []

    def bounded_changes(units, limit):
        for i, unit in enumerate(units):
            if i not in optimizers:
                optimizers[i] = ganns.build_optimizers(models)
            part, norm = ganns.bound_change(ganns.unit_change(models, optimizers[i], dataset, unit, config,
                                                              device), limit)
            norms.append(norm)
            yield part, len(unit["indices"])

    units = (unit for epoch in range(1, args.epochs + 1)
             for unit in ganns.epoch_units(len(dataset), config["unit_size"], epoch, config["seed"]))
    while not (args.steps and step >= args.steps):
        taken = list(itertools.islice(units, args.units_per_step))  # the next N, as the coordinator takes them
        if not taken:
            return
        limit = ganns.change_limit(norms[-ganns.RECENT_CHANGES:], models, config["local_steps"])
        average, images = ganns.average_units(bounded_changes(taken, limit))
        ganns.apply_change(models, average)
        step, images_so_far = step + 1, images_so_far + images
        yield {"step": step, "epoch": taken[-1]["epoch"], "images": images_so_far, **average["metrics"], "workers": 1}


# ---------------------------------------------------------------------------
# Plumbing: starting and resuming, local workers, keeping the database tidy.
# ---------------------------------------------------------------------------

def start_or_resume(conn, args):
    """The run in the database, resumed; or a new one if there is none or --reset was given."""
    dataset = ganns.open_dataset(args.data, args.max_images)
    config = ganns.run_config(args.feature_maps, dataset, args.max_images, args.unit_size, args.local_steps,
                              args.seed)
    models = ganns.build_models(config)
    run = ganns.read_run(conn)
    if run and not args.reset:
        if run["config"] != config:
            described = ", ".join(f"{name} {run['config'].get(name)} (you gave {config[name]})" if name in config
                                  else f"other code in {name}" for name in ganns.differences(run["config"], config))
            raise SystemExit(f"the database holds a run with {described}: start with the same options "
                             f"to resume it, or add --reset to start a new run")
        # The weights as published: their convolutions' float16 rounding (ganns.weights_blob) comes
        # with them, at each resume. (The checkpoints in --out are exact.)
        state = ganns.from_blob(ganns.read_weights(conn, run["version"]))
        for model, key in zip(models, ganns.MODELS):
            model.load_state_dict(state[key])
        log.info("resuming run %d at version %d", run["id"], run["version"])
    else:
        run = ganns.start_run(conn, config, ganns.weights_blob(models), ganns.max_change_bytes(models))
        log.info("started run %d on %s: %s images, feature maps %d",
                 run["id"], dataset.name, f"{len(dataset):,}", args.feature_maps)
        set_aside_old_files(args.out)
    ganns.set_target(conn, args.epochs, args.steps, args.max_staleness)  # for --status's ETA, and workers
    return ganns.read_run(conn), models


def set_aside_old_files(out):
    """A new run starts with an empty out/: the last run's grids would mix into its page and its export."""
    if out.is_dir() and any(out.iterdir()):
        old = out.with_name(f"{out.name}-before-{time.strftime('%Y%m%d-%H%M%S')}")
        out.rename(old)
        log.info("moved the previous run's files from %s to %s", out, old)


def connect(url, patient=False):
    """The coordinator's connection, on which no wait for a lock or a statement lasts without bound."""
    conn = ganns.connect(url, "coordinator", patient)
    ganns.bound_waits(conn)
    return conn


def vacuum_now_and_then(url, step, thread):
    """Every VACUUM_EVERY steps, VACUUM the blob tables (ganns.VACUUM says why), in a thread and on
    a connection of their own: it can wait on the disk for seconds while workers upload, and the
    steps go on meanwhile. A turn is skipped while the last is still busy. Returns the thread."""
    if step % VACUUM_EVERY or (thread and thread.is_alive()):
        return thread
    thread = threading.Thread(target=vacuum, args=(url, step), daemon=True)
    thread.start()
    return thread


def vacuum(url, step):
    try:
        conn = ganns.connect(url, "housekeeping")
        try:
            ganns.vacuum(conn)
        finally:
            conn.close()
    except (psycopg2.Error, SystemExit) as error:  # (connect() says SystemExit)
        if threading.main_thread().is_alive():  # not when the coordinator exits and the local database with it
            log.warning("could not VACUUM at step %d (%s): a later turn tries again", step, ganns.first_line(error))


def start_local_workers(url, count):
    """Worker processes on this machine, sharing its cores; the URL goes by environment, not argv (ps shows argv)."""
    threads = max(1, (os.cpu_count() or 2) // count)
    env = {**os.environ, "DATABASE_URL": url}
    worker = Path(__file__).resolve().with_name("worker.py")
    return [subprocess.Popen([sys.executable, str(worker), "--name", f"local-{i + 1}", "--threads", str(threads)],
                             env=env) for i in range(count)]


def stop_local_workers(workers):
    """Wait for the workers: they exit by themselves once the run is finished or they got a SIGINT
    (which they take once: one still running after 30 s is killed)."""
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def every(seconds):
    """A function that answers True at most once per `seconds`: a log line every few seconds, however
    fast or slow what it reports on."""
    last = time.monotonic()

    def due():
        nonlocal last
        if time.monotonic() - last < seconds:
            return False
        last = time.monotonic()
        return True
    return due


# ---------------------------------------------------------------------------
# What the class sees: the step's log line, --status, and out/ (samples, the
# checkpoint, history.csv and the live page).
# ---------------------------------------------------------------------------

class Progress:
    """The step's log line and the live page; every --sample-every steps, the other files in out/."""

    def __init__(self, args, config, models, images_so_far, conn=None):
        self.args, self.config, self.models, self.conn = args, config, models, conn
        # A resumed run's curves start where it was: history.csv has every --sample-every'th step before.
        # (Only rows up to the images done so far: after --reset, the old run's rows are left out.)
        self.history = [row for row in read_history(args.out / "history.csv") if row["images"] <= images_so_far]
        self.recent = [{"images": images_so_far, "time": time.time()}]  # this start, and the steps since
        self.noise = torch.randn(64, config["latent_dim"], 1, 1, generator=torch.Generator().manual_seed(config["seed"]))

    def report(self, stats):
        args, size = self.args, self.config["dataset_size"]
        self.history.append({**stats, "time": time.time()})
        self.recent = self.recent[-19:] + self.history[-1:]
        rate = pace(self.recent)
        log.info("step %d | epoch %.2f | %s images | %s | workers %d | %.1f images/s | ETA %s", stats["step"],
                 stats["images"] / size, f"{stats['images']:,}", ganns.metrics_text(stats), stats["workers"], rate,
                 eta(stats["images"], stats["step"], rate, size, args.epochs, args.steps))
        if stats["step"] % args.sample_every == 0:
            self.save(stats, rate)
        self.write_page(stats)

    def save(self, stats, rate):
        """A sample grid, the checkpoint and a row of history.csv; a full disk costs a warning, not the run."""
        out = self.args.out
        try:
            save_samples(self.models[0], self.noise.to(next(self.models[0].parameters()).device),
                         out / "samples" / f"step_{stats['step']:06d}.png")
            save_checkpoint(out / "checkpoint_latest.pth", self.models, self.config, stats)
            append_history(out / "history.csv", {**stats, "images_per_s": round(rate, 2),
                                                 "time": time.strftime("%Y-%m-%d %H:%M:%S")})
        except (OSError, RuntimeError) as error:  # (torch.save reports a failed write as a RuntimeError)
            # The database keeps the run: the files can be written at a later step.
            log.warning("could not write step %d's files to %s (%s): training goes on; free some space or "
                        "restart with another --out", stats["step"], out, error)

    def finish(self, stats):
        """The last step's files, unless report() just wrote them."""
        if stats and stats["step"] % self.args.sample_every:
            self.save(stats, pace(self.recent))
        if stats:
            self.write_page(stats, finished=True)

    def write_page(self, stats, finished=False):
        lines = status_lines(self.conn) if self.conn else [f"step {stats['step']:,} | {stats['images']:,} images "
                                                           f"| trained on this machine alone (--local)"]
        try:
            write_atomically(self.args.out / "index.html", render_page(self.args.out, stats, self.history, lines,
                                                                       finished))
        except OSError as error:  # a full disk: the page can wait, the training cannot
            log.warning("could not write %s (%s): training goes on", self.args.out / "index.html", error)


def save_samples(generator, noise, path):
    """A grid drawn from fixed noise, in eval mode (BatchNorm's running statistics), as users will."""
    generator.eval()
    with torch.no_grad():
        images = generator(noise)
    generator.train()
    path.parent.mkdir(parents=True, exist_ok=True)
    torchvision.utils.save_image(images, path, nrow=8, normalize=True, value_range=(-1, 1))


def save_checkpoint(path, models, config, stats):
    """The model card's format (generator_state_dict, ...), with the step's numbers and the run's configuration."""
    checkpoint = {"generator_state_dict": models[0].state_dict(), "discriminator_state_dict": models[1].state_dict(),
                  "step": stats["step"], "stats": stats, "config": config}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)  # never a half-written checkpoint, even if killed


def append_history(path, row):
    new_file = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new_file:
            writer.writeheader()
        writer.writerow(row)


def read_history(path):
    """history.csv as numbers, its "time" as seconds since 1970."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{**{key: float(value) for key, value in row.items() if key != "time"},
                 "time": time.mktime(time.strptime(row["time"], "%Y-%m-%d %H:%M:%S"))} for row in csv.DictReader(f)]


def pace(steps):
    """Images a second from the first of `steps` to the last (dicts with "images" and "time"); 0 for one."""
    first, last = steps[0], steps[-1]
    return (last["images"] - first["images"]) / (last["time"] - first["time"]) if last["time"] > first["time"] else 0


def eta(images, step, rate, dataset_size, epochs, steps):
    """Time left at `rate` images a second until the nearer of the two targets (--epochs, and --steps
    at the images per step so far), as h:mm:ss; '?' before there is a rate."""
    left = epochs * dataset_size - images
    if steps:
        left = min(left, (steps - step) * images / max(step, 1))
    if rate <= 0:
        return "?"
    seconds = round(max(left, 0) / rate)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def speed(images_per_s):
    """A worker's images/s; "?" before its first unit, or where the leaderboard view found none it could trust."""
    return "?" if images_per_s is None else f"{images_per_s:.1f}"


def ago(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.0f} h ago"


def status_lines(conn):
    """The run at a glance, as --status prints it and the live page shows it: what it trains, how far
    it got, and the leaderboard (schema.sql's view, which bounds what each worker wrote)."""
    run = ganns.read_run(conn)
    if run is None:
        return ["no run in this database yet: the instructor starts one with python coordinator.py"]
    config, recent, size = run["config"], ganns.recent_steps(conn), run["config"]["dataset_size"]
    lines = [f"run {run['id']}: {run['status']}, {config['dataset']} ({size:,} images), feature maps "
             f"{config['feature_maps']}, units of {config['unit_size']} images in {config['local_steps']} local "
             f"steps, started {run['started_at']:%Y-%m-%d %H:%M}"]
    if recent:
        last, rate = recent[0], pace([{"images": s["images"], "time": s["at"]} for s in reversed(recent)])
        left = "done" if run["status"] == "finished" else eta(last["images"], last["step"], rate, size,
                                                              run["target_epochs"], run["target_steps"])
        lines += [f"step {last['step']:,} | epoch {last['images'] / size:.2f} of {run['target_epochs']} | "
                  f"{last['images']:,} images | {rate:.1f} images/s | ETA {left} | last step {ago(last['ago'])}",
                  ganns.metrics_text(last)]
    else:
        lines.append("no step yet")
    workers = ganns.leaderboard(conn)
    states = [w["state"] for w in workers]
    lines.append(f"workers: {states.count('active')} active, {states.count('idle')} idle, {states.count('gone')} gone")
    rows = [COLUMNS] + [(str(rank), ganns.printable(w["name"]), w["state"], f"{w['units']:,}",
                         f"{w['units_refused']:,}", f"{w['images']:,}", speed(w["images_per_s"]), ago(w["seen_ago"]),
                         ganns.printable(w["machine"])) for rank, w in enumerate(workers, 1)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines += ["  ".join(cell.rjust(width) if name in NUMBERS else cell.ljust(width)  # numbers to the right
                        for name, cell, width in zip(COLUMNS, row, widths)).rstrip() for row in rows] if workers else []
    if workers and workers[0]["total"] > len(workers):
        lines.append(f"and {workers[0]['total'] - len(workers)} more workers, not shown")
    return lines


COLUMNS = ("#", "name", "state", "units", "refused", "images", "images/s", "last seen", "machine")
NUMBERS = ("#", "units", "refused", "images", "images/s")


# The live page, out/index.html: plain HTML and inline SVG, nothing to install
# or download, so it opens from a shared folder or a projector's laptop.
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">{refresh}
<title>Step {step} - GANNs with friends</title><style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:auto;padding:0 16px;color:#222}}
img{{width:100%;max-width:520px}} figure{{display:inline-block;margin:4px}} svg{{width:460px;max-width:100%}}
</style></head><body>
<h1>GANNs with friends: {state}</h1>
<h2>Latest samples</h2>{latest}
<h2>Curves</h2>{charts}
<h2>The run</h2><pre>{status}</pre>
</body></html>
"""


def render_page(out, stats, history, lines, finished):
    """The whole page. Sample grids are linked by name, never opened: writing it stays cheap."""
    samples = sorted(p.name for p in (out / "samples").glob("step_*.png"))
    latest = (f'<img src="samples/{samples[-1]}" alt="samples"><p>drawn at step {int(samples[-1][5:-4])} from the '
              f'same noise as every grid in samples/</p>' if samples else "<p>No samples yet.</p>")
    return PAGE.format(refresh="" if finished else f'<meta http-equiv="refresh" content="{PAGE_REFRESH_SECONDS}">',
                       step=stats["step"], state="finished" if finished else "training", latest=latest,
                       charts=charts(history), status=html.escape("\n".join(lines)))


def charts(history):
    """The losses and D's verdicts from at most 300 points of the history, however long the run; the
    legends hold the latest values."""
    points = ganns.evenly_spaced(history, 300)
    if len(points) < 2:
        return "<p>The curves appear after the second step.</p>"
    last = points[-1]
    curves = [("Losses", [("loss_d", "#c0392b"), ("loss_g", "#2f6fb5")], None),
              ("D's verdicts", [("d_real", "#27864a"), ("d_fake", "#d68910")], 1.0)]
    return "".join(svg_chart(title, [p["step"] for p in points],
                             [(f"{ganns.METRICS[key]} {last[key]:.3f}", [p[key] for p in points], colour)
                              for key, colour in lines], high=high) for title, lines, high in curves)


def svg_chart(title, steps, series, low=0.0, high=None):
    """A line chart in inline SVG: the step along x, one line per (label, values, colour)."""
    width, height = 460, 150
    high = max([v for _, values, _ in series for v in values] + [low + 1e-6]) if high is None else high

    def point(step, value):
        x = 40 + (step - steps[0]) / max(steps[-1] - steps[0], 1) * (width - 48)
        return f"{x:.1f},{6 + (1 - (value - low) / max(high - low, 1e-9)) * (height - 24):.1f}"
    lines = "".join(f'<polyline fill="none" stroke="{colour}" points="{" ".join(map(point, steps, values))}"/>'
                    for _, values, colour in series)
    legend = ", ".join(f'<span style="color:{colour}">{label}</span>' for label, _, colour in series)
    return (f'<figure><figcaption>{title}: {legend}</figcaption><svg viewBox="0 0 {width} {height}" font-size="10">'
            f'<path d="M40 6V{height - 18}H{width - 8}" fill="none" stroke="#999"/>'
            f'<text x="36" y="12" text-anchor="end">{high:.3g}</text>'
            f'<text x="36" y="{height - 18}" text-anchor="end">{low:.3g}</text>'
            f'<text x="40" y="{height - 4}">step {steps[0]:.0f}</text>'
            f'<text x="{width - 8}" y="{height - 4}" text-anchor="end">{steps[-1]:.0f}</text>{lines}</svg></figure>')


def write_atomically(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(text, encoding="utf-8")
    os.replace(path.with_suffix(".tmp"), path)  # a browser reloading it never sees half a page


# ---------------------------------------------------------------------------
# The command line.
# ---------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=ganns.HelpWithDefaults)
    natural, positive = ganns.whole_number(0), ganns.whole_number(1)  # nonsense gets one line, not a traceback
    parser.add_argument("--db", metavar="URL",
                        help="PostgreSQL URL; if not given: $DATABASE_URL, else the local database in ./pgdata")
    parser.add_argument("--local", action="store_true", help="train on this machine alone, no database")
    parser.add_argument("--local-workers", type=natural, default=0, metavar="K", help="also start K workers here")
    parser.add_argument("--reset", action="store_true", help="start a new run, discarding the one in the database")
    parser.add_argument("--data", metavar="PATH", default=ganns.BUILTIN_DATASET,
                        help="the built-in dataset, CelebA's img_align_celeba.zip, or a folder of images")
    parser.add_argument("--max-images", metavar="N", type=natural, default=0,
                        help="use only the first N images (0: all)")
    parser.add_argument("--feature-maps", metavar="N", type=ganns.whole_number(1, 1024), default=ganns.FEATURE_MAPS,
                        help="width of both networks (smaller trains faster and worse)")
    parser.add_argument("--local-steps", type=positive, default=ganns.LOCAL_STEPS, metavar="H",
                        help="Adam steps each worker takes on its own per unit, sending the change of weights")
    parser.add_argument("--unit-size", metavar="N", type=positive, default=ganns.UNIT_SIZE,
                        help="images per work unit, shared evenly among its local steps")
    parser.add_argument("--units-per-step", metavar="N", type=positive, default=ganns.UNITS_PER_STEP,
                        help="changes averaged in each step (the first this many in; the rest wait for the next)")
    parser.add_argument("--max-staleness", metavar="N", type=natural, default=ganns.MAX_STALENESS,
                        help="use changes computed on weights up to this many versions old")
    parser.add_argument("--epochs", metavar="N", type=positive, default=ganns.EPOCHS,
                        help="stop after this many epochs")
    parser.add_argument("--steps", metavar="N", type=natural, default=0,
                        help="stop after this many steps (0: no limit)")
    parser.add_argument("--sample-every", metavar="N", type=positive, default=1,
                        help="steps between sample grids, checkpoints and history rows")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("out"),
                        help="folder for samples and checkpoints")
    # Below 2**31: the units' noise seeds, (seed * 1000 + epoch) * 1,000,000 + position, must fit a BIGINT.
    parser.add_argument("--seed", metavar="N", type=ganns.whole_number(0, 2**31 - 1), default=ganns.SEED,
                        help="seeds the model, the shuffles and the noise")
    parser.add_argument("--status", action="store_true", help="print how the run in the database is going, and exit")
    args = parser.parse_args(argv)
    if args.unit_size < args.local_steps:
        parser.error(f"--unit-size {args.unit_size} is smaller than --local-steps {args.local_steps}: "
                     f"each local step needs at least one image")
    return args


def main(argv=None):
    args = parse_args(argv)
    ganns.setup_logging("coordinator")
    ganns.stop_on_ctrl_c_and_kill()
    if args.local:
        return train_locally(args)
    url = ganns.database_url(args.db)
    if args.status:
        return print("\n".join(status_lines(ganns.connect(url, "status"))))
    # A step is a few passes over the weights (average, move, save): one thread does it
    # about as fast, and leaves the other cores to the workers on this machine.
    torch.set_num_threads(1)
    conn = connect(url)
    log.info("coordinator connected to %s", ganns.describe_url(url))
    workers, lock = [], None
    try:
        while True:
            try:
                if args.reset:
                    ganns.drop_old_tables(conn)
                ganns.check_schema(conn)
                ganns.create_schema(conn)  # re-runnable, so harmless if another coordinator runs: the lock says
                lock = lock or ganns.lock_coordinator(url)
                ganns.execute(conn, ganns.LISTEN_CHANGES)
                run, models = start_or_resume(conn, args)
                announce(args, run["config"])
                args.reset = False  # once: after a reconnect, resume what is in the database
                if args.local_workers and not workers:
                    workers = start_local_workers(url, args.local_workers)
                return coordinate(conn, url, args, run, models)
            except psycopg2.errors.LockNotAvailable:  # (an OperationalError too, so caught first)
                # schema.sql's or --reset's DDL waited its lock_timeout for a session using the tables.
                log.warning("waited %s for the tables, which %s kept locked (a transaction left open, or a slow "
                            "upload): trying again; README: stop a student",
                            ganns.LOCK_TIMEOUT, ganns.lock_holders(conn))
            except ganns.CONNECTION_LOST as error:
                # Resume from the database: a step whose transaction did not commit never happened.
                log.warning("lost the database (%s): reconnecting", ganns.first_line(error))
                conn = connect(url, patient=True)
                if lock:  # it may have lost it too: take it again
                    lock.close()
                    lock = None
    except KeyboardInterrupt:
        log.info("stopped; start again with the same command to resume at the last version")
        for worker in workers:  # a `kill` reaches only this process: pass it on
            worker.send_signal(signal.SIGINT)
    finally:
        stop_local_workers(workers)


if __name__ == "__main__":
    main()
