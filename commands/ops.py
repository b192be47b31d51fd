"""Operations commands: `schedule` (the APScheduler daemon) and `import` (saved API pages)."""
from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from datetime import datetime, timedelta
from pathlib import Path

from commands.common import (
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    add_collect_options,
    check_origin,
    load_config,
    open_db,
    read_db,
    run_collect,
    under_run_lock,
)
from core.accounts import Account
from core.platforms import KEYS, PLATFORMS
from core.times import SEOUL
from pipeline.formats import Options, needs_video, pages_of
from pipeline.importer import NotJson, import_file, read_documents
from pipeline.normalizing import make_step
from pipeline.runner import SecretMissing, author_secret, for_account, load_tagger, platform_context
from pipeline.schedule import ScheduleConfig, build_scheduler
from store.grouping import refresh_groups
from store.writer import Writer

log = logging.getLogger("smc.ops")


# --- schedule ------------------------------------------------------------------------------
def cmd_schedule(args: argparse.Namespace) -> int:
    from pipeline.lock import EXIT_LOCKED, Locked, RunLock

    accounts = load_config(args)
    stop = threading.Event()
    lock = RunLock(args.db, wait_seconds=args.lock_wait)
    try:
        lock.acquire()  # held for the daemon's life: a cron `collect` cannot overlap it
    except Locked as exc:
        log.error("schedule not started: %s", exc)
        return EXIT_LOCKED

    def collect_job(key: str) -> None:
        job_args = argparse.Namespace(**{**vars(args), "account": [key], "platform": None})
        code, results = run_collect(job_args, simulate=args.simulate, stop=stop)
        for r in results:
            log.info("job collect %s: %s", key, r.status)

    scheduler = build_scheduler(
        accounts, collect_job, lambda: run_digest(args),
        ScheduleConfig(args.jitter, args.misfire_grace, args.digest_time))

    def on_signal(signum: int, frame: object) -> None:
        log.warning("%s: finishing the page in hand, committing, exiting",
                    signal.Signals(signum).name)
        stop.set()
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info("schedule: %d collect jobs and the digest at %s (Asia/Seoul)", len(accounts),
             args.digest_time)
    try:
        scheduler.start()
    finally:
        lock.release()
    return EXIT_OK


def run_digest(args: argparse.Namespace) -> None:
    """The morning job: yesterday's digest (Seoul)."""
    from digest.render import write_digest

    day = (datetime.now(SEOUL) - timedelta(days=1)).date()
    db = read_db(args)
    try:
        paths = write_digest(db, day, Path(args.digest_out))
    finally:
        db.conn.close()
    log.info("digest written: %s", ", ".join(str(p) for p in paths))


# --- import --------------------------------------------------------------------------------
def first_origin(path: Path, platform: str, options: Options) -> bool | None:
    """Whether the first page of a file is simulated (None: the file holds no page)."""
    for _, doc in read_documents(path):
        if isinstance(doc, NotJson):
            continue
        found = pages_of(platform, doc, options)
        if found.pages:
            if needs_video(found):
                raise UsageError(f"{path}: live chat messages that name no video: pass "
                                 "--post VIDEO_ID (the broadcast's video id)")
            return found.simulated
    return None


def cmd_import(args: argparse.Namespace) -> int:
    """Import saved files under the run lock (a collect or the daemon cannot overlap)."""
    return under_run_lock(args, "import", _import)


def _import(args: argparse.Namespace) -> int:
    accounts = load_config(args)
    files = [Path(f) for f in args.files]
    jobs = _accounts_of(args, accounts, files)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    options = Options(post=args.post, kind=args.kind)
    simulated = _origin(jobs, options)
    if args.demo_key and simulated is False:
        raise UsageError("--demo-key hashes authors with a public key, which anyone can "
                         "reverse from the public user ids: it is for simulated data only; "
                         "set SMC_AUTHOR_KEY to import real data")
    try:
        secret = author_secret(dict(os.environ), simulate=args.demo_key)
    except SecretMissing as exc:
        raise UsageError(str(exc)) from None
    writer = Writer(open_db(args))
    if simulated is not None:  # compliance output alone fits a database of either origin
        check_origin(writer, args.db, "simulated" if simulated else "live", "an import")
    writer.sync_accounts(accounts)
    tagger = load_tagger()
    bases = {p: platform_context(writer, accounts, p, secret, tagger)
             for p in dict.fromkeys(a.platform for a, _ in jobs)}
    failed = False
    step = make_step(_workers(args.workers, files))  # one set of workers for every file
    try:
        for account, path in jobs:
            ctx = for_account(bases[account.platform], account)
            ok, summary = import_file(writer, account, path, ctx, options, bool(simulated),
                                      step=step)
            print(summary, flush=True)
            failed |= not ok
    finally:
        step.close()
    writer.refresh_answers()
    refresh_groups(writer.db)  # near-duplicates (issue #19)
    return EXIT_FAILED if failed else EXIT_OK


AUTO_WORKER_BYTES = 8_000_000  # ~10k items: from here a worker repays its start (Kiwi, ~2 s)


def _workers(asked: int | None, files: list[Path]) -> int:
    """--workers, else 1 for large imports and 0 (normalize here) for small ones."""
    if asked is not None:
        return asked
    return int(sum(f.stat().st_size for f in files) >= AUTO_WORKER_BYTES)


def _accounts_of(args: argparse.Namespace, accounts: list[Account],
                 files: list[Path]) -> list[tuple[Account, Path]]:
    """Each file with its account: --account's, else the one its name starts with
    (`x_seoul.jsonl`, `x_seoul.2026-10.jsonl`: the name up to its first dot)."""
    by_key = {a.key: a for a in accounts}
    if args.account:
        account = by_key.get(args.account)
        if account is None:
            raise UsageError(f"{args.config}: unknown account {args.account!r}")
        named = [(account, f) for f in files]
    else:
        unnamed = [str(f) for f in files if f.name.split(".", 1)[0] not in by_key]
        if unnamed:
            raise UsageError(f"no --account, and these file names do not start with an "
                             f"account key and a dot (x_seoul.jsonl): {', '.join(unnamed)}")
        named = [(by_key[f.name.split(".", 1)[0]], f) for f in files]
    wrong = {a.key: a.platform for a, _ in named if args.platform and a.platform != args.platform}
    if wrong:
        on = ", ".join(f"{key} is on {platform}" for key, platform in sorted(wrong.items()))
        raise UsageError(f"account {on}, not {args.platform}")
    return named


def _origin(jobs: list[tuple[Account, Path]], options: Options) -> bool | None:
    """True when the files hold simulated data, False for real, None when they hold no
    data at all (compliance output only); mixed files are refused."""
    origins = {f: first_origin(f, a.platform, options) for a, f in jobs}
    kinds = {o for o in origins.values() if o is not None}
    if len(kinds) > 1:
        sim = ", ".join(str(f) for f, o in origins.items() if o)
        raise UsageError(f"these files hold simulated data and the others real data: {sim}; "
                         "import them into separate databases")
    return None if not kinds else kinds == {True}


# --- registration --------------------------------------------------------------------------
def register(sub: argparse._SubParsersAction) -> None:
    """Add `schedule` and `import`."""
    p = sub.add_parser("schedule", help="run as a daemon: per-account intervals, daily digest",
                       description="APScheduler daemon in Asia/Seoul: one job per account at its "
                                   "interval, the digest each morning. SIGTERM/SIGINT finish "
                                   "the page in hand, commit and exit 0.")
    p.add_argument("--simulate", action="store_true",
                   help="collect from the simulated platforms (for trying it out)")
    # A live broadcast is followed for most of each 5-minute run of the live chat account.
    add_collect_options(p, live_seconds=270)
    p.add_argument("--jitter", type=int, default=60, metavar="SECONDS",
                   help="random delay added to each job run (default 60)")
    p.add_argument("--misfire-grace", type=int, default=300, metavar="SECONDS",
                   help="a job later than this is skipped, not run late (default 300)")
    p.add_argument("--digest-time", default="07:30", metavar="HH:MM",
                   help="when to write yesterday's digest, Seoul time (default 07:30)")
    p.add_argument("--digest-out", default="out/digest", metavar="DIR",
                   help="where the digest files go (default out/digest)")
    p.add_argument("--lock-wait", type=float, default=10.0, metavar="SECONDS",
                   help="wait this long for another run's lock, then exit 75 (default 10)")
    p.set_defaults(func=cmd_schedule, account=None, platform=None, since=None,
                   full_refresh=False, record=None, replay=None)

    p = sub.add_parser(
        "import", help="ingest saved API output (JSON or JSONL, format detected)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Read saved API output through the same normalizers and store as "
                    "collect. The format of each page is detected, no wrapping needed:\n"
                    + "\n".join(f"  {line}" for line in IMPORT_FORMATS)
                    + "\nEach file is one run: items read = stored + quarantined + skipped "
                      "(status --json, table runs).\nExit 0 all stored, 1 some lines or "
                      "items failed (quarantined), 2 usage error (nothing written).")
    p.add_argument("--platform", choices=KEYS,
                   help="the platform the pages come from (default: the account's)")
    p.add_argument("--account", metavar="KEY",
                   help="the account (accounts.yaml key) the pages belong to (default: "
                        "each file's, named ACCOUNT.jsonl or ACCOUNT.anything.jsonl)")
    p.add_argument("--kind", default=None, choices=("post", "comment"),
                   help="force what the pages list (default: told from the items)")
    p.add_argument("--post", metavar="ID",
                   help="the video (YouTube live chat, comments.list) or Graph post the "
                        "file's items hang under, when the file does not say")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="normalizer processes beside this one, started once for all the "
                        "files (0: normalize in this process; default: 1 from 8 MB of "
                        "files on, else 0)")
    p.add_argument("--demo-key", action="store_true",
                   help="simulated data only: hash authors with the fixed demo key")
    p.add_argument("files", nargs="+", metavar="FILE", help="JSON or JSONL files of pages")
    p.set_defaults(func=cmd_import)


def _saved_formats() -> list[str]:
    """What import reads per platform (the registry's `saved` lines; platforms sharing them
    are named together)."""
    by_lines: dict[tuple[str, ...], list[str]] = {}
    for p in PLATFORMS:
        if p.reader and p.saved:
            by_lines.setdefault(p.saved, []).append(p.name_en)
    return [f"{', '.join(names)}: {first}" if n == 0 else f"   {line}"
            for lines, names in by_lines.items() for first in lines[:1]
            for n, line in enumerate(lines)]


IMPORT_FORMATS = (
    *_saved_formats(),
    "Any platform: Airbyte record lines ({\"type\": \"RECORD\", ...} or bare records) and Singer",
    "   record lines around any of the above; STATE, LOG, SCHEMA lines are passed over",
)
