"""Export a run for a model hub: the checkpoint, its samples, a GIF of the training and a model card.

    python export.py hub/                  # from out/, the coordinator's folder
    python export.py hub/ --out class-out --db postgresql://teacher:secret@class.example.org/ganns

The folder can be uploaded as it is (for example with `huggingface-cli upload`).
The model card lists who computed the run when the database still holds it.
"""

import argparse
import html
import logging
import os
import shutil
import time
from pathlib import Path

import torch
from PIL import Image

import ganns

log = logging.getLogger("ganns")

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
| steps | {steps:,} |
| images seen | {images:,} ({epochs:.2f} epochs) |
| workers | {worker_count} |
| final Loss_D / Loss_G | {loss_d:.3f} / {loss_g:.3f} |
| final D(x) / D(G(z)) | {d_real:.3f} / {d_fake:.3f} |
| generator | feature maps {feature_maps}, {parameters:,} parameters, latent dimension 100 |
| training | {recipe} |
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

The checkpoint also holds `discriminator_state_dict`, the step, its losses and
the run's configuration.

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


def model_card(checkpoint, workers):
    config, stats = checkpoint["config"], checkpoint["stats"]
    names = [html.escape(ganns.printable(w["name"])).replace("|", "&#124;") for w in workers]  # keep the table
    table = "".join(f"| {name} | {w['units']:,} | {w['images']:,} |\n" for name, w in zip(names, workers))
    (beta1, beta2) = config["betas"]
    recipe = (f"Adam (lr {config['learning_rate']}, betas {beta1}, {beta2}), {config['loss']}; each worker takes "
              f"{config['local_steps']} local steps on a unit of {config['unit_size']} images (D, then G through "
              f"the updated D) and sends the change, the coordinator moves by their {config['aggregation']}")
    return MODEL_CARD.format(
        steps=stats["step"], dataset=config["dataset"], dataset_size=config["dataset_size"], images=stats["images"],
        epochs=stats["images"] / config["dataset_size"], date=time.strftime("%Y-%m-%d"),
        worker_count=len(workers) or "not recorded (a --local run, or the database no longer holds this run)",
        loss_d=stats["loss_d"], loss_g=stats["loss_g"], d_real=stats["d_real"], d_fake=stats["d_fake"],
        feature_maps=config["feature_maps"], recipe=recipe, num_channels=config["num_channels"],
        parameters=sum(p.numel() for p in ganns.build_models(config)[0].parameters()),
        leaderboard=f"\n| worker | units | images |\n|---|---|---|\n{table}" if workers else "")


def export(args):
    """A folder to upload to a model hub as it is."""
    checkpoint_path = args.out / "checkpoint_latest.pth"
    samples = sorted((args.out / "samples").glob("step_*.png"))
    if not (checkpoint_path.exists() and samples):
        raise SystemExit(f"nothing to export in {args.out}: train first, or give --out the run's folder")
    checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    folder = args.folder
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(checkpoint_path, folder / "checkpoint_latest.pth")
    shutil.copyfile(samples[-1], folder / "samples.png")
    frames = [Image.open(path).convert("RGB") for path in ganns.evenly_spaced(samples, 60)]
    frames[0].save(folder / "training.gif", save_all=True, append_images=frames[1:], loop=0,
                   duration=[250] * (len(frames) - 1) + [2000])  # hold the last grid
    workers = run_workers(args, checkpoint["config"])
    (folder / "README.md").write_text(model_card(checkpoint, workers), encoding="utf-8")
    print(f"wrote {folder}: checkpoint_latest.pth (step {checkpoint['step']}), samples.png, "
          f"training.gif ({len(frames)} grids), README.md ({len(workers)} workers)")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=ganns.HelpWithDefaults)
    parser.add_argument("folder", type=Path, help="where to write the model hub folder")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("out"),
                        help="the coordinator's --out: the run's files")
    parser.add_argument("--db", metavar="URL", help="the run's database, for the list of workers; if not given: "
                                                    "$DATABASE_URL, else the local database in ./pgdata")
    return parser.parse_args(argv)


def main(argv=None):
    ganns.setup_logging("export")
    export(parse_args(argv))


if __name__ == "__main__":
    main()
