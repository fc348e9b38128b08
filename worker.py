"""A worker: claim a slice of images, compute the GAN's gradients on it, upload them, repeat.

    python worker.py                      # join the run on this machine's local database
    python worker.py --db postgresql://student7:secret@class.example.org/ganns --name ada

The worker holds no state worth keeping: stop it at any time (Ctrl-C hands its
unit straight back) and start it again whenever you like.
"""

import argparse
import logging
import socket
import time
from pathlib import Path

import psycopg2.errors
import torch

import ganns

log = logging.getLogger("ganns")


class LeaseLost(Exception):
    """The unit's lease expired and it was handed to someone else: stop working on it."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL of the class's database; if not given: "
                                                    "$DATABASE_URL, else the local database in ./pgdata")
    parser.add_argument("--name", default=socket.gethostname(), help="your name on the leaderboard")
    parser.add_argument("--data", help="where this machine has the run's dataset; if not given: the built-in "
                                       "dataset, or data/<the run's file>, e.g. data/img_align_celeba.zip")
    parser.add_argument("--batch-size", type=ganns.whole_number(1), default=ganns.BATCH_SIZE,
                        help="images per forward pass; lower it if memory runs out")
    parser.add_argument("--device", default="auto", help="cuda, mps, cpu, or auto (the first available)")
    parser.add_argument("--threads", type=ganns.whole_number(0), default=0,
                        help="CPU threads for torch (0: torch's default)")
    return parser.parse_args(argv)


def open_run_dataset(config, given):
    """The run's dataset on this machine, checked against what the run trains on."""
    spec = given or config["dataset"]
    if not given and config["dataset"] != ganns.BUILTIN_DATASET:
        spec = str(Path("data") / config["dataset"])
    if spec != ganns.BUILTIN_DATASET and not Path(spec).exists():
        raise SystemExit(f"this run trains on {config['dataset']}, which is not at {spec}: download it there, "
                         f"or give --data with where it is on this machine")
    dataset = ganns.open_dataset(spec, config["max_images"])
    if dataset.name != config["dataset"] or len(dataset) != config["dataset_size"]:
        raise SystemExit(f"this run trains on {config['dataset']} ({config['dataset_size']:,} images) but "
                         f"{spec} is {dataset.name} ({len(dataset):,} images): "
                         f"start the worker with --data pointing at the run's dataset")
    return dataset


def load_version(conn, generator, discriminator, version, device):
    """Download a weights version (once: the models keep it until the next version)."""
    blob = ganns.read_weights(conn, version)
    if blob is None:
        return False  # already replaced by a newer version; claim again
    try:
        state = ganns.load_blob(blob, device)
        ganns.check_weights(state, (generator, discriminator))
    except ValueError as error:
        raise SystemExit(f"the run's weights (version {version}) do not fit this worker's model: {error}. "
                         f"Run the same version of ganns.py as the coordinator") from None
    generator.load_state_dict(state["generator"])
    discriminator.load_state_dict(state["discriminator"])
    return True


def compute_unit(conn, args, models, dataset, unit, device):
    """The unit's gradients as a blob, pushing the lease forward between mini-batches."""
    last_extended = time.monotonic()

    def keep_lease():
        nonlocal last_extended
        if time.monotonic() - last_extended > ganns.LEASE_SECONDS / 4:
            if not ganns.extend_lease(conn, unit):
                raise LeaseLost()
            last_extended = time.monotonic()

    result = ganns.unit_gradients(*models, dataset, unit, args.batch_size, device, after_batch=keep_lease)
    return ganns.to_blob(result)


def work(conn, args, device):
    """The worker's loop: runs until the coordinator finishes the run."""
    run_id, version, waiting_since = None, None, None
    while True:
        run = ganns.read_run(conn)
        if run and run["status"] == "finished":
            log.info("the run is finished: thank you!")
            return
        unit = ganns.claim_unit(conn, args.name) if run else None
        if unit is None:
            if waiting_since is None:
                log.info("waiting for work..." if run else "waiting for the coordinator to start a run...")
                waiting_since = time.monotonic()
            time.sleep(1)
            continue
        waiting_since = None

        try:
            # A new run (first start, or the instructor's --reset): new model, maybe new data.
            if run["id"] != run_id:
                config = run["config"]
                dataset = open_run_dataset(config, args.data)
                models = ganns.build_models(config, device)
                run_id, version = run["id"], None
                ganns.register_worker(conn, ganns.machine_info(args.name, device))
                log.info("joined run %d: %s, %s images, feature maps %d, on %s",
                         run_id, config["dataset"], f"{config['dataset_size']:,}", config["feature_maps"], device)
            if unit["version"] != version:
                if not load_version(conn, *models, unit["version"], device):
                    ganns.give_back_unit(conn, unit)
                    continue
                version = unit["version"]

            started = time.monotonic()
            blob = compute_unit(conn, args, models, dataset, unit, device)
            computed = time.monotonic()
            accepted = ganns.upload_gradient(conn, unit, args.name, blob)
            uploaded = time.monotonic()
            ganns.worker_seen(conn, args.name, len(unit["indices"]) / (uploaded - started))
        except LeaseLost:
            log.info("unit %d: lease lost (too slow?), moving on", unit["id"])
            continue
        except BaseException:
            ganns.give_back_unit(conn, unit)  # Ctrl-C or a crash: free the unit at once
            raise

        images = len(unit["indices"])
        log.info("unit %d (epoch %d, version %d): %d images, %.1f s computing, %.1f s uploading, %.1f images/s%s",
                 unit["id"], unit["epoch"], version, images, computed - started, uploaded - computed,
                 images / (uploaded - started), "" if accepted else " -- refused: the lease was lost")


def main(argv=None):
    args = parse_args(argv)
    ganns.setup_logging(args.name)
    ganns.stop_on_ctrl_c_and_kill()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = ganns.pick_device(args.device)
    url = ganns.database_url(args.db)
    conn = ganns.connect(url, f"worker {args.name}")
    log.info("worker %s on %s, connected to %s", args.name, device, ganns.describe_url(url))
    try:
        ganns.check_schema(conn)
        work(conn, args, device)
    except KeyboardInterrupt:
        log.info("stopped; the unit in hand went back to the queue")
    except psycopg2.errors.InsufficientPrivilege as error:  # not (or no longer) a member of ganns_worker
        raise SystemExit(f"the database refused this login ({ganns.first_line(error)}): "
                         f"ask the instructor whether it may take part") from None


if __name__ == "__main__":
    main()
