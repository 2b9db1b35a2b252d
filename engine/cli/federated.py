"""``candor federated server|join|simulate``: federated fine-tuning on Flower (issue 18).

A site's data are the Candor home the rest of the CLI uses (``CANDOR_HOME`` or the user data
folder): its model store and its correction queue. Only weight tensors and counts leave it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("federated", help="federated fine-tuning across sites (Flower)",
                       description="Fine-tune one model across sites: every site trains on its own "
                                   "correction queue and sends only weights and counts.")
    fsub = p.add_subparsers(dest="federated_command", required=True, metavar="COMMAND")

    s = fsub.add_parser("server", help="coordinate a federation (aggregates the sites' updates)")
    _server_options(s)
    s.add_argument("--address", default="0.0.0.0:8080", metavar="HOST:PORT", help="listen here (default 0.0.0.0:8080)")
    s.add_argument("--certificates", type=Path, metavar="DIR",
                   help="TLS: a folder with ca.crt, server.pem and server.key")
    s.add_argument("--report", metavar="REPORT.json", help="write the rounds' report (JSON) here")
    s.add_argument("--save-global", type=Path, metavar="FILE.npz",
                   help="also keep the last global model's weight arrays here (the coordinator's copy)")
    s.set_defaults(func=_server)

    j = fsub.add_parser("join", help="take part with this site's correction queue and model")
    j.add_argument("--server", required=True, metavar="HOST:PORT")
    j.add_argument("--site-name", metavar="NAME",
                   help="a local label for this site's logs (never sent: the server assigns pseudonyms)")
    j.add_argument("--model", metavar="NAME", help="model to fine-tune (default: the default model)")
    j.add_argument("--tolerance", type=float, default=0.02,
                   help="largest allowed drop of Dice on this site's regression set (default 0.02)")
    j.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    j.add_argument("--root-certificate", type=Path, metavar="CA.crt", help="TLS: the federation's CA certificate")
    j.set_defaults(func=_join)

    m = fsub.add_parser("simulate", help="run N generated sites on this machine (loopback)")
    _server_options(m)
    m.add_argument("--sites", type=int, default=3, metavar="N")
    m.add_argument("--corrections", type=int, default=4, metavar="N", help="queued corrections per site (default 4)")
    m.add_argument("--workdir", type=Path, metavar="DIR", help="keep the sites' homes here (default: a temporary folder)")
    m.add_argument("--report", required=True, metavar="REPORT.json")
    m.set_defaults(func=_simulate)


def _server_options(p) -> None:
    p.add_argument("--rounds", type=int, default=3, metavar="R")
    p.add_argument("--min-sites", type=int, default=2, metavar="N", help="sites to wait for before round 1")
    p.add_argument("--strategy", choices=("fedavg", "fedprox"), default="fedavg")
    p.add_argument("--proximal-mu", type=float, default=0.1, help="FedProx's proximal weight (default 0.1)")
    p.add_argument("--local-epochs", type=int, default=2, metavar="N", help="site epochs per round (default 2)")
    p.add_argument("--steps-per-epoch", type=int, default=10, metavar="N")
    p.add_argument("--lr", type=float, default=1e-4, help="the sites' AdamW learning rate (default 1e-4)")
    p.add_argument("--dp-noise", type=float, default=0.0, metavar="SIGMA",
                   help="differential privacy: clip updates and add Gaussian noise of this multiplier (default 0: off)")
    p.add_argument("--dp-clip", type=float, default=1.0, metavar="NORM", help="clipping norm with --dp-noise")


def _settings(args):
    from engine.errors import InputError
    from engine.federated.server import ServerSettings

    if args.rounds < 1 or args.min_sites < 1 or args.local_epochs < 1 or args.steps_per_epoch < 1:
        raise InputError("--rounds, --min-sites, --local-epochs and --steps-per-epoch must be at least 1")
    min_sites = args.min_sites if not hasattr(args, "sites") else args.sites
    return ServerSettings(rounds=args.rounds, min_sites=min_sites, strategy=args.strategy,
                          proximal_mu=args.proximal_mu, epochs=args.local_epochs,
                          steps_per_epoch=args.steps_per_epoch, lr=args.lr, dp_noise=args.dp_noise, dp_clip=args.dp_clip)


def _write(report: dict, path: str | None) -> None:
    if path:
        Path(path).write_text(json.dumps(report, indent=1), encoding="utf-8")


def _server(args: argparse.Namespace) -> int:
    from engine.federated.server import run_server

    report = run_server(_settings(args), args.address, args.certificates, keep_weights=args.save_global)
    _write(report, args.report)
    print(f"federation done: {len(report['rounds'])} round(s), strategy {report['strategy']}", file=sys.stderr)
    return 0


def _join(args: argparse.Namespace) -> int:
    import logging

    import flwr as fl

    from engine.corrections.finetune_train import FinetuneConfig
    from engine.federated.site import SiteClient

    # the site's progress on stderr even without -v (``run`` configured WARNING): force replaces it
    logging.basicConfig(level=logging.INFO, format=f"[{args.site_name or 'site'}] %(message)s", force=True)
    client = SiteClient(args.model, FinetuneConfig(tolerance=args.tolerance), device=args.device)
    root = args.root_certificate.read_bytes() if args.root_certificate else None
    fl.client.start_client(server_address=args.server, client=client.to_client(),
                           root_certificates=root, insecure=root is None, max_retries=30, max_wait_time=120)
    last = client.rounds[-1] if client.rounds else None
    if last is None:
        print("the federation ended before this site evaluated a round", file=sys.stderr)
        return 1
    print(f"round {last['round']}: gate {last['gate']}; {last['reason']}", file=sys.stderr)
    if last["installed"]:
        print(f"new version {client.manifest.name}@{last['installed']} is now active (roll back: "
              f"candor models use {client.manifest.name}@{client.manifest.version})", file=sys.stderr)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from engine.errors import InputError
    from engine.federated.simulate import simulate

    if args.sites < 1 or args.corrections < 2:
        raise InputError("--sites must be at least 1 and --corrections at least 2")
    report = simulate(args.sites, _settings(args), corrections=args.corrections, workdir=args.workdir)
    _write(report, args.report)
    gates = [s["status"]["last"]["gate"] if s["status"] else "no answer" for s in report["sites"]]
    print(f"{args.sites} site(s), {len(report['rounds'])} round(s): gates {', '.join(gates)}", file=sys.stderr)
    return 0
