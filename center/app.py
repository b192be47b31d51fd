"""The centre's Datasette: center/metadata.yaml, the plugin and the templates on a database
(`serve` runs it)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from core.platforms import PLATFORMS

CENTER = Path(__file__).resolve().parent
METADATA = CENTER / "metadata.yaml"
PLUGINS = CENTER / "plugins"
TEMPLATES = CENTER / "templates"


def datasette_metadata(db_path: str | Path, sql: bool = False) -> dict:
    """center/metadata.yaml applied to this database (re-keyed from `smc` to its name)."""
    import yaml

    meta = yaml.safe_load(_with_platforms(METADATA.read_text(encoding="utf-8")))
    name = Path(db_path).stem
    databases = meta.get("databases", {})
    if "smc" in databases and name != "smc":
        databases[name] = databases.pop("smc")
        meta["description_html"] = meta.get("description_html", "").replace(
            'href="/smc/', f'href="/{name}/')
    meta["allow_sql"] = bool(sql)
    return meta


def _with_platforms(text: str) -> str:
    """The metadata with the platforms of the registry where it names them."""
    keys = [p.key for p in PLATFORMS]
    return text.replace("{platform_keys}", ", ".join(keys[:-1]) + " or " + keys[-1]).replace(
        "{platform_names}", ", ".join(p.name_en for p in PLATFORMS))


def build_datasette(db_path: str | Path, sql: bool = False) -> Any:
    """A Datasette on the database, mutable (the collector may write while it serves)."""
    from datasette.app import Datasette

    # No suggested facets: each is a GROUP BY over a whole table or view (at a million
    # opinions, seconds per page); the metadata's facets and ?_facet= are all shown.
    settings = {"default_allow_sql": bool(sql), "facet_time_limit_ms": 500,
                "sql_time_limit_ms": 3000, "default_page_size": 50, "suggest_facets": False}
    return Datasette(
        files=[str(db_path)], metadata=datasette_metadata(db_path, sql),
        plugins_dir=str(PLUGINS), template_dir=str(TEMPLATES), settings=settings,
    )
