"""The coordinator: cut epochs into work units, average the workers' gradients, step, publish.

    python coordinator.py --local-workers 2   # everything on this machine: database, coordinator, 2 workers
    python coordinator.py --db postgresql://teacher:secret@class.example.org/ganns --units-per-step 8
    python coordinator.py --local             # no database at all: plain single-machine training

Kill it at any moment and start it again with the same command: it resumes
from the last published version, Adam's moments included. --reset starts over.
"""

import argparse
import csv
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import torchvision.utils

import ganns

log = logging.getLogger("ganns")

POLL_SECONDS = 1.0        # the longest wait between looks at the queue (a NOTIFY cuts it short)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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
    parser.add_argument("--unit-size", type=positive, default=ganns.UNIT_SIZE, help="images per work unit")
    parser.add_argument("--units-per-step", type=positive, default=ganns.UNITS_PER_STEP,
                        help="step once this many gradients are in (more, if more arrived meanwhile)")
    parser.add_argument("--max-staleness", type=natural, default=ganns.MAX_STALENESS,
                        help="use gradients computed on weights up to this many versions old")
    parser.add_argument("--gradient-dtype", choices=["bfloat16", "float32"], default=ganns.GRADIENT_DTYPE,
                        help="how workers send gradients: bfloat16 is half the bytes")
    parser.add_argument("--epochs", type=positive, default=ganns.EPOCHS, help="stop after this many epochs")
    parser.add_argument("--steps", type=natural, default=0, help="stop after this many steps (0: no limit)")
    parser.add_argument("--sample-every", type=positive, default=20,
                        help="steps between sample grids, checkpoints and history rows")
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for samples and checkpoints")
    # Below 2**31: the units' noise seeds, (seed * 1000 + epoch) * 1,000,000 + position, must fit a BIGINT.
    parser.add_argument("--seed", type=ganns.whole_number(0, 2**31 - 1), default=ganns.SEED,
                        help="seeds the model, the shuffles and the noise")
    return parser.parse_args(argv)


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


def save_checkpoint(path, models, optimizers, config, step):
    """The model card's format (generator_state_dict, ...) plus what resuming needs."""
    checkpoint = {"generator_state_dict": models[0].state_dict(),
                  "discriminator_state_dict": models[1].state_dict(),
                  "optimizer_g_state_dict": optimizers[0].state_dict(),
                  "optimizer_d_state_dict": optimizers[1].state_dict(),
                  "step": step, "config": config}
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


class Progress:
    """Rates, the ETA, the step's log line and, every few steps, the files in out/."""

    def __init__(self, args, config, models, optimizers, images_so_far):
        self.args, self.config, self.models, self.optimizers = args, config, models, optimizers
        self.started, self.images_at_start = time.monotonic(), images_so_far
        self.noise = torch.randn(64, config["latent_dim"], 1, 1, generator=torch.Generator().manual_seed(config["seed"]))

    def report(self, stats):
        args, size = self.args, self.config["dataset_size"]
        rate = (stats["images"] - self.images_at_start) / max(time.monotonic() - self.started, 1e-9)
        remaining = args.epochs * size - stats["images"]
        if args.steps:
            remaining = min(remaining, (args.steps - stats["step"]) * args.units_per_step * self.config["unit_size"])
        eta = time.strftime("%H:%M:%S", time.gmtime(max(remaining, 0) / rate)) if rate > 0 else "?"
        log.info("step %d | epoch %.2f | %s images | Loss_D %.3f Loss_G %.3f D(x) %.3f D(G(z)) %.3f "
                 "| workers %d | %.1f images/s | ETA %s",
                 stats["step"], stats["images"] / size, f"{stats['images']:,}",
                 stats["loss_d"], stats["loss_g"], stats["d_real"], stats["d_fake"], stats["workers"], rate, eta)
        self.rate = rate
        if stats["step"] % args.sample_every == 0:
            self.save(stats)

    def save(self, stats):
        """A sample grid, the checkpoint and a row of history.csv; a full disk costs a warning, not the run."""
        out, generator = self.args.out, self.models[0]
        try:
            save_samples(generator, self.noise.to(next(generator.parameters()).device),
                         out / "samples" / f"step_{stats['step']:06d}.png")
            save_checkpoint(out / "checkpoint_latest.pth", self.models, self.optimizers, self.config, stats["step"])
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


# ---------------------------------------------------------------------------
# Local mode: the same step code with a loop where the database would be.
# ---------------------------------------------------------------------------

def train_locally(args):
    dataset = ganns.open_dataset(args.data, args.max_images)
    config = ganns.run_config(args.feature_maps, dataset, args.max_images, args.unit_size, args.seed)
    device = ganns.pick_device()
    models = ganns.build_models(config, device)
    optimizers = ganns.build_optimizers(*models)
    progress = Progress(args, config, models, optimizers, 0)
    log.info("training locally on %s: %s images, feature maps %d, on %s",
             dataset.name, f"{len(dataset):,}", args.feature_maps, device)
    step, images_so_far, stats = 0, 0, None
    for epoch in range(1, args.epochs + 1):
        units = ganns.epoch_units(len(dataset), args.unit_size, epoch, args.seed)
        for start in range(0, len(units), args.units_per_step):
            if args.steps and step >= args.steps:
                break
            batch = units[start:start + args.units_per_step]
            parts = ((ganns.unit_gradients(*models, dataset, u, device=device), len(u["indices"])) for u in batch)
            average, images = ganns.average_units(parts)
            ganns.apply_step(*models, optimizers, average)
            step, images_so_far = step + 1, images_so_far + images
            stats = {"step": step, "epoch": epoch, "images": images_so_far, **average["metrics"], "workers": 1}
            progress.report(stats)
    progress.finish(stats)


# ---------------------------------------------------------------------------
# Distributed mode.
# ---------------------------------------------------------------------------

def start_or_resume(conn, args):
    """The run in the database, resumed; or a new one if there is none or --reset was given."""
    dataset = ganns.open_dataset(args.data, args.max_images)
    config = ganns.run_config(args.feature_maps, dataset, args.max_images, args.unit_size, args.seed,
                              args.gradient_dtype)
    models = ganns.build_models(config)
    optimizers = ganns.build_optimizers(*models)
    run = ganns.read_run(conn)
    if run and not args.reset:
        if run["config"] != config:
            differences = ", ".join(f"{key} {run['config'].get(key)} (you gave {value})"
                                    for key, value in config.items() if run["config"].get(key) != value)
            raise SystemExit(f"the database holds a run with {differences}: start with the same options "
                             f"to resume it, or add --reset to start a new run")
        state = ganns.from_blob(ganns.read_weights(conn, run["version"]))
        optimizer_state = ganns.from_blob(ganns.read_optimizer(conn, run["version"]))
        for model, opt, key in zip(models, optimizers, ("generator", "discriminator")):
            model.load_state_dict(state[key])
            opt.load_state_dict(optimizer_state[key])
        ganns.resume_run(conn)
        log.info("resuming run %d at version %d", run["id"], run["version"])
    else:
        run = ganns.start_run(conn, config, ganns.weights_blob(*models), ganns.optimizer_blob(optimizers))
        log.info("started run %d on %s: %s images, feature maps %d",
                 run["id"], dataset.name, f"{len(dataset):,}", args.feature_maps)
    return run, models, optimizers


def refuse(conn, row, reason):
    log.warning("refused the gradient of unit %d from %s: %s; the unit goes back to the queue",
                row["unit_id"], row["worker"], reason)
    ganns.refuse_gradient(conn, row["id"])


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


def take_step(conn, models, optimizers, ready, step, epoch, images_so_far):
    """Average the ready gradients that pass the checks, step, publish version `step`; None if none passed."""
    dtype = getattr(torch, ganns.read_run(conn)["config"]["gradient_dtype"])  # what the workers were told to send
    average, images, ready = average_good_gradients(conn, models, ready, dtype)
    if not ready:
        return None
    ganns.apply_step(*models, optimizers, average)
    stats = {"step": step, "epoch": epoch, "images": images_so_far + images, **average["metrics"],
             "workers": len({row["worker"] for row in ready})}
    ganns.publish_step(conn, step, [row["id"] for row in ready],
                       ganns.weights_blob(*models), ganns.optimizer_blob(optimizers), stats)
    return stats


def coordinate(conn, args, run, models, optimizers):
    """The coordinator's loop: queue epochs, step whenever enough gradients are in, until done."""
    config, version = run["config"], run["version"]
    last = ganns.read_last_step(conn)
    images_so_far = last["images"] if last else 0
    progress, stats = Progress(args, config, models, optimizers, images_so_far), None
    while not (args.steps and version >= args.steps):
        ganns.reap_expired_leases(conn)
        oldest = version - args.max_staleness
        ganns.requeue_stale(conn, oldest)
        queue = ganns.queue_state(conn)
        if queue["pending"] == 0 and queue["epoch"] < args.epochs:
            units = ganns.epoch_units(config["dataset_size"], config["unit_size"], queue["epoch"] + 1, config["seed"])
            ganns.add_units(conn, units)
            log.info("epoch %d: queued %d units of %d images", queue["epoch"] + 1, len(units), config["unit_size"])
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
                progress.report(stats)
        elif nothing_left:
            break
        else:
            ganns.wait_for_news(conn, POLL_SECONDS)
    ganns.finish_run(conn)
    progress.finish(stats)
    log.info("run finished at step %d", version)


def start_local_workers(url, count):
    """Worker processes on this machine, sharing its cores; the URL goes by environment, not argv (ps shows argv)."""
    threads = max(1, (os.cpu_count() or 2) // count)
    env = {**os.environ, "DATABASE_URL": url}
    worker = Path(__file__).resolve().with_name("worker.py")
    return [subprocess.Popen([sys.executable, str(worker), "--name", f"local-{i + 1}", "--threads", str(threads)],
                             env=env) for i in range(count)]


def stop_local_workers(workers):
    """Wait for the workers: they exit by themselves once the run is finished or they got a SIGINT."""
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except (subprocess.TimeoutExpired, KeyboardInterrupt):
            worker.send_signal(signal.SIGINT)
            worker.wait()


def main(argv=None):
    args = parse_args(argv)
    ganns.setup_logging("coordinator")
    ganns.stop_on_ctrl_c_and_kill()
    if args.local:
        return train_locally(args)
    url = ganns.database_url(args.db)
    conn = ganns.connect(url, "coordinator")
    log.info("coordinator connected to %s", ganns.describe_url(url))
    workers = []
    try:
        while True:
            try:
                ganns.check_schema(conn)
                ganns.create_schema(conn)
                ganns.listen(conn, ganns.LISTEN_GRADIENTS)
                run, models, optimizers = start_or_resume(conn, args)
                args.reset = False  # once: after a reconnect, resume what is in the database
                if args.local_workers and not workers:
                    workers = start_local_workers(url, args.local_workers)
                return coordinate(conn, args, run, models, optimizers)
            except ganns.CONNECTION_LOST as error:
                # Resume from the database: a step whose transaction did not commit never happened.
                log.warning("lost the database (%s): reconnecting", ganns.first_line(error))
                conn = ganns.connect(url, "coordinator", patient=True)
    except KeyboardInterrupt:
        log.info("stopped; start again with the same command to resume at the last version")
        for worker in workers:  # a `kill` reaches only this process: pass it on
            worker.send_signal(signal.SIGINT)
    finally:
        stop_local_workers(workers)


if __name__ == "__main__":
    main()
