"""`KEY=VALUE` overrides of a params tree, shared by the bench scripts that take them on the command line."""

from __future__ import annotations

import yaml


def set_dotted(tree: dict, key: str, text: str) -> None:
    """Set ``tree[a][b][c] = yaml(text)`` for ``key`` 'a.b.c', creating missing parents. Unknown names are
    caught where they belong: the params loader rejects keys it does not know."""
    *parents, leaf = key.split(".")
    node = tree
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = yaml.safe_load(text)
