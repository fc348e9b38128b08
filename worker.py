"""A worker: claim a slice of images, train the GAN on it, upload how far the weights moved, repeat.

    python worker.py                      # join the run on this machine's local database
    python worker.py --db postgresql://student7:secret@class.example.org/ganns --name ada

The worker holds no state worth keeping: stop it at any time (Ctrl-C hands its
unit straight back) and start it again whenever you like.
"""

import argparse
import concurrent.futures
import logging
import signal
import socket
import threading
import time
from pathlib import Path

import psycopg2.errors
import torch

import ganns

log = logging.getLogger("ganns")


LATE_IN_A_ROW = 3  # changes too stale to be used, one after the other, before a worker gives up


class LeaseLost(Exception):
    """The unit's lease expired and it was handed to someone else: stop working on it."""


# ---------------------------------------------------------------------------
# The worker's loop: claim, compute, upload.
# ---------------------------------------------------------------------------

def work(conn, args, device, held):
    """The worker's loop, until the coordinator finishes the run. A thread computes one unit while this
    loop claims the next, fetches new weights and uploads the last unit's change: the database work
    overlaps the computing instead of adding to it (torch and psycopg2 both let go of Python's lock
    while they work). If it stops early, `held` lists the units it had claimed, to give back."""
    joined, current, next_job, waiting_since = {"run": None}, None, None, None
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        try:
            while True:
                if ganns.CTRL_C.is_set():
                    raise KeyboardInterrupt
                # 1. Claim the next unit (None: no work now).
                next_job = claim(conn, args, device, joined)
                # 2. Finish the current one: wait for the thread, meanwhile extending its lease and
                #    fetching new weights for the next.
                finished, blob = None, None
                if current:
                    try:
                        blob = wait_while_computing(conn, current, device, ahead=next_job)
                        current["computed"] = time.monotonic()
                        current["run"]["unit_seconds"] = current["computed"] - current["started"]
                        finished = current
                    except LeaseLost:
                        log.info("unit %d: lease lost (too slow?), moving on", current["unit"]["id"])
                # 3. Start the next one in the thread, on the newest weights.
                if next_job and next_job["stop"].is_set():
                    log.info("unit %d: lease lost before it started, moving on", next_job["unit"]["id"])
                    next_job = None
                current, next_job = next_job, None
                if current:
                    waiting_since = None
                    start_computing(thread, current)
                # 4. Upload the finished one while the next computes.
                if finished:
                    upload(conn, args, finished, blob)
                if current or finished:
                    continue
                run = ganns.read_run(conn)
                if run and run["status"] == "finished":
                    log.info("the run is finished: thank you!")
                    return
                if waiting_since is None:
                    log.info("waiting for work..." if run else "waiting for the coordinator to start a run...")
                    waiting_since = time.monotonic()
                ganns.wait_for_news(conn, 1)
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt):
                # Ctrl-C in a terminal reaches every process started from it, and the
                # coordinator passes it on too: a second one must not cut this clean-up short.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            for job in (current, next_job):
                if job:
                    job["stop"].set()  # the thread stops at its next mini-batch
                    held.append(job["unit"])
            raise


def claim(conn, args, device, joined):
    """The next unit, with weights at least as new as the run's version when it was claimed
    (None: there is no work now). joined["run"] is the run this worker takes part in."""
    run = ganns.read_run(conn)
    if run is None or run["status"] == "finished":
        return None
    if joined["run"] is None or run["id"] != joined["run"]["id"]:  # a first start, or the instructor's --reset
        joined["run"] = join_run(conn, args, run, device)
    unit = ganns.claim_unit(conn, args.name)
    if unit is None:
        return None
    if not newest_weights(conn, joined["run"], unit["version"], device):  # replaced while we claimed
        ganns.give_back_unit(conn, unit)
        return claim(conn, args, device, joined)
    return new_job(unit, joined["run"])


def start_computing(thread, job):
    """Compute the unit in the background, and label it with the version its weights came from.

    A unit starts before the last one is uploaded, so no published version holds the last unit's
    change yet: starting from one would do that work again, and the coordinator would apply both. So
    the worker applies its last change itself (ganns.apply_change, as the coordinator does) to where
    that unit started, or to a version published since its last upload, which holds its earlier ones.
    """
    run = job["run"]
    change, run["change"] = run["change"], None  # the last unit's, if it finished
    if change is None or run["latest"]["version"] > run["uploaded_at"]:
        load_version(run["models"], run["latest"]["state"])
        run["based_on"] = run["latest"]["version"]
    if change is not None:
        ganns.apply_change(run["models"], change)  # BatchNorm's statistics too
    job["unit"]["version"] = run["based_on"]  # the version its change is computed on, for the coordinator
    job["started"] = time.monotonic()
    job["future"] = thread.submit(compute_unit, run, job["unit"], job["stop"])


def compute_unit(run, unit, stop):
    """The unit's change as a blob (in the background thread). Setting the event `stop` ends it between
    two local steps."""
    def check_stop():
        if stop.is_set():
            raise LeaseLost()

    result = ganns.unit_change(run["models"], run["optimizers"], run["dataset"], unit, run["config"],
                               next(run["models"][0].parameters()).device, after_batch=check_stop)
    run["change"] = {"change": result["change"], "buffers": result["buffers"]}  # for the next unit
    return ganns.change_blob(result)


def upload(conn, args, job, blob):
    """Upload a unit's change (while the next unit computes) and say how it went. A worker whose
    changes keep arriving too late to be used stops, rather than computing them in vain for ever."""
    unit, images = job["unit"], len(job["unit"]["indices"])
    started = time.monotonic()
    run = ganns.read_run(conn) or {"version": unit["version"], "max_staleness": 0}  # read first: see below
    accepted = ganns.upload_change(conn, unit, args.name, blob)
    computing, uploading = job["computed"] - job["started"], time.monotonic() - started
    rate = images / max(computing, uploading)  # the slower of the two sets the pace
    ganns.worker_seen(conn, args.name, rate)
    if accepted:  # a version read after the upload could already hold it, and start_computing would wait
        job["run"]["uploaded_at"] = run["version"]  # for a later one for ever: only later versions hold it
    behind = run["version"] - unit["version"]
    late = accepted and behind > run["max_staleness"]
    outcome = (" -- refused: the lease was lost" if not accepted else "" if not late else
               f" -- too late: {behind} versions behind, the run uses changes at most {run['max_staleness']} behind")
    log.info("unit %d (epoch %d, version %d): %d images, %.1f s computing, %.1f s uploading, %.1f images/s%s",
             unit["id"], unit["epoch"], unit["version"], images, computing, uploading, rate, outcome)
    job["run"]["late"] = job["run"]["late"] + 1 if late else 0
    if job["run"]["late"] >= LATE_IN_A_ROW:
        raise SystemExit(f"this machine's last {LATE_IN_A_ROW} changes came back too late to be used "
                         f"({computing:.0f} s a unit, {behind} versions behind): others compute them again. "
                         f"Ask the instructor for a smaller --unit-size or a larger --max-staleness")


# ---------------------------------------------------------------------------
# Plumbing: joining a run, fetching weights, keeping leases.
# ---------------------------------------------------------------------------

def wait_while_computing(conn, job, device, ahead=None):
    """The blob of a unit computing in the background. Meanwhile: push its lease forward, and that of
    the unit claimed `ahead` of it (a unit can take longer than a lease), and fetch new weights for the
    next unit: one download per unit at most, and not before the unit is half done (going by the last
    one), or a class publishing a version every few seconds would fill every link with weights."""
    extend_at = time.monotonic() + ganns.LEASE_SECONDS / 4
    fetch_from = job["started"] + job["run"]["unit_seconds"] / 2
    news, fetched = False, False
    while True:
        if ganns.CTRL_C.is_set():
            raise KeyboardInterrupt
        try:
            return job["future"].result(timeout=0.02)  # look for news 50 times a second meanwhile
        except concurrent.futures.TimeoutError:
            pass
        news = ganns.news_arrived(conn) or news  # NOTIFY work: new weights, or units back in the queue
        if news and not fetched and time.monotonic() >= fetch_from:
            news, run = False, ganns.read_run(conn)
            if run and run["id"] == job["run"]["id"]:
                had = job["run"]["latest"]["version"]
                newest_weights(conn, job["run"], run["version"], device)  # False: gone already, wait for the next
                fetched = job["run"]["latest"]["version"] > had
        if time.monotonic() >= extend_at:
            extend_at = time.monotonic() + ganns.LEASE_SECONDS / 4
            for held in (job, ahead):
                if held and not ganns.extend_lease(conn, held["unit"]):
                    held["stop"].set()  # someone else has the unit now: stop computing it, or never start it


def newest_weights(conn, run, version, device):
    """Make sure run["latest"] holds weights `version` or newer; False if that version is already gone."""
    if run["latest"] and run["latest"]["version"] >= version:
        return True
    state = fetch_version(conn, version, device)
    if state is None:
        return False
    run["latest"] = {"version": version, "state": state}
    return True


def fetch_version(conn, version, device):
    """A weights version's state dicts; None if it has been replaced and deleted. (They fit this worker's
    models: join_run checked that its ganns.py builds the coordinator's.)"""
    blob = ganns.read_weights(conn, version)
    return None if blob is None else ganns.from_blob(blob, device)


def load_version(models, state):
    for model, key in zip(models, ganns.MODELS):
        model.load_state_dict(state[key])


def join_run(conn, args, run, device):
    """What a worker needs for a run: the dataset, the models, and its name on the leaderboard."""
    config = run["config"]
    different = ganns.differences(config, ganns.recipe())
    if different:
        raise SystemExit(f"this worker's ganns.py differs from the coordinator's in {', '.join(different)}: "
                         f"its changes would mix two recipes in one run. Use the instructor's ganns.py "
                         f"(or make the same change), then start again")
    dataset = open_run_dataset(config, args.data)
    ganns.register_worker(conn, ganns.machine_info(args.name, device))
    log.info("joined run %d: %s, %s images, feature maps %d, on %s",
             run["id"], config["dataset"], f"{config['dataset_size']:,}", config["feature_maps"], device)
    models = ganns.build_models(config, device)
    return {"id": run["id"], "config": config, "dataset": dataset, "models": models,
            "optimizers": ganns.build_optimizers(models),  # Adam's state, kept from unit to unit
            "latest": None,     # the newest version fetched: {"version": ..., "state": its state dicts}
            "based_on": None,   # the published version the models' weights started from
            "change": None,     # the last unit's {"change", "buffers"}, to apply before the next
            "uploaded_at": -1,  # the run's version when this worker's last change was stored
            "unit_seconds": 0,  # how long the last unit took to compute
            "late": 0}          # changes in a row that came back too stale to be used


def new_job(unit, run):
    """A unit in this worker's hands, from its claim to its upload."""
    return {"unit": unit, "run": run,
            "stop": threading.Event(),  # set: stop computing it (its lease is lost, or Ctrl-C)
            "started": None,            # time.monotonic() when it started computing
            "future": None,             # its blob, computing in the background thread
            "computed": None}           # time.monotonic() when the blob was ready


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


# ---------------------------------------------------------------------------
# The command line.
# ---------------------------------------------------------------------------

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=ganns.HelpWithDefaults)
    parser.add_argument("--db", metavar="URL", help="PostgreSQL URL of the class's database; if not given: "
                                                    "$DATABASE_URL, else the local database in ./pgdata")
    parser.add_argument("--name", metavar="NAME",
                        help="your name on the leaderboard; if not given: this computer's name")
    parser.add_argument("--data", metavar="PATH",
                        help="where this machine has the run's dataset; if not given: the built-in "
                                       "dataset, or data/<the run's file>, e.g. data/img_align_celeba.zip")
    parser.add_argument("--device", metavar="NAME", default="auto",
                        help="cuda, mps, cpu, or auto (the first available)")
    parser.add_argument("--threads", metavar="N", type=ganns.whole_number(0), default=0,
                        help="CPU threads for torch (0: torch's default)")
    args = parser.parse_args(argv)
    args.name = args.name or socket.gethostname()
    return args


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
        while True:
            held = []
            try:
                ganns.execute(conn, ganns.LISTEN_WORK)
                return work(conn, args, device, held)
            except ganns.CONNECTION_LOST as error:  # the server restarted, Wi-Fi dropped: connect again
                log.warning("lost the database (%s): reconnecting", ganns.first_line(error))
                conn = ganns.connect(url, f"worker {args.name}", patient=True)
            finally:
                for unit in held:  # free them at once instead of when their lease runs out
                    try:
                        ganns.give_back_unit(conn, unit)
                    except ganns.CONNECTION_LOST:
                        pass  # their leases run out and the coordinator requeues them
    except KeyboardInterrupt:
        log.info("stopped; the units in hand went back to the queue")
    except psycopg2.errors.InsufficientPrivilege as error:  # not (or no longer) a member of ganns_worker
        raise SystemExit(f"the database refused this login ({ganns.first_line(error)}): "
                         f"ask the instructor whether it may take part") from None


if __name__ == "__main__":
    main()
