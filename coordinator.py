"""The coordinator: cut epochs into work units, average the workers' changes, step, publish.

    python coordinator.py --local-workers 2   # everything on this machine: database, coordinator, 2 workers
    python coordinator.py --db postgresql://teacher:secret@class.example.org/ganns --units-per-step 8
    python coordinator.py --local             # no database at all: plain single-machine training
    python coordinator.py --status            # how the run is going (from any machine with the URL)
    python coordinator.py --export hub/       # checkpoint, samples, GIF and model card, ready to upload

Kill it at any moment and start it again with the same command: it resumes
from the last published version. --reset starts over.
"""

import argparse
import copy
import csv
import html
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import torch
import torchvision.utils
from PIL import Image

import ganns

log = logging.getLogger("ganns")

POLL_SECONDS = 1.0        # the longest wait between looks at the queue (a NOTIFY cuts it short)
WAIT_LOG_SECONDS = 10     # while waiting for results (changes or gradients), say what for this often
LOCKED_LOG_SECONDS = 60   # while a student keeps expired units locked, say who this often
PAGE_REFRESH_SECONDS = 10 # out/index.html reloads itself this often while training
SAMPLE_IMAGES = 2560      # --sample-every's default: a grid about every this many images (at least every step)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=ganns.HelpWithDefaults)
    natural, positive = ganns.whole_number(0), ganns.whole_number(1)  # nonsense gets one line, not a traceback
    parser.add_argument("--db", metavar="URL",
                        help="PostgreSQL URL; if not given: $DATABASE_URL, else the local database in ./pgdata")
    parser.add_argument("--local", action="store_true", help="train on this machine alone, no database")
    parser.add_argument("--local-workers", type=natural, default=0, metavar="K", help="also start K workers here")
    parser.add_argument("--reset", action="store_true", help="start a new run, discarding the one in the database")
    parser.add_argument("--data", default=ganns.BUILTIN_DATASET,
                        help="the built-in dataset, CelebA's img_align_celeba.zip, or a folder of images")
    parser.add_argument("--max-images", type=natural, default=0, help="use only the first N images (0: all)")
    parser.add_argument("--feature-maps", type=ganns.whole_number(1, 1024), default=ganns.FEATURE_MAPS,
                        help="width of both networks (smaller trains faster and worse)")
    parser.add_argument("--local-steps", type=positive, default=ganns.LOCAL_STEPS, metavar="H",
                        help="optimizer steps each worker takes on its own per unit, sending the change of weights "
                             "(1: it sends a gradient and the coordinator steps Adam)")
    parser.add_argument("--unit-size", type=positive,
                        help=f"images per work unit, split evenly among the local steps "
                             f"(default: {ganns.UNIT_SIZE}, or {ganns.BATCH_SIZE} with --local-steps 1)")
    parser.add_argument("--units-per-step", type=positive, default=ganns.UNITS_PER_STEP,
                        help="step once this many results are in (more, if more arrived meanwhile)")
    parser.add_argument("--outer-lr", type=ganns.non_negative, default=ganns.OUTER_LR, metavar="LR",
                        help="with local steps: move the weights by LR times the average change (1: the average)")
    parser.add_argument("--max-staleness", type=natural,
                        help=f"use results computed on weights up to this many versions old (default: "
                             f"{ganns.MAX_STALENESS}, or {ganns.MAX_GRADIENT_STALENESS} with --local-steps 1)")
    parser.add_argument("--lookahead", type=ganns.non_negative, default=ganns.LOOKAHEAD,
                        help="G learns against D moved this far ahead by its own gradient (0: both on the same D)")
    parser.add_argument("--gradient-dtype", choices=["bfloat16", "float32"], default=ganns.GRADIENT_DTYPE,
                        help="how workers send gradients: bfloat16 is half the bytes")
    parser.add_argument("--weights-dtype", choices=["float16", "float32"], default=ganns.WEIGHTS_DTYPE,
                        help="how workers fetch the weights: float16 is half the bytes")
    parser.add_argument("--epochs", type=positive, default=ganns.EPOCHS, help="stop after this many epochs")
    parser.add_argument("--steps", type=natural, default=0, help="stop after this many steps (0: no limit)")
    parser.add_argument("--sample-every", type=positive,
                        help=f"steps between sample grids, checkpoints and history rows (default: about every "
                             f"{SAMPLE_IMAGES} images, 1 step or more)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for samples and checkpoints")
    parser.add_argument("--ema", type=natural, default=0, metavar="IMAGES",
                        help="draw samples and checkpoints from a moving average of G's weights with this half-life "
                             "in images, steadier when the weights swing (0: G as trained)")
    # Below 2**31: the units' noise seeds, (seed * 1000 + epoch) * 1,000,000 + position, must fit a BIGINT.
    parser.add_argument("--seed", type=ganns.whole_number(0, 2**31 - 1), default=ganns.SEED,
                        help="seeds the model, the shuffles and the noise")
    parser.add_argument("--status", action="store_true", help="print how the run in the database is going, and exit")
    parser.add_argument("--export", type=Path, metavar="DIR",
                        help="write a model hub folder (checkpoint, samples, GIF, model card) from --out, and exit")
    args = parser.parse_args(argv)
    args.unit_size = args.unit_size or ganns.default_unit_size(args.local_steps)
    args.sample_every = args.sample_every or max(1, SAMPLE_IMAGES // (args.unit_size * args.units_per_step))
    if args.max_staleness is None:
        args.max_staleness = ganns.MAX_STALENESS if args.local_steps > 1 else ganns.MAX_GRADIENT_STALENESS
    if args.outer_lr == 0:
        parser.error("--outer-lr 0 would never move the weights: give a number above 0 (1: the average change)")
    if args.outer_lr != ganns.OUTER_LR and args.local_steps == 1:
        parser.error("--outer-lr moves the weights by the workers' changes; with --local-steps 1 the coordinator "
                     "steps Adam on gradients instead")
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
    if args.export:
        return export(args)
    url = ganns.database_url(args.db)
    if args.status:
        return show_status(ganns.connect(url, "status"))
    # A step is a few passes over the weights (average, Adam, save): one thread does it
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
                ganns.listen(conn, ganns.LISTEN_GRADIENTS)
                run, models, optimizers = start_or_resume(conn, args)
                args.reset = False  # once: after a reconnect, resume what is in the database
                if args.local_workers and not workers:
                    workers = start_local_workers(url, args.local_workers)
                return coordinate(conn, url, args, run, models, optimizers)
            except psycopg2.errors.LockNotAvailable:  # (an OperationalError too, so caught first)
                # schema.sql's or --reset's DDL waited its lock_timeout for a session using the tables.
                log.warning("waited %s for the tables, which %s kept locked (a transaction left open, or a slow "
                            "upload): trying again; README: ending a student's session",
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


# ---------------------------------------------------------------------------
# The coordinator's loop and its step: the algorithm.
# ---------------------------------------------------------------------------

def coordinate(conn, url, args, run, models, optimizers):
    """The coordinator's loop: queue epochs, step whenever enough gradients are in, until done."""
    config, version, housekeeping = run["config"], run["version"], Housekeeping(url)
    last = ganns.read_last_step(conn)
    images_so_far = last["images"] if last else 0
    progress, stats = Progress(args, config, models, optimizers, images_so_far, conn), None
    long_wait, locked_log = ganns.every(WAIT_LOG_SECONDS), ganns.every(LOCKED_LOG_SECONDS)
    while not (args.steps and version >= args.steps):
        if ganns.CTRL_C.is_set():  # a Ctrl-C that psycopg2 caught (see ganns.copy_expert)
            raise KeyboardInterrupt
        locked = ganns.reap_expired_leases(conn)
        if locked and locked_log():
            log.warning("units past their lease are kept locked by %s (a transaction left open?): skipped, tried "
                        "again every turn; README: ending a student's session", ", ".join(locked))
        oldest = version - args.max_staleness
        ganns.requeue_stale(conn, oldest)
        queue = ganns.queue_state(conn)
        if queue["pending"] == 0 and queue["epoch"] < args.epochs:
            started = time.monotonic()
            units = ganns.epoch_units(config["dataset_size"], config["unit_size"], queue["epoch"] + 1, config["seed"])
            ganns.add_units(conn, units)
            log.info("epoch %d: queued %d units of %d images in %.1f s", queue["epoch"] + 1, len(units),
                     config["unit_size"], time.monotonic() - started)
            continue
        # Partial synchronisation: step once N gradients are in, not all of the
        # class's. Any more that arrived meanwhile go in too rather than going
        # stale. Past the last epoch's last unit, step with fewer.
        ready = ganns.ready_gradients(conn, oldest)
        nothing_left = queue["pending"] == 0 and queue["claimed"] == 0
        if len(ready) >= args.units_per_step or (ready and nothing_left):
            step_stats = take_step(conn, models, optimizers, ready, version + 1, queue["epoch"], images_so_far)
            if step_stats:  # else every gradient was refused: their units are back in the queue
                stats, version, images_so_far = step_stats, version + 1, step_stats["images"]
                housekeeping.after_step(version, optimizers)
                progress.report(stats)
            long_wait = ganns.every(WAIT_LOG_SECONDS)  # the next wait starts now
        elif nothing_left:
            break
        else:
            if long_wait():
                log_waiting(conn, len(ready), args.units_per_step, queue)
            ganns.wait_for_news(conn, POLL_SECONDS)
    housekeeping.wait()
    ganns.finish_run(conn)
    progress.finish(stats)
    log.info("run finished at step %d", version)


def take_step(conn, models, optimizers, ready, step, epoch, images_so_far):
    """Average the ready gradients that pass the checks, step, publish version `step`; None if none passed."""
    config = ganns.read_run(conn)["config"]
    average, images, ready = average_good_gradients(conn, models, ready, getattr(torch, config["gradient_dtype"]))
    if not ready:
        return None
    ganns.outer_step(models, optimizers, average, config)
    stats = {"step": step, "epoch": epoch, "images": images_so_far + images, **average["metrics"],
             "workers": len({row["worker"] for row in ready})}
    weights = ganns.weights_blob(models, config["weights_dtype"])
    ganns.publish_step(conn, step, [row["id"] for row in ready], weights, stats)
    return stats


def average_good_gradients(conn, models, ready, dtype):
    """The average of the ready gradients that pass every check, its images, and their rows.

    Memory stays flat: blobs are read one at a time and summed as they come.
    The norm rule can judge a gradient only once every norm of the step is
    known, so in the rare step with an outlier the sum is thrown away and taken
    again without it: a second read, never a subtraction (taking a gradient a
    million times longer than the rest back out of a float sum would leave
    more rounding error than the rest are worth).
    """
    while ready:
        norms = {}
        average, images = ganns.average_units(checked_gradients(conn, models, ready, dtype, norms))
        outliers = ganns.norm_outliers(norms)
        for row in ready:
            if row["id"] in outliers:
                refuse(conn, row, f"its norm {norms[row['id']]:.3g} is more than {ganns.MAX_NORM_RATIO} times "
                                  f"off the median of the step's others")
        ready = [row for row in ready if row["id"] in norms and row["id"] not in outliers]
        if not outliers:
            return average, images, ready
    return None, 0, []


def checked_gradients(conn, models, ready, dtype, norms):
    """(gradient, images) for each ready row whose blob passes the checks, one at a time, noting
    its norm in `norms`; the others are refused on the way."""
    for row in ready:
        try:
            part = ganns.load_blob(ganns.read_gradient(conn, row["id"]))
            ganns.check_gradient(part, models, dtype)
        except ValueError as error:
            refuse(conn, row, str(error))
            continue
        norms[row["id"]] = ganns.gradient_norm(part)
        yield ganns.widen(part), row["images"]


def refuse(conn, row, reason):
    log.warning("refused the result of unit %d from %s: %s; the unit goes back to the queue",
                row["unit_id"], printable(row["worker"]), reason)
    ganns.refuse_gradient(conn, row["id"])


def log_waiting(conn, ready, units_per_step, queue):
    """What a long wait is waiting for: gradients, and workers to compute them."""
    states = [w["state"] for w in ganns.leaderboard(conn)]
    log.info("waiting for results: %d of %d in, %d units being computed; workers %d active, %d idle%s",
             ready, units_per_step, queue["claimed"], states.count("active"), states.count("idle"),
             "" if "active" in states else " (start one: python worker.py --name NAME)")


# ---------------------------------------------------------------------------
# Starting, resuming and keeping the database tidy.
# ---------------------------------------------------------------------------

def start_or_resume(conn, args):
    """The run in the database, resumed; or a new one if there is none or --reset was given."""
    dataset = ganns.open_dataset(args.data, args.max_images)
    config = ganns.run_config(args.feature_maps, dataset, args.max_images, args.unit_size, args.seed,
                              args.gradient_dtype, args.weights_dtype, args.lookahead, args.local_steps, args.outer_lr)
    models = ganns.build_models(config)
    optimizers = ganns.build_optimizers(models)
    run = ganns.read_run(conn)
    if run and not args.reset:
        if run["config"] != config:
            differences = ", ".join([f"{key} {run['config'].get(key)} (you gave {value})" for key, value in config.items()
                                     if key != "code" and run["config"].get(key) != value] +
                                    [f"other code in {name}" for name in ganns.code_differences(run["config"])])
            raise SystemExit(f"the database holds a run with {differences}: start with the same options "
                             f"to resume it, or add --reset to start a new run")
        # The weights as published: with --weights-dtype float16 the convolutions' weights move by
        # up to 0.05% here, at each resume (a reconnect too), against about 1% for an Adam step.
        # (The checkpoints in --out are exact.)
        state = ganns.from_blob(ganns.read_weights(conn, run["version"]))
        optimizer_state = ganns.from_blob(ganns.read_optimizer(conn))
        for model, opt, key in zip(models, optimizers, ganns.MODELS):
            model.load_state_dict(state[key])
            opt.load_state_dict(optimizer_state[key])
        ganns.resume_run(conn)
        log.info("resuming run %d at version %d", run["id"], run["version"])
    else:
        run = ganns.start_run(conn, config, ganns.weights_blob(models, config["weights_dtype"]),
                              ganns.optimizer_blob(optimizers))
        log.info("started run %d on %s: %s images, feature maps %d",
                 run["id"], dataset.name, f"{len(dataset):,}", args.feature_maps)
        set_aside_old_files(args.out)
    ganns.set_target(conn, args.epochs, args.steps, args.max_staleness)  # for --status's ETA, and workers
    return run, models, optimizers


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


class Housekeeping:
    """Every OPTIMIZER_EVERY steps: store Adam's state with the new version (to resume from), then
    VACUUM (to keep the database's size flat however long the run).

    Both can wait on the disk for seconds while workers upload (README: how a
    step works), so they run in a thread, on a connection of their own,
    and the steps go on meanwhile. If one is still busy at the next turn, that
    turn is skipped; if it fails, a later turn tries again.
    """

    def __init__(self, url):
        self.url, self.thread = url, None

    def after_step(self, step, optimizers):
        if step % ganns.OPTIMIZER_EVERY or (self.thread and self.thread.is_alive()):
            return
        blob = ganns.optimizer_blob(optimizers)  # this step's moments, before the next step changes them
        self.thread = threading.Thread(target=self.work, args=(step, blob), daemon=True)
        self.thread.start()

    def work(self, step, blob):
        try:
            conn = ganns.connect(self.url, "housekeeping")
            try:
                ganns.store_optimizer(conn, step, blob)
                ganns.vacuum(conn)
            finally:
                conn.close()
        except (psycopg2.Error, SystemExit) as error:  # (connect() says SystemExit)
            if threading.main_thread().is_alive():  # not when the coordinator exits and the local database with it
                log.warning("could not store Adam's state at step %d (%s): the next turn tries again",
                            step, ganns.first_line(error))

    def wait(self):
        if self.thread:
            self.thread.join()


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


# ---------------------------------------------------------------------------
# Local mode: the same step code with a loop where the database would be.
# ---------------------------------------------------------------------------

def train_locally(args):
    dataset = ganns.open_dataset(args.data, args.max_images)
    config = ganns.run_config(args.feature_maps, dataset, args.max_images, args.unit_size, args.seed,
                              lookahead=args.lookahead, local_steps=args.local_steps, outer_lr=args.outer_lr)
    device = ganns.pick_device()
    models = ganns.build_models(config, device)
    optimizers = ganns.build_optimizers(models)
    progress, stats = Progress(args, config, models, optimizers, 0), None
    log.info("training locally on %s: %s images, feature maps %d, on %s",
             dataset.name, f"{len(dataset):,}", args.feature_maps, device)
    for stats in steps_alone(args, config, dataset, models, optimizers, device):
        progress.report(stats)
    progress.finish(stats)


def steps_alone(args, config, dataset, models, optimizers, device="cpu"):
    """The distributed run's steps on one machine, each step's stats as it is taken: the same units,
    the same results, the same average and the same step, with a loop where the database would be.
    With local steps, the i-th unit of every step goes to the same pretend worker, whose Adam
    keeps its state from one of its units to the next, as a real worker's does."""
    step, images_so_far, workers = 0, 0, {}
    for epoch in range(1, args.epochs + 1):
        units = ganns.epoch_units(len(dataset), args.unit_size, epoch, args.seed)
        for start in range(0, len(units), args.units_per_step):
            if args.steps and step >= args.steps:
                return
            batch = units[start:start + args.units_per_step]
            parts = ((ganns.unit_result(models, workers.setdefault(i, ganns.build_optimizers(models)), dataset,
                                        unit, config, device=device), len(unit["indices"]))
                     for i, unit in enumerate(batch))
            average, images = ganns.average_units(parts)
            ganns.outer_step(models, optimizers, average, config)
            step, images_so_far = step + 1, images_so_far + images
            yield {"step": step, "epoch": epoch, "images": images_so_far, **average["metrics"], "workers": 1}


# ---------------------------------------------------------------------------
# What lands in out/: samples, checkpoints, history.
# ---------------------------------------------------------------------------

def save_samples(generator, noise, path):
    """A grid drawn from fixed noise, in eval mode (BatchNorm's running statistics), as users will."""
    generator.eval()
    with torch.no_grad():
        images = generator(noise)
    generator.train()
    path.parent.mkdir(parents=True, exist_ok=True)
    torchvision.utils.save_image(images, path, nrow=8, normalize=True, value_range=(-1, 1))


def save_checkpoint(path, models, optimizers, config, step, average=None):
    """The model card's format (generator_state_dict, ...) plus what resuming needs. With --ema the
    card's generator is the `average` the samples are drawn from; G as trained is kept beside it."""
    checkpoint = {"generator_state_dict": (models[0] if average is None else average).state_dict(),
                  "discriminator_state_dict": models[1].state_dict(),
                  "optimizer_g_state_dict": optimizers[0].state_dict(),
                  "optimizer_d_state_dict": optimizers[1].state_dict(),
                  "step": step, "config": config}
    if average is not None:
        checkpoint["generator_trained_state_dict"] = models[0].state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, path.with_suffix(".tmp"))
    os.replace(path.with_suffix(".tmp"), path)  # never a half-written checkpoint, even if killed


def move_average(average, generator, half_life, images, added):
    """--ema: move `average`, a moving average of `generator` (weights and BatchNorm statistics), past a
    step of `added` images, `images` in all. What is left of the old average halves every `half_life`
    images, or every quarter of the images so far if that is fewer, so the random start fades fast
    (Yazici et al., https://arxiv.org/abs/1806.04498; StyleGAN2-ADA ramps its average up the same way)."""
    keep = 0.5 ** (added / max(min(half_life, images / 4), 1))
    with torch.no_grad():
        for mine, theirs in zip(average.state_dict().values(), generator.state_dict().values()):
            if mine.is_floating_point():
                mine.lerp_(theirs.to(mine.device), 1 - keep)


def append_history(path, row):
    new_file = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new_file:
            writer.writeheader()
        writer.writerow(row)


def read_history(path):
    """history.csv as numbers, its "time" as seconds since 1970 (for the throughput curve)."""
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return [{**{key: float(value) for key, value in row.items() if key != "time"},
                 "time": time.mktime(time.strptime(row["time"], "%Y-%m-%d %H:%M:%S"))} for row in csv.DictReader(f)]


class Progress:
    """Rates, the ETA, the step's log line and the live page; every few steps, the other files in out/."""

    def __init__(self, args, config, models, optimizers, images_so_far, conn=None):
        self.args, self.config, self.models, self.optimizers = args, config, models, optimizers
        self.started, self.images_at_start, self.conn = time.monotonic(), images_so_far, conn
        # A resumed run's curves start where it was: history.csv has every --sample-every'th step before.
        # (Only rows up to the images done so far: after --reset, the old run's rows are left out.)
        self.history = [row for row in read_history(args.out / "history.csv") if row["images"] <= images_so_far]
        self.noise = torch.randn(64, config["latent_dim"], 1, 1, generator=torch.Generator().manual_seed(config["seed"]))
        self.images, self.average = images_so_far, copy.deepcopy(models[0]) if args.ema else None
        if self.average is not None and images_so_far:
            self.resume_average()

    def resume_average(self):
        """A resumed run's moving average from its last checkpoint (a few steps behind: it lags a little more)."""
        path = self.args.out / "checkpoint_latest.pth"
        try:
            checkpoint = torch.load(path, map_location=next(self.average.parameters()).device, weights_only=True)
            if checkpoint["config"] == self.config and "generator_trained_state_dict" in checkpoint:
                return self.average.load_state_dict(checkpoint["generator_state_dict"])
        except (OSError, RuntimeError, KeyError, TypeError) as error:
            log.debug("no moving average in %s: %s", path, error)
        log.info("--ema: %s holds no moving average of this run: it starts again from the weights", path)

    def report(self, stats):
        args, size = self.args, self.config["dataset_size"]
        rate = (stats["images"] - self.images_at_start) / max(time.monotonic() - self.started, 1e-9)
        remaining = args.epochs * size - stats["images"]
        if args.steps:
            remaining = min(remaining, (args.steps - stats["step"]) * args.units_per_step * self.config["unit_size"])
        eta = duration(max(remaining, 0) / rate) if rate > 0 else "?"
        log.info("step %d | epoch %.2f | %s images | %s | workers %d | %.1f images/s | ETA %s", stats["step"],
                 stats["images"] / size, f"{stats['images']:,}", ganns.metrics_text(stats), stats["workers"], rate, eta)
        self.rate, self.eta = rate, eta
        if self.average is not None:
            move_average(self.average, self.models[0], self.args.ema, stats["images"], stats["images"] - self.images)
        self.images = stats["images"]
        self.history.append({**stats, "time": time.time()})
        if stats["step"] % args.sample_every == 0:
            self.save(stats)
        self.write_page(stats)

    def save(self, stats):
        """A sample grid, the checkpoint and a row of history.csv; a full disk costs a warning, not the run."""
        out, generator = self.args.out, self.models[0] if self.average is None else self.average
        try:
            save_samples(generator, self.noise.to(next(generator.parameters()).device),
                         out / "samples" / f"step_{stats['step']:06d}.png")
            save_checkpoint(out / "checkpoint_latest.pth", self.models, self.optimizers, self.config, stats["step"],
                            self.average)
            append_history(out / "history.csv", {**stats, "images_per_s": round(self.rate, 2),
                                                 "time": time.strftime("%Y-%m-%d %H:%M:%S")})
        except (OSError, RuntimeError) as error:  # (torch.save reports a failed write as a RuntimeError)
            # The database keeps the run: the files can be written at a later step.
            log.warning("could not write step %d's files to %s (%s): training goes on; free some space or "
                        "restart with another --out", stats["step"], out, error)

    def finish(self, stats):
        """The last step's files, unless report() just wrote them."""
        if stats and stats["step"] % self.args.sample_every:
            self.save(stats)
        if stats:
            self.write_page(stats, finished=True)

    def write_page(self, stats, finished=False):
        workers = ganns.leaderboard(self.conn) if self.conn else None
        page = render_page(self.args, self.config, stats, self.history, self.rate, self.eta, workers, finished)
        try:
            write_atomically(self.args.out / "index.html", page)
        except OSError as error:  # a full disk: the page can wait, the training cannot
            log.warning("could not write %s (%s): training goes on", self.args.out / "index.html", error)


# ---------------------------------------------------------------------------
# The live page, out/index.html: plain HTML and inline SVG, nothing to install
# or download, so it opens from a shared folder or a projector's laptop.
# ---------------------------------------------------------------------------

def evenly_spaced(items, count):
    """At most `count` of `items`, spread from the first to the last (both kept)."""
    if len(items) <= count:
        return list(items)
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def ago(seconds):
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    return f"{seconds / 60:.0f} min ago" if seconds < 7200 else f"{seconds / 3600:.0f} h ago"


def duration(seconds):
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def progress_line(images, dataset_size, epochs, rate, eta):
    """'epoch 3 of 5, 45% done | 12,345 images | 56.7 images/s | ETA 0:12:34', for the page and --status."""
    done = images / dataset_size
    epoch = min(int(done) + 1, max(epochs, 1))
    return (f"epoch {epoch} of {epochs}, {min(done - epoch + 1, 1):.0%} done | {images:,} images | "
            f"{rate:.1f} images/s | ETA {eta}")


def machine(worker):
    """A worker's machine in a few words ("?" where the leaderboard view found nothing it could trust)."""
    if worker["gpu"]:
        memory = worker["gpu_memory_gb"]
        return f"{worker['gpu']} ({'?' if memory is None else f'{memory:.0f}'} GB)"
    return f"{worker['device']}, {worker['cpu_cores'] or '?'} cores"


def cluster_totals(workers):
    """What the active and idle workers bring. Each machine counts once: workers started
    together with --local-workers share a machine, and each reports all of it."""
    machines = list({w["machine"]: w for w in workers if w["state"] != "gone"}.values())
    gpus = [w for w in machines if w["gpu"]]
    gpu_memory = sum(w["gpu_memory_gb"] or 0 for w in gpus)
    gpu_text = f"{plural(len(gpus), 'GPU')} with {gpu_memory:.0f} GB" if gpus else "no GPU"
    return (f"{plural(len(machines), 'machine')}, {sum(w['cpu_cores'] or 0 for w in machines)} CPU cores, "
            f"{sum(w['ram_gb'] or 0 for w in machines):.0f} GB RAM, {gpu_text}")


COLUMNS = ("#", "name", "state", "units", "refused", "images", "images/s", "last seen", "machine")


def worker_rows(workers):
    """The leaderboard as rows of text (COLUMNS), for the page and for --status. Names and machines are
    the students' own words: printable() keeps control characters out of the instructor's terminal."""
    return [[str(rank), printable(w["name"]), w["state"], f"{w['units']:,}", f"{w['units_refused']:,}",
             f"{w['images']:,}", f"{w['images_per_s'] or 0:.1f}", ago(w["seen_ago"]), printable(machine(w))]
            for rank, w in enumerate(workers, 1)]


def more_workers(workers):
    """The leaderboard view shows the first 200 workers: say how many more there are."""
    hidden = workers[0]["total"] - len(workers) if workers else 0
    return f"and {plural(hidden, 'more worker')}, not shown" if hidden > 0 else ""


def plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">{refresh}
<title>Step {step} - GANNs with friends</title><style>
body{{font:15px/1.5 system-ui,sans-serif;max-width:1000px;margin:auto;padding:0 16px;color:#222}}
.latest{{width:100%;max-width:520px}} figure{{display:inline-block;margin:4px}} .strip img{{width:110px}}
svg{{width:460px;max-width:100%}} td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}}
</style></head><body>
<h1>GANNs with friends: {state}</h1>
<p>A DCGAN learning {dataset}: step {step:,} | {progress} | {active} active (updated {now})</p>
<h2>Latest samples</h2>{latest}
<h2>Curves</h2>{charts}
<h2>Earlier samples</h2><div class="strip">{strip}</div>
<h2>Leaderboard</h2>{leaderboard}
<h2>Configuration</h2><p>{settings}</p>
</body></html>
"""


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


def charts(history):
    """The curves from at most 300 points of the history, however long the run; the legends hold the latest
    values. The rate is taken over 40 points: between two neighbouring steps it only shows noise."""
    points, coarse = evenly_spaced(history, 300), evenly_spaced(history, 40)
    if len(points) < 2:
        return "<p>The curves appear after the second step.</p>"
    steps, last = [p["step"] for p in points], points[-1]
    curves = [("Losses", [(f"Loss_D {last['loss_d']:.3f}", "loss_d", "#c0392b"),
                          (f"Loss_G {last['loss_g']:.3f}", "loss_g", "#2f6fb5")], None),
              ("D's verdicts", [(f"D(x) {last['d_real']:.3f}", "d_real", "#27864a"),
                                (f"D(G(z)) {last['d_fake']:.3f}", "d_fake", "#d68910")], 1.0)]
    page = "".join(svg_chart(title, steps, [(label, [p[key] for p in points], colour) for label, key, colour in lines],
                             high=high) for title, lines, high in curves)
    rates = [(b["step"], (b["images"] - a["images"]) / (b["time"] - a["time"]))
             for a, b in zip(coarse, coarse[1:]) if b["time"] > a["time"]]
    if len(rates) >= 2:
        page += svg_chart("Images per second", [s for s, _ in rates], [("images/s", [r for _, r in rates], "#2f6fb5")])
    return page


def leaderboard_html(workers):
    if workers is None:
        return "<p>Trained on this machine alone (<code>coordinator.py --local</code>).</p>"
    if not workers:
        return "<p>No worker has joined yet: <code>python worker.py --name YOUR_NAME</code></p>"
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
                   for row in worker_rows(workers))
    header = "".join(f"<th>{name}</th>" for name in COLUMNS)
    return (f"<table><tr>{header}</tr>{rows}</table><p>{more_workers(workers)}</p>"
            f"<p>Together: {cluster_totals(workers)}.</p>")


def render_page(args, config, stats, history, rate, eta, workers, finished):
    """The whole page. Sample grids are linked by name, never opened: writing it stays cheap."""
    samples = sorted(p.name for p in (args.out / "samples").glob("step_*.png"))
    latest = (f'<img class="latest" src="samples/{samples[-1]}" alt="samples"><p>drawn at step '
              f'{int(samples[-1][5:-4])} from the same noise as every grid'
              f'{", by a moving average of G (--ema)" if args.ema else ""}</p>' if samples
              else f"<p>The first samples appear at step {args.sample_every}.</p>")
    strip = "".join(f'<figure><img src="samples/{name}" alt="{name}"><figcaption>step {int(name[5:-4])}</figcaption>'
                    f'</figure>' for name in evenly_spaced(samples[:-1], 8)) or "None yet."
    settings = {**{k: v for k, v in config.items() if k != "code"}, "units_per_step": args.units_per_step,
                "max_staleness": args.max_staleness, "epochs": args.epochs, "steps": args.steps or "no limit"}
    return PAGE.format(
        refresh="" if finished else f'<meta http-equiv="refresh" content="{PAGE_REFRESH_SECONDS}">',
        step=stats["step"], state="finished" if finished else "training", dataset=html.escape(config["dataset"]),
        progress=progress_line(stats["images"], config["dataset_size"], args.epochs, rate, "done" if finished else eta),
        active="1 worker" if workers is None else plural(sum(w["state"] == "active" for w in workers), "worker"),
        now=time.strftime("%H:%M:%S"), latest=latest, charts=charts(history), strip=strip,
        leaderboard=leaderboard_html(workers),
        settings=", ".join(f"{k} {html.escape(str(v))}" for k, v in sorted(settings.items())))


def write_atomically(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".tmp").write_text(text, encoding="utf-8")
    os.replace(path.with_suffix(".tmp"), path)  # a browser reloading it never sees half a page


# ---------------------------------------------------------------------------
# Watching and sharing the run: --status and --export.
# ---------------------------------------------------------------------------

def status_eta(run, target, recent):
    """Seconds left at the pace of the recent steps (the nearer of the epoch and step targets), or None."""
    if len(recent) < 2 or recent[0]["at"] <= recent[-1]["at"]:
        return None
    newest, oldest = recent[0], recent[-1]
    seconds = newest["at"] - oldest["at"]
    left = []
    if target["target_epochs"]:
        images_left = target["target_epochs"] * run["config"]["dataset_size"] - newest["images"]
        left.append(images_left * seconds / (newest["images"] - oldest["images"]))
    if target["target_steps"]:
        left.append((target["target_steps"] - newest["step"]) * seconds / (newest["step"] - oldest["step"]))
    return max(0, min(left)) if left else None


def printable(text):
    """A student's name without control characters, which could rewrite the instructor's terminal."""
    return "".join(c if c.isprintable() else "?" for c in text)


def show_status(conn):
    """coordinator.py --status: the run at a glance, from any machine with the database's URL."""
    run = ganns.read_run(conn)
    if run is None:
        print("no run in this database yet: the instructor starts one with python coordinator.py")
        return
    config, target, recent = run["config"], ganns.read_target(conn), ganns.recent_steps(conn)
    print(f"run {run['id']}: {run['status']}, {config['dataset']} ({config['dataset_size']:,} images), feature maps "
          f"{config['feature_maps']}, started {target['started_at']:%Y-%m-%d %H:%M}")
    if recent:
        last, eta = recent[0], status_eta(run, target, recent)
        rate = (last["images"] - recent[-1]["images"]) / max(last["at"] - recent[-1]["at"], 1e-9)
        eta = "done" if run["status"] == "finished" else duration(eta) if eta is not None else "?"
        progress = progress_line(last["images"], config["dataset_size"], target["target_epochs"], rate, eta)
        print(f"step {last['step']:,} | {progress} | last step {ago(last['ago'])}")
        print(ganns.metrics_text(last))
    else:
        print("no step yet")
    print_workers(ganns.leaderboard(conn))


def print_workers(workers):
    if not workers:
        print("workers: none has joined yet")
        return
    states = [w["state"] for w in workers]
    print(f"workers: {states.count('active')} active, {states.count('idle')} idle, {states.count('gone')} gone; "
          f"together {cluster_totals(workers)}\n")
    rows = [list(COLUMNS)] + worker_rows(workers)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:  # numbers to the right, words to the left
        print("  ".join(cell.rjust(width) if name in ("#", "units", "refused", "images", "images/s") else
                       cell.ljust(width) for name, cell, width in zip(COLUMNS, row, widths)).rstrip())
    if more_workers(workers):
        print(more_workers(workers))


MODEL_CARD = """---
license: mit
tags: [pytorch, gan, dcgan, image-generation, distributed-training, educational]
pipeline_tag: unconditional-image-generation
---

# GANNs with friends: a DCGAN trained by a class

![64 faces drawn by the generator at step {steps}](samples.png)

A [DCGAN](https://arxiv.org/abs/1511.06434) that draws 64x64 images of {num_channels} channels, trained on
{dataset} with GANNs with friends: a class's computers share the work through a PostgreSQL database.

## This run

| | |
|---|---|
| dataset | {dataset} ({dataset_size:,} images) |
| optimiser steps | {steps:,} |
| images seen | {images:,} ({epochs:.2f} epochs) |
| workers | {worker_count} |
| final Loss_D / Loss_G | {loss_d:.3f} / {loss_g:.3f} |
| final D(x) / D(G(z)) | {d_real:.3f} / {d_fake:.3f} |
| generator | feature maps {feature_maps}, {parameters:,} parameters, latent dimension 100 |
| training | {recipe}, {unit_size} images per work unit |
| exported | {date} |
{leaderboard}
The same 64 noise vectors, drawn every few steps over the run:

![Sample grids over the run](training.gif)

## Usage

```python
import torch
import torch.nn as nn

# checkpoint_latest.pth from this folder (from a model hub: download it first,
# e.g. huggingface_hub.hf_hub_download(repo_id=..., filename="checkpoint_latest.pth"))
checkpoint = torch.load("checkpoint_latest.pth", map_location="cpu", weights_only=True)

class Generator(nn.Module):
    def __init__(self, latent_dim=100, num_channels=3, feature_maps=64):
        super(Generator, self).__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, feature_maps * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(feature_maps * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(feature_maps * 8, feature_maps * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(feature_maps * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(feature_maps * 4, feature_maps * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(feature_maps * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(feature_maps * 2, feature_maps, 4, 2, 1, bias=False),
            nn.BatchNorm2d(feature_maps),
            nn.ReLU(True),
            nn.ConvTranspose2d(feature_maps, num_channels, 4, 2, 1, bias=False),
            nn.Tanh()
        )

    def forward(self, z):
        return self.main(z)

generator = Generator(num_channels={num_channels}, feature_maps={feature_maps})
generator.load_state_dict(checkpoint["generator_state_dict"])
generator.eval()

with torch.no_grad():
    noise = torch.randn(16, 100, 1, 1)
    fake_images = (generator(noise) + 1) / 2  # from [-1, 1] to [0, 1] for display
```

The checkpoint also holds `discriminator_state_dict`, both Adam states, the
step and the run's configuration.

## Limitations

64x64 pixels; GAN artefacts such as repeated faces (mode collapse) and
distorted features; quality depends on how long the class trained. Say that
images made with it are generated.
"""


def run_workers(args, config):
    """Who computed this checkpoint's run, from the database, if it still holds that run."""
    if not (args.db or os.environ.get("DATABASE_URL") or ganns.PGDATA.exists()):
        return []  # no database given, and none on this machine: nobody to ask (a --local run)
    try:
        conn = ganns.connect(ganns.database_url(args.db), "export")
    except SystemExit as error:
        log.warning("%s (the model card will not list the workers)", error)
        return []
    run = ganns.read_run(conn)
    if run is None or run["config"] != config:
        log.warning("the database holds no run with this checkpoint's configuration: the card lists no workers")
        return []
    return [w for w in ganns.leaderboard(conn) if w["units"]]


def recipe_in_words(config):
    """How the run trains, in words, for the model card (runs from before the recipe was recorded: the defaults)."""
    (beta1, beta2), steps = config.get("betas", ganns.BETAS), config.get("local_steps", 1)
    adam = f"Adam (lr {config.get('learning_rate', ganns.LEARNING_RATE)}, betas {beta1}, {beta2})"
    if steps > 1:
        how = f"{steps} local steps per unit on each worker (D, then G through the updated D), the changes averaged"
    else:
        how = f"gradients averaged, G against D one step ahead (lookahead {config.get('lookahead', 0)})"
    return f"{adam}, {config.get('loss', ganns.LOSS)}, {how} ({config.get('aggregation', ganns.AGGREGATION)})"


def model_card(checkpoint, last, workers):
    config = checkpoint["config"]
    names = [html.escape(printable(w["name"])).replace("|", "&#124;") for w in workers]  # free text: keep the table
    table = "".join(f"| {name} | {w['units']:,} | {w['images']:,} |\n" for name, w in zip(names, workers))
    averaged = ("; this generator and its samples: a moving average of its weights (--ema)"
                if "generator_trained_state_dict" in checkpoint else "")
    return MODEL_CARD.format(
        steps=checkpoint["step"], dataset=config["dataset"], dataset_size=config["dataset_size"],
        images=int(last["images"]), epochs=last["images"] / config["dataset_size"], date=time.strftime("%Y-%m-%d"),
        worker_count=len(workers) or "not recorded (a --local run, or the database no longer holds this run)",
        loss_d=last["loss_d"], loss_g=last["loss_g"], d_real=last["d_real"], d_fake=last["d_fake"],
        feature_maps=config["feature_maps"], unit_size=config["unit_size"], recipe=recipe_in_words(config) + averaged,
        num_channels=config.get("num_channels", ganns.NUM_CHANNELS),
        parameters=sum(p.numel() for p in ganns.build_models(config)[0].parameters()),
        leaderboard=f"\n| worker | units | images |\n|---|---|---|\n{table}" if workers else "")


def export(args):
    """coordinator.py --export DIR: a folder to upload to a model hub as it is."""
    checkpoint_path, history = args.out / "checkpoint_latest.pth", read_history(args.out / "history.csv")
    samples = sorted((args.out / "samples").glob("step_*.png"))
    if not (checkpoint_path.exists() and samples and history):
        raise SystemExit(f"nothing to export in {args.out}: train first, or give --out the run's folder")
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    folder = args.export
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint_path, folder / "checkpoint_latest.pth")
    shutil.copyfile(samples[-1], folder / "samples.png")
    frames = [Image.open(path).convert("RGB") for path in evenly_spaced(samples, 60)]
    frames[0].save(folder / "training.gif", save_all=True, append_images=frames[1:], loop=0,
                   duration=[250] * (len(frames) - 1) + [2000])  # hold the last grid
    workers = run_workers(args, checkpoint["config"])
    (folder / "README.md").write_text(model_card(checkpoint, history[-1], workers), encoding="utf-8")
    print(f"wrote {folder}: checkpoint_latest.pth (step {checkpoint['step']}), samples.png, "
          f"training.gif ({len(frames)} grids), README.md ({len(workers)} workers)")


if __name__ == "__main__":
    main()
