"""The platform registry: every list of platforms in the project derives from PLATFORMS.

A platform is one collector, one normalizer and one simulator module, named here as
"module:attribute" strings so that this module, at the bottom of the house, imports none of
them (`load` resolves them when a caller needs the code). Adding a platform is one entry
below plus its three modules: see docs/CONTRIBUTING-PLATFORMS.md.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Quota:
    """A daily request budget in units, counted per day of the platform's own zone."""

    units: int  # the default budget (`collect --quota PLATFORM=UNITS` overrides it)
    zone: str  # the IANA zone whose midnight resets it


@dataclass(frozen=True)
class PlatformSpec:
    """What the rest of the project knows about a platform."""

    key: str  # accounts.yaml `platform:`, the `platform` column, the prefix of record ids
    name_ko: str  # shown to staff (digest, centre)
    name_en: str
    collector: str  # "module:Class": fetches pages (collectors/)
    normalizer: str  # "module:function": page -> per item, its records (normalize/), pure
    simulator: str  # "module:Server": the platform's API in our simulated world
    hosts: tuple[str, ...]  # API hosts the simulator answers for
    # "nested": a reply hangs under what it answers. "flat": threads are two levels deep, so
    # the city's answer to a follow-up is stored beside it (same parent), not under it.
    thread: Literal["nested", "flat"]
    # The server family faults are aimed at (`Fault(platform=...)`); platforms served by
    # one simulator module share it (Facebook and Instagram: "graph").
    family: str
    quota: Quota | None = None  # None: rate limits only, no daily unit budget
    # "module:function" turning a saved API response (dict) into pages for `import`, and
    # what it reads, as `import --help` lists it (platforms with the same lines share them).
    reader: str | None = None
    saved: tuple[str, ...] = ()
    # Served by the Graph API family whose versions are retired on a schedule (status warns).
    graph_versioned: bool = False
    # "module:Class" writing this platform's pages for the bulk world (bench); None: the
    # bulk world leaves its accounts out.
    bulk: str | None = None


_GRAPH_SAVED = ("Graph API pages (feed, comments, media; nested comments{...} too),",
                "?ids= batch responses, single objects, Instagram mentioned_comment / "
                "mentioned_media")

PLATFORMS: tuple[PlatformSpec, ...] = (
    PlatformSpec(
        key="x", name_ko="X", name_en="X",
        collector="collectors.x:XCollector", normalizer="normalize.x:normalize_items",
        simulator="simulator.x:Server", hosts=("api.twitter.com", "api.x.com"),
        thread="nested", family="x", reader="pipeline.formats:read_x",
        saved=("twarc2 search / timeline / conversation pages (X API v2 responses), twarc2 "
               "filter /", "sample stream lines, twarc2 flatten lines (tweet with `author`), "
               "single tweets"),
        bulk="simulator.bulk:XRender",
    ),
    PlatformSpec(
        key="facebook", name_ko="페이스북", name_en="Facebook",
        collector="collectors.facebook:FacebookCollector",
        normalizer="normalize.facebook:normalize_items",
        simulator="simulator.graph:Server", hosts=("graph.facebook.com",),
        thread="flat", family="graph", reader="pipeline.formats:read_graph", saved=_GRAPH_SAVED,
        graph_versioned=True, bulk="simulator.bulk:GraphRender",
    ),
    PlatformSpec(
        key="instagram", name_ko="인스타그램", name_en="Instagram",
        collector="collectors.instagram:InstagramCollector",
        normalizer="normalize.instagram:normalize_items",
        simulator="simulator.graph:Server", hosts=("graph.facebook.com",),
        thread="flat", family="graph", reader="pipeline.formats:read_graph", saved=_GRAPH_SAVED,
        graph_versioned=True, bulk="simulator.bulk:GraphRender",
    ),
    PlatformSpec(
        key="youtube", name_ko="유튜브", name_en="YouTube",
        collector="collectors.youtube:YouTubeCollector",
        normalizer="normalize.youtube:normalize_items",
        simulator="simulator.youtube:Server",
        hosts=("youtube.googleapis.com", "www.googleapis.com"),
        thread="flat", family="youtube", quota=Quota(10_000, "America/Los_Angeles"),
        reader="pipeline.formats:read_youtube", bulk="simulator.bulk:YouTubeRender",
        saved=("commentThreads.list, comments.list, liveChatMessages.list, videos.list pages",
               "(live chat: the video from --post VIDEO_ID or the page's videoId), single "
               "resources"),
    ),
    PlatformSpec(
        key="threads", name_ko="스레드(Threads)", name_en="Threads",
        collector="collectors.threads:ThreadsCollector",
        normalizer="normalize.threads:normalize_items",
        simulator="simulator.threads:Server", hosts=("graph.threads.net", "graph.threads.com"),
        # replies nest to any depth (`replied_to`), and /conversation serves them all; the
        # Korean name says "(Threads)": 스레드 alone is also the word for a thread
        thread="nested", family="threads", reader="collectors.threads:read_saved",
        saved=("Threads API /threads, /replies, /conversation pages, single posts or replies",),
    ),
)

BY_KEY: dict[str, PlatformSpec] = {p.key: p for p in PLATFORMS}
KEYS: tuple[str, ...] = tuple(BY_KEY)


def spec(key: str) -> PlatformSpec:
    """The spec of a platform key (KeyError names the known ones)."""
    try:
        return BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown platform {key!r} (known: {', '.join(KEYS)})") from None


def flat_threads() -> tuple[str, ...]:
    """Platforms whose threads are two levels deep."""
    return tuple(p.key for p in PLATFORMS if p.thread == "flat")


def families() -> tuple[str, ...]:
    """The simulator server families, each once, in registry order."""
    return tuple(dict.fromkeys(p.family for p in PLATFORMS))


def load(target: str) -> Any:
    """The object a "module:attribute" string names."""
    module_name, attr = target.split(":")
    return getattr(importlib.import_module(module_name), attr)


def sql_list(keys: tuple[str, ...]) -> str:
    """Platform keys as an SQL list literal: ('a', 'b') (keys are [a-z0-9_], checked)."""
    if not all(k.replace("_", "").isalnum() and k.islower() for k in keys):
        raise ValueError(f"platform keys must be lower-case [a-z0-9_]: {keys}")
    return "(" + ", ".join(f"'{k}'" for k in keys) + ")"
